"""`python3 -m s6py COMMAND ARGS...` (or a symlink named after a command)."""

from s6py.cli import exit_with, main

exit_with(main())

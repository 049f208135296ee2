"""`python3 -m s6py COMMAND ARGS...` (or a symlink named after a command)."""

import sys

from s6py.cli import main

sys.exit(main())

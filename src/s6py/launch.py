"""What the overlay's launcher does once it has found the package (build/overlay.py LAUNCHER).

The launcher is the first Python code of every command and of /init, and being run as
`__main__` it is compiled from source at every start.  So it keeps only what must come
first: blocking /init's signals, the Python version check, finding lib/, and the quick
paths of s6py.quick.  Everything else is here, where the importer caches its bytecode.
"""

import os
import sys


def launch(is_init):
    """Run the command named by sys.argv (or /init when IS_INIT); never returns."""
    if is_init:
        _raise_nofile()
        _precompile_boot()
    from s6py.cli import exit_with, main

    exit_with(main())


def _raise_nofile():
    """What /init's sh part does with `ulimit`, for where there is no sh (the bundle): PID 1
    holds fds per service, so the soft nofile limit goes up to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, OSError, ValueError):
        pass


def _precompile_boot():
    """A fresh container: the boot's modules compiled by a child, so that PID 1 loads
    bytecode and keeps none of the compiler's garbage (s6py/init/precompile.py)."""
    init_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init") + "/"
    tag, cache = sys.implementation.cache_tag, init_dir + "__pycache__"
    if (tag and not sys.dont_write_bytecode and os.path.exists(init_dir + "stage1.py")
            and not os.path.exists("%s/stage1.%s.pyc" % (cache, tag))
            and os.access(cache if os.path.isdir(cache) else init_dir, os.W_OK)):
        child = os.fork()
        if child == 0:
            try:
                from s6py.init.precompile import compile_boot
                compile_boot()
            finally:
                os._exit(0)
        os.waitpid(child, 0)

"""What the overlay's launcher does once it has found the package (build/overlay.py LAUNCHER).

The launcher is the first Python code of every command and of /init, and being run as
`__main__` it is compiled from source at every start.  So it keeps only what must come
first: blocking /init's signals, the Python version check, finding lib/, the quick paths
of s6py.quick, and, for /init in a fresh container, the child that compiles the boot
(s6py/init/precompile.py) before PID 1 imports anything of the package.  Everything else
is here, where the importer caches its bytecode.
"""


def launch(is_init):
    """Run the command named by sys.argv (or /init when IS_INIT); never returns."""
    if is_init:
        _raise_nofile()
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


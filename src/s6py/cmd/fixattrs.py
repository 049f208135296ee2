"""fix-attrs: apply fix-attrs.d rules (see s6py.init.fixattrs and docs/fix-attrs.md).

    fix-attrs              rules on standard input (s6-overlay 2: `fix-attrs < file`)
    fix-attrs FILE...      rules in each FILE ("-" is standard input)
    fix-attrs -d [DIR]     every file of DIR (default /etc/fix-attrs.d, or the
                           S6_RUNTIME_PROFILE one), announcing each as s6-overlay 3 does

Exit 0 if everything applied, 1 if a line was bad or a change failed (each reported on
one line), 100 on a usage error.  S6_FIX_ATTRS_HIDDEN=1 makes recursion include dot files.
"""

from s6py.diag import Reporter, usage, warn

PROG = "fix-attrs"
USAGE = "fix-attrs [ FILE... | -d [ DIR ] ]"


def main(argv):
    from s6py.init import fixattrs
    from s6py.init.settings import Paths, Settings

    settings = Settings.from_environ()
    for problem in settings.problems:
        if problem.startswith(("S6_FIX_ATTRS_HIDDEN", "S6_VERBOSITY")):
            warn(PROG, problem)
    args = argv[1:]
    if args and args[0] == "--":
        args = args[1:]

    say = Reporter(PROG, settings.verbosity)
    report = say.warn

    if args and args[0] == "-d":
        if len(args) > 2:
            usage(PROG, USAGE)
        directory = args[1] if len(args) == 2 else Paths.from_environ().user_dir("fix-attrs.d", settings.runtime_profile)

        def info(path):
            say.info("applying ", path)

        _, failures = fixattrs.apply_directory(directory, settings.fix_attrs_hidden, report, info)
    elif args and args[0].startswith("-") and args[0] != "-":
        usage(PROG, USAGE)
    else:
        failures = 0
        for path in args or ["-"]:
            failures += fixattrs.apply_file(path, settings.fix_attrs_hidden, report)
    return 1 if failures else 0

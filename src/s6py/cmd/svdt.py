"""s6-svdt [ -S | -s ] [ -n maxentries ] servicedir: print a service's death tally.

One line per recorded death of `run`, oldest first: `@TAI64N exitcode N` or
`@TAI64N signal SIGX` (`signal N` with -s).  Like s6 2.11, a missing or corrupt
supervise/death_tally is (re)created empty.
"""

import os

from s6py.cmd._options import parse, uint
from s6py.diag import fatal, strerror, usage

PROG = "s6-svdt"
USAGE = "s6-svdt [ -S | -s ] [ -n maxentries ] servicedir"


def main(argv):
    opts, args = parse(PROG, USAGE, argv, "Ssn:")
    from s6py.wire import deathtally

    numeric, limit = False, deathtally.MAX_MAX
    for o, v in opts:
        if o == "n":
            limit = uint(PROG, USAGE, v)
        else:
            numeric = o == "s"
    if not args:
        usage(PROG, USAGE)
    limit = min(limit, deathtally.MAX_MAX)
    if not limit:
        return 0
    try:
        records = deathtally.read_last(args[0], limit)
    except OSError as e:
        fatal(PROG, 111, "unable to read death tally for service ", args[0], ": ", strerror(e))
    from s6py.wire import tai64n

    lines = []
    for stamp, code, sig in records:
        if sig:
            if numeric:
                what = "signal %d" % sig
            else:
                from s6py.wire import signames

                what = "signal %s" % signames.name(sig)
        else:
            what = "exitcode %d" % code
        lines.append("%s %s\n" % (tai64n.label(stamp), what))
    try:
        data = "".join(lines).encode()
        while data:
            data = data[os.write(1, data):]
    except OSError as e:
        fatal(PROG, 111, "unable to write to stdout: ", strerror(e))
    return 0

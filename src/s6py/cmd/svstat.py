"""s6-svstat [ -uwNrpest | -o fields ] [ -n ] servicedir: print a service's state.

Without field options, the human line s6 2.11 prints:
    up (pid P) S seconds[, normally down][, paused][, want down][, ready R seconds]
    down (exitcode N|signal SIGX) S seconds[, normally up][, want up][, ready R seconds]
Exit 1 if no s6-supervise runs on servicedir, 100 on usage errors, 111 on system errors.
"""

import os

from s6py.cmd._options import parse
from s6py.diag import fatal, strerror, usage

PROG = "s6-svstat"
FIELDS_TEXT = ("up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,"
               "updownsince,readysince,updownfor,readyfor")
USAGE = "s6-svstat [ -uwNrpest | -o %s ] [ -n ] servicedir" % FIELDS_TEXT
MAXFIELDS = 16
#: short option -> field name
SHORT = {"u": "up", "w": "wantedup", "N": "normallyup", "r": "ready", "p": "pid",
         "e": "exitcode", "s": "signal", "t": "updownfor"}
FIELDS = frozenset(FIELDS_TEXT.split(","))


def main(argv):
    opts, args = parse(PROG, USAGE, argv, "no:uwNrpest")
    numeric = False
    fields = []
    for o, v in opts:
        if o == "n":
            numeric = True
            continue
        names = _split_fields(v) if o == "o" else [SHORT[o]]
        for name in names:
            if len(fields) >= MAXFIELDS:
                fatal(PROG, 100, "too many option fields")
            fields.append(name)
    if not args:
        usage(PROG, USAGE)
    service = args[0]

    from s6py.client import svstate
    from s6py.wire import control, status

    try:
        supervised = control.supervised(service)
    except OSError as e:
        fatal(PROG, 111, "unable to check ", service, ": ", strerror(e))
    if not supervised:
        # as s6 2.15 (s6-overlay 3.2's); Debian's 2.11 with skalibs 2.13 doubles the ": "
        fatal(PROG, 1, "unable to read status for ", service, ": s6-supervise not running")
    try:
        st = status.read(service)
    except (OSError, ValueError) as e:
        fatal(PROG, 111, "unable to read status for ", service, ": ",
              strerror(e) if isinstance(e, OSError) else os.strerror(32))
    down = service + "/down"
    try:
        os.stat(down)
        normallyup = False
    except FileNotFoundError:
        normallyup = True
    except OSError as e:
        fatal(PROG, 111, "unable to access ", down, ": ", strerror(e))

    state = svstate.State(st, normallyup)
    if fields:
        line = " ".join(state.field(name) for name in fields)
    else:
        line = state.human(numeric)
    try:
        os.write(1, (line + "\n").encode())
    except OSError as e:
        fatal(PROG, 111, "unable to write to stdout: ", strerror(e))
    return 0


def _split_fields(text):
    names = []
    while text:
        name, _, text = text.partition(",")
        if not name:
            fatal(PROG, 100, "invalid null option field")
        if name not in FIELDS:
            fatal(PROG, 100, "invalid option field: ", name)
        names.append(name)
    return names

"""s6-svscanctl [ -zabhitqnN ] svscandir: send letters to a running s6-svscan.

Like s6 2.11, the letters of older s6-svscan versions (p r s 0 6 7 8) are accepted and
passed on as well, though the usage line does not list them.
"""

from s6py.client import ClientError
from s6py.client.control import send_letters
from s6py.cmd._options import parse
from s6py.diag import fatal, usage
from s6py.wire.control import SVSCANCTL_LETTERS, SVSCANCTL_OLD_LETTERS

PROG = "s6-svscanctl"
USAGE = "s6-svscanctl [ -%s ] svscandir" % SVSCANCTL_LETTERS
MAXLETTERS = 64


def main(argv):
    opts, args = parse(PROG, USAGE, argv, SVSCANCTL_LETTERS + SVSCANCTL_OLD_LETTERS)
    if len(opts) > MAXLETTERS:
        fatal(PROG, 100, "too many commands")
    if not args:
        usage(PROG, USAGE)
    try:
        send_letters(args[0], ".s6-svscan", "".join(o for o, _ in opts), ". errno reported")
    except ClientError as e:
        fatal(PROG, e.code, e.message)
    return 0

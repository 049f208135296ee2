"""Option parsing with skalibs' subgetopt semantics (POSIX getopt: options stop at the
first operand or `--`, clustered letters, an option argument glued or separate).

Any parsing error is a usage error, as in every s6 tool.
"""

import getopt

from s6py.diag import usage


def parse(prog, usage_text, argv, optstring):
    """Return ([(letter, value), ...], operands) for argv[1:]; exit 100 on a bad option."""
    try:
        opts, args = getopt.getopt(argv[1:], optstring)
    except getopt.GetoptError:
        usage(prog, usage_text)
    return [(o[1], v) for o, v in opts], args


def uint(prog, usage_text, text):
    """skalibs' uint0_scan: the whole string is a decimal unsigned 32-bit number."""
    if not text or not text.isdigit() or not text.isascii():
        usage(prog, usage_text)
    value = int(text)
    if value >= 1 << 32:
        usage(prog, usage_text)
    return value

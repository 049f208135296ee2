"""Option parsing for the s6 client commands (s6-svc, s6-svstat, s6-svwait...), with
skalibs' subgetopt semantics (POSIX getopt: options stop at the first operand, at `-` or
after `--`; letters cluster; an option's argument is glued or the next word): `parse` is
s6py.diag.subgetopt.

Any parsing error is a usage error, as in every s6 tool.
"""

from s6py.diag import subgetopt as parse, usage

__all__ = ["parse", "uint", "wait_options"]


def uint(prog, usage_text, text):
    """skalibs' uint0_scan: the whole string is a decimal unsigned 32-bit number."""
    if not text or not text.isdigit() or not text.isascii():
        usage(prog, usage_text)
    value = int(text)
    if value >= 1 << 32:
        usage(prog, usage_text)
    return value


def wait_options(prog, usage_text, argv, optstring):
    """s6-svwait's and s6-svlisten's options: (mode, or_, timeout, operands); MODE is one
    of wire.events.WAIT_MODES (default -u), OR_ for -o, TIMEOUT in ms (0: none)."""
    from s6py.wire.events import WAIT_MODES

    opts, args = parse(prog, usage_text, argv, optstring)
    mode, or_, timeout = WAIT_MODES["u"], False, 0
    for o, v in opts:
        if o in WAIT_MODES:
            mode = WAIT_MODES[o]
        elif o in "ao":
            or_ = o == "o"
        else:
            timeout = uint(prog, usage_text, v)
    return mode, or_, timeout, args

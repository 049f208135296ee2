"""Option parsing for the s6 client commands (s6-svc, s6-svstat, s6-svwait...), with
skalibs' subgetopt semantics (POSIX getopt: options stop at the first operand, at `-` or
after `--`; letters cluster; an option's argument is glued or the next word): `parse` is
s6py.diag.subgetopt.

Any parsing error is a usage error, as in every s6 tool.
"""

from s6py.diag import subgetopt as parse, usage

__all__ = ["parse", "uint"]


def uint(prog, usage_text, text):
    """skalibs' uint0_scan: the whole string is a decimal unsigned 32-bit number."""
    if not text or not text.isdigit() or not text.isascii():
        usage(prog, usage_text)
    value = int(text)
    if value >= 1 << 32:
        usage(prog, usage_text)
    return value

"""Option parsing with skalibs' subgetopt semantics (POSIX getopt: options stop at the
first operand, at `-` or after `--`; letters cluster; an option's argument is glued or
the next word).  Hand-written because the getopt module imports gettext, which costs
several milliseconds per command start.

Any parsing error is a usage error, as in every s6 tool.
"""

from s6py.diag import usage


def parse(prog, usage_text, argv, optstring):
    """Return ([(letter, value), ...], operands) for argv[1:]; exit 100 on a bad option."""
    opts = []
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if len(word) < 2 or word[0] != "-":
            break
        j = 1
        while j < len(word):
            letter = word[j]
            k = optstring.find(letter)
            if letter == ":" or k < 0:
                usage(prog, usage_text)
            if optstring[k + 1:k + 2] == ":":
                if j + 1 < len(word):
                    value = word[j + 1:]
                elif i + 1 < len(argv):
                    i += 1
                    value = argv[i]
                else:
                    usage(prog, usage_text)
                opts.append((letter, value))
                break
            opts.append((letter, None))
            j += 1
        i += 1
    return opts, argv[i:]


def uint(prog, usage_text, text):
    """skalibs' uint0_scan: the whole string is a decimal unsigned 32-bit number."""
    if not text or not text.isdigit() or not text.isascii():
        usage(prog, usage_text)
    value = int(text)
    if value >= 1 << 32:
        usage(prog, usage_text)
    return value

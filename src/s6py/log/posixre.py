"""POSIX extended regular expressions (as glibc's regcomp reads them) in Python's `re`.

s6-log compiles its selection patterns with `regcomp(REG_EXTENDED | REG_NOSUB | REG_NEWLINE)`
and only asks "does this line match?", so leftmost-longest matching does not matter; what
does matter is which strings are valid patterns and what each character means.  The
differences with Python's syntax that this module handles:

* bracket expressions: `]` first is literal, `\\` is literal inside brackets, POSIX classes
  `[:alpha:]` (C locale), equivalence classes `[=a=]` and collating symbols `[.a.]` of one
  character; a reversed range is an error;
* `\\` before any ordinary character is that character (`\\d` is `d`), except glibc's
  extensions `\\w \\W \\s \\S \\b \\B \\< \\> \\` \\'` and back-references `\\1`..`\\9`; a
  trailing `\\` is an error;
* `{` must start a valid interval (`{n}`, `{n,}`, `{n,m}`, `{,m}`) after an operand; anything
  else is an error, as are counts above RE_DUP_MAX (32767); a lone `}` is literal;
* a `)` without an opening `(` is literal, an unclosed `(` is an error;
* `*`, `+`, `?` at the start of the pattern, of a group, of an alternative or after `^` are
  errors; stacked quantifiers (`a**`, `a+?`) apply to the quantified atom, never Python's lazy or
  possessive forms;
* `$` is an anchor at the end only (`\\Z`), `^` at the start only.

Limits (documented in docs/logging.md): multi-character collating elements are rejected,
equivalence classes are the character itself (C locale), and glibc's acceptance of some
undefined constructs (`a|*b`, `(|a)`) follows what glibc 2.36 does as far as tested.
"""

import re

RE_DUP_MAX = 0x7FFF

_CLASSES = {
    b"alpha": b"a-zA-Z",
    b"digit": b"0-9",
    b"alnum": b"0-9a-zA-Z",
    b"upper": b"A-Z",
    b"lower": b"a-z",
    b"space": b" \\t\\n\\r\\f\\v",
    b"blank": b" \\t",
    b"punct": re.escape(bytes(c for c in range(33, 127) if not chr(c).isalnum())),
    b"print": b" -~",
    b"graph": b"!-~",
    b"cntrl": b"\\x00-\\x1f\\x7f",
    b"xdigit": b"0-9A-Fa-f",
}

_ESCAPES = {
    ord("w"): b"\\w",
    ord("W"): b"\\W",
    ord("s"): b"\\s",
    ord("S"): b"\\S",
    ord("b"): b"\\b",
    ord("B"): b"\\B",
    ord("<"): b"\\b(?=\\w)",
    ord(">"): b"\\b(?<=\\w)",
    ord("`"): b"\\A",
    ord("'"): b"\\Z",
}

_INTERVAL = re.compile(rb"\{(\d*)(,?)(\d*)\}")


class PatternError(ValueError):
    """The pattern is not a valid POSIX extended regular expression."""


def _lit(c):
    return re.escape(bytes((c,)))


def _bracket(pat, i):
    """Translate the bracket expression starting after `[` at PAT[i]; return (text, next i)."""
    n = len(pat)
    negate = False
    if i < n and pat[i] == ord("^"):
        negate = True
        i += 1
    items = []
    first = True
    while True:
        if i >= n:
            raise PatternError("unterminated bracket expression")
        c = pat[i]
        if c == ord("]") and not first:
            i += 1
            break
        first = False
        # one endpoint: a character, a collating symbol, an equivalence class or a class
        if c == ord("[") and i + 1 < n and pat[i + 1] in b":.=":
            kind = pat[i + 1]
            end = pat.find(bytes((kind, ord("]"))), i + 2)
            if end < 0:
                raise PatternError("unterminated [%c" % kind)
            name = pat[i + 2:end]
            i = end + 2
            if kind == ord(":"):
                if name not in _CLASSES:
                    raise PatternError("unknown class")
                items.append(_CLASSES[name])
                continue
            if len(name) != 1:
                raise PatternError("unsupported collating element")
            start = name[0]
        else:
            start = c
            i += 1
        # a range?
        if i + 1 < n and pat[i] == ord("-") and pat[i + 1] != ord("]"):
            i += 1
            e = pat[i]
            if e == ord("[") and i + 1 < n and pat[i + 1] in b".=":
                kind = pat[i + 1]
                end = pat.find(bytes((kind, ord("]"))), i + 2)
                if end < 0 or end != i + 3:
                    raise PatternError("bad range end")
                e = pat[i + 2]
                i = end + 2
            else:
                i += 1
            if e < start:
                raise PatternError("invalid range")
            items.append(_lit(start) + b"-" + _lit(e))
            if i + 1 < n and pat[i] == ord("-") and pat[i + 1] != ord("]"):
                raise PatternError("range endpoint used twice")
        else:
            items.append(_lit(start))
    return b"[" + (b"^" if negate else b"") + b"".join(items) + b"]", i


def translate(pattern):
    """Python `re` source (bytes) for POSIX ERE PATTERN (bytes or str)."""
    if isinstance(pattern, str):
        pattern = pattern.encode("utf-8", "surrogateescape")
    pat = pattern
    n = len(pat)
    out = []           # pieces of the translation
    atom = None        # index in `out` where the last quantifiable atom starts
    quantified = False  # whether that atom already carries a quantifier
    groups = []        # stack of (out index of "(", group number)
    closed = 0         # number of closed groups (valid back-references)
    opened = 0
    i = 0

    def quantify(q):
        nonlocal quantified
        if quantified:
            out[atom:] = [b"(?:" + b"".join(out[atom:]) + b")"]
        out.append(q)
        quantified = True

    while i < n:
        c = pat[i]
        if c == ord("\\"):
            if i + 1 >= n:
                raise PatternError("trailing backslash")
            d = pat[i + 1]
            i += 2
            if ord("1") <= d <= ord("9"):
                if d - ord("0") > closed:
                    raise PatternError("invalid back reference")
                atom, quantified = len(out), False
                out.append(b"(?:\\%c)" % d)
            elif d in _ESCAPES:
                if d in b"bB<>`'":
                    atom = None
                else:
                    atom, quantified = len(out), False
                out.append(_ESCAPES[d])
            else:
                atom, quantified = len(out), False
                out.append(_lit(d))
        elif c == ord("["):
            text, i = _bracket(pat, i + 1)
            atom, quantified = len(out), False
            out.append(text)
        elif c == ord("("):
            opened += 1
            groups.append((len(out), opened))
            out.append(b"(")
            atom = None
            i += 1
        elif c == ord(")"):
            i += 1
            if groups:
                start, _ = groups.pop()
                closed += 1
                out.append(b")")
                atom, quantified = start, False
            else:
                atom, quantified = len(out), False
                out.append(b"\\)")
        elif c == ord("|"):
            out.append(b"|")
            atom = None
            i += 1
        elif c in b"*+?":
            i += 1
            if atom is None:
                raise PatternError("repetition operator without operand")
            quantify(bytes((c,)))
        elif c == ord("{"):
            m = _INTERVAL.match(pat, i)
            if m is None or (not m.group(1) and not m.group(2) and not m.group(3)):
                raise PatternError("invalid interval")
            lo = int(m.group(1) or b"0")
            hi = None if (m.group(2) and not m.group(3)) else int(m.group(3) or m.group(1))
            if lo > RE_DUP_MAX or (hi is not None and (hi > RE_DUP_MAX or hi < lo)):
                raise PatternError("invalid interval")
            i = m.end()
            if atom is None:
                raise PatternError("interval without operand")
            quantify(b"{%d,%s}" % (lo, b"" if hi is None else b"%d" % hi))
        elif c == ord("^"):
            out.append(b"^")
            atom = None
            i += 1
        elif c == ord("$"):
            out.append(b"\\Z")
            atom = None
            i += 1
        elif c == ord("."):
            atom, quantified = len(out), False
            out.append(b".")
            i += 1
        else:
            atom, quantified = len(out), False
            out.append(_lit(c))
            i += 1
    if groups:
        raise PatternError("unmatched (")
    return b"".join(out)


def compile(pattern):
    """A compiled bytes regexp with POSIX ERE PATTERN's meaning; PatternError if invalid."""
    try:
        return re.compile(translate(pattern), re.DOTALL)
    except re.error as e:
        raise PatternError(str(e)) from None

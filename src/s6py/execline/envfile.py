"""Parser for envfile's `key = value` format (comments, quoting, C escapes, continuation)."""

from . import core

_ESC = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
        "\\": "\\", '"': '"', "'": "'", "?": "?"}


def _unquote(s, path, lineno):
    out = []
    k = 0
    while k < len(s):
        ch = s[k]
        if ch != "\\":
            out.append(ch)
            k += 1
            continue
        k += 1
        if k >= len(s):
            core.die(1, "in %s: syntax error line %d" % (path, lineno))
        ch = s[k]
        if ch in _ESC:
            out.append(_ESC[ch])
            k += 1
        elif ch == "x":
            j = k + 1
            while j < len(s) and j < k + 3 and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(s[k + 1:j] or "0", 16)))
            k = j
        elif ch in "01234567":
            j = k
            while j < len(s) and j < k + 3 and s[j] in "01234567":
                j += 1
            out.append(chr(int(s[k:j], 8) & 0xFF))
            k = j
        else:
            out.append(ch)
            k += 1
    return "".join(out)


def parse_envfile(text, path):
    pairs = []
    lines = text.split("\n")
    k = 0
    while k < len(lines):
        lineno = k + 1
        line = lines[k]
        k += 1
        stripped = line.lstrip(" \t\r")
        if not stripped or stripped[0] == "#":
            continue
        while line.endswith("\\") and k < len(lines):
            line = line[:-1] + lines[k]
            k += 1
        if "=" not in line:
            core.die(1, "in %s: syntax error line %d" % (path, lineno))
        key, _, value = line.partition("=")
        key = key.strip(" \t\r")
        if not key or any(c in key for c in " \t\r\n") or key[0].isdigit():
            core.die(1, "in %s: syntax error line %d" % (path, lineno))
        value = value.strip(" \t\r")
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = _unquote(value[1:-1], path, lineno)
        pairs.append((key, value))
    return pairs

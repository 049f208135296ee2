"""Variable substitution (el_substitute) and value transformation (el_transform).

A substitution set is a dict: key -> list of values (a list of zero words makes any word
that mentions the key disappear).  substitute(argv, subs) rewrites argv following
execline's rules: $key and ${key}, backslash quoting (2n backslashes + ${key} -> n
backslashes + value, 2n+1 -> n backslashes + literal ${key}), split values multiplying the
words they appear in, left to right.
"""

DEFAULT_DELIM = " \n\r\t"

_INWORD, _INDOLL, _INDBR, _INVAR, _INVARBR = range(5)


def _parse_word(s, subs):
    """Split word S into literal strings and keys (as 1-tuples) to substitute."""
    parts = []
    buf = []
    state = _INWORD
    esc = 0
    mark = 0
    i = 0
    n = len(s)
    while True:
        ch = s[i] if i < n else None
        test = False
        if ch is None:
            test = state == _INVAR
            nstate = -1
            keepesc = incresc = False
        elif ch == "\\":
            test = state == _INVAR
            nstate = _INWORD
            keepesc = state == _INWORD
            incresc = True
        elif ch == "$":
            test = state == _INVAR
            nstate = _INDOLL
            keepesc = state == _INWORD
            incresc = False
        elif ch == "{":
            test = state == _INVAR
            nstate = _INDBR if state == _INDOLL else _INWORD
            keepesc = state == _INDOLL
            incresc = False
        elif ch == "}":
            test = state in (_INVAR, _INVARBR)
            nstate = _INWORD
            keepesc = incresc = False
        else:
            incresc = False
            if state == _INDOLL:
                nstate, keepesc, mark = _INVAR, True, i
            elif state == _INDBR:
                nstate, keepesc, mark = _INVARBR, True, i
            elif state in (_INVAR, _INVARBR):
                nstate, keepesc = state, True
            else:
                nstate, keepesc = _INWORD, False
        nopush = False
        if test:
            name = s[mark:i]
            if name in subs:
                br = state == _INVARBR
                seq = len(name) + 1 + br
                del buf[len(buf) - seq - esc:]
                buf.append("\\" * (esc >> 1))
                if esc & 1:
                    buf.append(("${" if br else "$") + name)
                else:
                    parts.append("".join(buf))
                    buf = []
                    parts.append((name,))
                    nopush = br
        if nstate < 0:
            break
        if not nopush:
            buf.append(ch)
        if not keepesc:
            esc = 0
        if incresc:
            esc += 1
        state = nstate
        i += 1
    parts.append("".join(buf))
    return parts


def _expand(parts, subs, k, prefix, out):
    while k < len(parts) and not isinstance(parts[k], tuple):
        prefix += parts[k]
        k += 1
    if k == len(parts):
        out.append(prefix)
        return
    for v in subs[parts[k][0]]:
        _expand(parts, subs, k + 1, prefix + v, out)


def substitute(argv, subs):
    """Return ARGV with the substitutions SUBS (key -> list of values) performed."""
    if not subs:
        return list(argv)
    out = []
    for word in argv:
        if "$" not in word:
            out.append(word)
            continue
        parts = _parse_word(word, subs)
        if len(parts) == 1:
            out.append(parts[0])
        else:
            _expand(parts, subs, 0, "", out)
    return out


class TransformError(Exception):
    pass


def netstrings(value):
    """Decode a sequence of netstrings; raise TransformError when invalid."""
    out = []
    i = 0
    n = len(value)
    while i < n:
        j = i
        while j < n and value[j].isdigit() and value[j] < "\x80":
            j += 1
        if j == i or j >= n or value[j] != ":":
            raise TransformError()
        length = int(value[i:j])
        start = j + 1
        if start + length >= n + 0 and not (start + length < n):
            raise TransformError()
        if value[start + length] != ",":
            raise TransformError()
        out.append(value[start:start + length])
        i = start + length + 1
    return out


def transform(value, split=False, crunch=False, chomp=False, delim=DEFAULT_DELIM):
    """el_transform: crunch, chomp, split VALUE; return the list of words."""
    if crunch and delim:
        out = []
        crunching = False
        for ch in value:
            if ch in delim:
                if not crunching:
                    out.append(ch)
                crunching = True
            else:
                crunching = False
                out.append(ch)
        value = "".join(out)
    chomped = False
    if chomp and value and value[-1] in delim:
        value = value[:-1]
        chomped = True
    if not split:
        return [value]
    if not delim:
        return netstrings(value)
    words = []
    start = 0
    for i, ch in enumerate(value):
        if ch in delim:
            words.append(value[start:i])
            start = i + 1
    if start < len(value):
        if not (chomp and not chomped):
            words.append(value[start:])
    return words

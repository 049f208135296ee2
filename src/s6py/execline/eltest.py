"""eltest (and s6-test): execline 2.9's test, with its operator-precedence parser."""

import os

from . import core

_TOKENS = {
    "-n": ("nonzero", 2), "-z": ("zero", 2), "=": ("streq", 3), "!=": ("strne", 3),
    "-eq": ("numeq", 3), "-ne": ("numne", 3), "-gt": ("numgt", 3), "-ge": ("numge", 3),
    "-lt": ("numlt", 3), "-le": ("numle", 3), "-f": ("regular", 2), "-h": ("symlink", 2),
    "-L": ("symlink", 2), "-e": ("exist", 2), "-k": ("sticky", 2), "-a": ("and", 7),
    "-o": ("or", 8), "!": ("not", 6), "(": ("leftp", 4), ")": ("rightp", 5),
    "-b": ("block", 2), "-c": ("char", 2), "-d": ("dir", 2), "-g": ("sgid", 2),
    "-p": ("fifo", 2), "-r": ("readable", 2), "-s": ("nonzerofile", 2), "-t": ("term", 2),
    "-u": ("suid", 2), "-w": ("writable", 2), "-x": ("executable", 2), "-O": ("euid", 2),
    "-U": ("euid", 2), "-G": ("egid", 2), "-S": ("socket", 2), "-N": ("modified", 2),
    "-nt": ("newer", 3), "-ot": ("older", 3), "-ef": ("devino", 3), "<": ("strlt", 3),
    "<=": ("strle", 3), ">": ("strgt", 3), ">=": ("strge", 3), "-v": ("env", 2),
    "=~": ("match", 3),
}

_TABLE = (
    "xssssxsssxxxx",
    "xxxxxaxxxxxxx",
    "xsxxsxsssxxxx",
    "sxxxxxxxxxxxx",
    "xsxxsxsssxxxx",
    "nxxxxNxxxAOEs",
    "xsxxsxsssxxxx",
    "nxxxxNxxxAsxx",
    "nxxxxNxxxAOsx",
)


class _Node:
    __slots__ = ("op", "type", "arg1", "arg2", "data")

    def __init__(self, op, typ, data):
        self.op, self.type, self.data = op, typ, data
        self.arg1 = self.arg2 = 0


def _lex(args):
    tree = []
    for pos, a in enumerate(args):
        t = _TOKENS.get(a)
        if t is not None:
            tree.append(_Node(t[0], t[1], a))
        else:
            node = _Node("nonzero", 0, a[1:] if a[:1] == "\\" else a)
            node.arg1 = pos
            tree.append(node)
    return tree


def _reduce_negations(tree, stack):
    """The top of STACK is a complete operand: fold every pending `!` below it into it."""
    tree[stack[-1]].type = 9
    while tree[stack[-2]].type == 6:
        tree[stack[-2]].type = 9
        tree[stack[-2]].arg1 = stack[-1]
        stack.pop()


def _reduce_binary(tree, stack):
    """STACK ends with operand, binary operator, operand: make it one node, the operator
    with its two operands."""
    op = tree[stack[-2]]
    op.arg1 = stack[-3]
    op.arg2 = stack[-1]
    stack[-3] = stack[-2]
    del stack[-2:]


def _parse(tree):
    die = core.die
    n = len(tree)
    tree.append(_Node(None, 5, ""))
    tree.append(_Node(None, 1, ""))
    stack = [n + 1]
    pos = 0
    while True:
        act = _TABLE[tree[pos].type][tree[stack[-1]].type]
        if act == "x":
            die(100, "parse error at argument %d" % pos)
        elif act == "a":
            break
        elif act == "s":
            stack.append(pos)
            pos += 1
        elif act == "n":
            t = tree[stack[-2]].type
            if t == 2:
                tree[stack[-2]].arg1 = stack[-1]
                stack.pop()
            elif t == 3:
                _reduce_binary(tree, stack)
            _reduce_negations(tree, stack)
        elif act == "N":
            if tree[stack[-3]].type != 4:
                die(100, "parse error: bad right parenthesis at argument %d" % pos)
            stack[-3] = stack[-2]
            del stack[-2:]
            _reduce_negations(tree, stack)
        elif act == "A":
            if tree[stack[-2]].type == 7:
                _reduce_binary(tree, stack)
            tree[stack[-1]].type = 10
        elif act == "O":
            if tree[stack[-2]].type == 8:
                _reduce_binary(tree, stack)
            tree[stack[-1]].type = 11
        elif act == "E":
            tree[stack[-1]].type = 12
    if len(stack) != 3:
        die(100, "parse error: too many left parentheses")
    return stack[1]


def _int(s):
    j = 0
    if s[:1] in ("-", "+"):
        j = 1
    k = j
    while k < len(s) and "0" <= s[k] <= "9":
        k += 1
    if k == j:
        return None
    return int(s[:k])


def _stat(path, follow=True):
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return None


def _mtime(st):
    return st.st_mtime_ns


def posix_regex(expr, extended=True):
    """Translate a POSIX ERE/BRE into a Python regular expression (common subset)."""
    out = []
    k = 0
    n = len(expr)
    while k < n:
        ch = expr[k]
        if ch == "[":
            j = k + 1
            if j < n and expr[j] == "^":
                j += 1
            if j < n and expr[j] == "]":
                j += 1
            while j < n and expr[j] != "]":
                if expr[j] == "[" and j + 1 < n and expr[j + 1] in ":.=":
                    close = expr.find(expr[j + 1] + "]", j + 2)
                    j = close + 2 if close >= 0 else j + 1
                else:
                    j += 1
            cls = expr[k:j + 1]
            classes = {"[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:alnum:]": "a-zA-Z0-9",
                       "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:space:]": " \\t\\n\\r\\f\\v",
                       "[:xdigit:]": "0-9A-Fa-f", "[:punct:]": "!-/:-@\\[-`{-~",
                       "[:blank:]": " \\t", "[:print:]": " -~", "[:graph:]": "!-~", "[:cntrl:]": "\\x00-\\x1f"}
            for name, rep in classes.items():
                cls = cls.replace(name, rep)
            inner = cls[1:-1]
            neg = inner.startswith("^")
            if neg:
                inner = inner[1:]
            inner = inner.replace("\\", "\\\\") if "[:" not in expr[k:j + 1] else inner
            out.append("[" + ("^" if neg else "") + inner.replace("[", "\\[") + "]")
            k = j + 1
            continue
        if extended:
            if ch == "\\" and k + 1 < n:
                out.append("\\" + expr[k + 1] if not expr[k + 1].isalnum() else expr[k + 1])
                k += 2
                continue
            if ch == "{" and not (out and out[-1] not in "(|"):
                out.append("\\{")
            else:
                out.append(ch)
        else:
            if ch == "\\" and k + 1 < n:
                nxt = expr[k + 1]
                out.append(nxt if nxt in "(){}|+?" else "\\" + nxt)
                k += 2
                continue
            out.append("\\" + ch if ch in "(){}|+?" else ch)
        k += 1
    return "".join(out)


def _run(tree, root):
    node = tree[root]
    op = node.op
    a1 = tree[node.arg1].data if op not in ("not", "and", "or") else None
    if op == "not":
        return not _run(tree, node.arg1)
    if op == "and":
        return _run(tree, node.arg1) and _run(tree, node.arg2)
    if op == "or":
        return _run(tree, node.arg1) or _run(tree, node.arg2)
    if op == "nonzero":
        return bool(a1)
    if op == "zero":
        return not a1
    if op == "exist":
        return os.access(a1, os.F_OK)
    if op == "readable":
        return os.access(a1, os.R_OK)
    if op == "writable":
        return os.access(a1, os.W_OK)
    if op == "executable":
        return os.access(a1, os.X_OK)
    if op == "env":
        return a1 in os.environ
    if op == "term":
        fd = core.uint0(a1)
        if fd is None:
            core.die(100, node.data + " requires an integer argument")
        return os.isatty(fd)
    import stat as S
    if op in ("block", "char", "dir", "regular", "fifo", "socket", "sgid", "suid", "sticky",
              "nonzerofile", "modified", "euid", "egid", "symlink"):
        st = _stat(a1, op != "symlink")
        if st is None:
            return False
        m = st.st_mode
        return {
            "block": S.S_ISBLK, "char": S.S_ISCHR, "dir": S.S_ISDIR, "regular": S.S_ISREG,
            "fifo": S.S_ISFIFO, "socket": S.S_ISSOCK, "symlink": S.S_ISLNK,
            "sgid": lambda m: m & S.S_ISGID, "suid": lambda m: m & S.S_ISUID,
            "sticky": lambda m: m & S.S_ISVTX,
            "nonzerofile": lambda m: st.st_size > 0,
            "modified": lambda m: st.st_mtime_ns > st.st_atime_ns,
            "euid": lambda m: st.st_uid == os.geteuid(),
            "egid": lambda m: st.st_gid == os.getegid(),
        }[op](m) != 0
    a2 = tree[node.arg2].data
    if op in ("newer", "older", "devino"):
        s1, s2 = _stat(a1), _stat(a2)
        if op == "newer":
            return False if s1 is None else True if s2 is None else s1.st_mtime_ns > s2.st_mtime_ns
        if op == "older":
            return True if s1 is None else False if s2 is None else s1.st_mtime_ns < s2.st_mtime_ns
        return False if s1 is None else True if s2 is None else (s1.st_dev, s1.st_ino) == (s2.st_dev, s2.st_ino)
    if op.startswith("str"):
        b1, b2 = os.fsencode(a1), os.fsencode(a2)
        return {"streq": b1 == b2, "strne": b1 != b2, "strlt": b1 < b2, "strle": b1 <= b2,
                "strgt": b1 > b2, "strge": b1 >= b2}[op]
    if op.startswith("num"):
        n1, n2 = _int(a1), _int(a2)
        if n1 is None or n2 is None:
            core.die(100, node.data + " requires integer arguments")
        return {"numeq": n1 == n2, "numne": n1 != n2, "numgt": n1 > n2, "numge": n1 >= n2,
                "numlt": n1 < n2, "numle": n1 <= n2}[op]
    if op == "match":
        import re
        try:
            rx = re.compile(posix_regex(a2, True))
        except re.error as e:
            core.die(100, "unable to compile %s into a regular expression: %s" % (a2, e))
        return rx.search(a1) is not None
    core.die(101, "operation not implemented")


def main(argv):
    if len(argv) <= 1:
        return 1
    core.PROG = "eltest" if argv[0] != "s6-test" else "s6-test"
    tree = _lex(argv[1:])
    return 0 if _run(tree, _parse(tree)) else 1

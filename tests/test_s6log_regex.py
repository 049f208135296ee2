"""The POSIX ERE translation agrees with glibc's regcomp/regexec (called through ctypes)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from posix_oracle import Regex  # noqa: E402

from s6py.log import posixre  # noqa: E402

PATTERNS = [
    b"a", b"^a", b"a$", b"a|b", b"(ab)+c", b"[[:digit:]]+", b"[]a]", b"[^]a]", b"[a-]",
    b"[\\]", b"a\\", b"\\d", b"\\w+", b"a{2}", b"a{2,}", b"a{,2}", b"a{1", b"a{x", b"{1}",
    b"a{", b"*a", b"+a", b"?a", b"a**", b"a+?", b"(*a)", b"a|*b", b"()", b"(|a)", b"a||b",
    b")", b"(", b"a{2,1}", b"[z-a]", b"[[:foo:]]", b"[[.a.]-c]", b"[[=a=]]", b"\\(",
    b"(a)\\1", b"\\1", b"^*", b"a^b", b"x$y", b"\\<ab\\>", b"[[:alpha:][:digit:]]",
    b"[a-c[:space:]]", b"a{0}", b"a{32768}", b"a{1,255}", b"a{32767}", b"[", b"[a", b"a]", b"}",
    b"a{,}", b"\\.", b".", b"[.]", b"(a|b)*c{1,3}$", b"[[:punct:]]", b"[^[:alnum:]]",
    b"a\\{", b"[\\n]", b"\\n", b"a*{2}", b"$a", b"^$", b"x{1}{2}", b"(a)(b)\\2", b"a\\|b",
    b"[a-z-9]", b"[--z]", b"[%--]", b"(?:a)", b"a(?", b"\\`a", b"a\\'", b"[[:upper:]][[:lower:]]*",
    b"[[:xdigit:]]{4}", b"[[:blank:]]", b"[[:cntrl:]]", b"[[:graph:]]+$", b"^[[:print:]]*$",
    b"error|warn(ing)?", b"^\\[[0-9]+\\]", b"[^a-z ]", b"\\s\\S", b"\\W",
]
LINES = [
    b"", b"a", b"aa", b"b", b"ab", b"abc", b"abcabc", b"1", b"x12", b"]", b"-", b"\\", b"d",
    b"a{1", b"{1}", b"*a", b"+a", b"?a", b"a**", b"()", b")", b"(", b"a^b", b"x$y", b"ab cd",
    b" ", b"\t", b".", b"aaa", b"ccc c", b"a{", b"}", b"n", b"\\n", b"a{2}", b"xx", b"bb",
    b"abb", b"z", b"%", b"a|b", b"?:a", b"(?", b"aab", b"abab", b"Hello", b"ABCD", b"beef",
    b"\x01x", b"\x7f", b"warning: x", b"error", b"[12] x", b"caf\xc3\xa9", b"\xff",
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.decode("latin-1"))
def test_translation_accepts_and_matches_like_glibc(pattern):
    oracle = Regex(pattern)
    try:
        ours = posixre.compile(pattern)
    except posixre.PatternError:
        ours = None
    assert (ours is not None) == oracle.ok, posixre.__name__
    if ours is None:
        return
    for line in LINES:
        assert bool(ours.search(line)) == oracle.search(line), (pattern, line)

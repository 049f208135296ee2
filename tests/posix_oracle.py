"""glibc's own regcomp/regexec through ctypes: the oracle for POSIX ERE translation tests."""

import ctypes
import ctypes.util
import locale

# s6-log never calls setlocale(): its regexps run in the C locale, bytes are bytes.
locale.setlocale(locale.LC_ALL, "C")

_libc = ctypes.CDLL(ctypes.util.find_library("c"))
REG_EXTENDED, REG_NOSUB, REG_NEWLINE = 1, 8, 4


class Regex:
    """A pattern compiled by glibc with s6-log's flags; `ok` is False when regcomp refuses it."""

    def __init__(self, pattern):
        self._buf = ctypes.create_string_buffer(256)  # larger than regex_t
        self.ok = _libc.regcomp(self._buf, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) == 0

    def search(self, line):
        return _libc.regexec(self._buf, line, 0, None, 0) == 0

"""fix-attrs.d: set owner and modes on paths, one rule per line.

Line format (blank lines and lines starting with '#' are skipped; fields are separated by
runs of spaces/tabs):

    path recurse account fmode dmode
    /var/lib/mysql true mysql 0600 0700
    /var/log/app-*  true nobody,32768:32768 0644 2700

* path: a path, or a pattern with `*`, `?`, `[...]` in any component, matched as glob
  matches (sorted; `*` does not match dot names unless the component starts with "."), but
  by our own walk, see below (no match: a warning, nothing done);
* recurse: `true` or `false`;
* account: see `s6py.accounts.fixattrs_owner` (`name`, `user:group`, ids, `,uid:gid`
  fallback; ids outside 0..2^32-2 make the line bad);
* fmode / dmode: octal modes for files / directories, `-` to leave the mode alone.

Per matched path: chown, then chmod with dmode (directory) or fmode (anything else), then,
for a directory with recurse, the same for every entry below it (dot entries only when
S6_FIX_ATTRS_HIDDEN is set).

Symlinks.  What the image author wrote literally is followed: a path without any wildcard
(itself and its directories), and, in a pattern, the components before the first one with
a wildcard (`/var/run/*` with /var/run -> /run).  Nothing that we *find* is ever followed:

* the pattern is not handed to glob (which follows links in every component): from the
  literal prefix on, each directory is opened with O_DIRECTORY|O_NOFOLLOW relative to its
  parent's fd and listed through that fd, and each component is matched against the names
  (fnmatch).  A link met as a middle component (`/data/*/shadow` with data/etc -> /etc, or
  `/home/*/.ssh/x` with a planted .ssh link) is not entered: that branch has no match;
* a link matched by the last component has only its own owner changed (chown -h), and its
  target is left alone; so does a link met while recursing (as `chown -R` does);
* each entry is opened with O_PATH|O_NOFOLLOW relative to its parent directory's fd and
  changed through that fd (via /proc/self/fd), and the matches are reached again through
  the same O_NOFOLLOW chain of fds, so swapping an entry or a directory for a link between
  our look and our change does not work either.

A bad line or a failing chown/chmod gives one message (through `report`) and processing
goes on with the next path or line; the functions return how many things failed.
"""

import errno
import os
import stat

__all__ = ["Rule", "LineError", "parse_line", "expand", "apply_rule", "apply_lines", "apply_file", "apply_directory"]

_O_PATH = getattr(os, "O_PATH", 0)
_MAGIC = ("*", "?", "[")


class LineError(ValueError):
    pass


class Rule:
    """One parsed fix-attrs line."""

    __slots__ = ("pattern", "recurse", "uid", "gid", "fmode", "dmode")

    def __init__(self, pattern, recurse, uid, gid, fmode, dmode):
        self.pattern = pattern
        self.recurse = recurse
        self.uid = uid
        self.gid = gid
        self.fmode = fmode
        self.dmode = dmode

    def __repr__(self):
        return "Rule(%r, %r, %d:%d, %s, %s)" % (
            self.pattern,
            self.recurse,
            self.uid,
            self.gid,
            "-" if self.fmode is None else oct(self.fmode),
            "-" if self.dmode is None else oct(self.dmode),
        )


def _mode(text, which):
    if text == "-":
        return None
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise LineError("%s %r is not an octal mode (like 0644) or -" % (which, text))
    return mode


def parse_line(line):
    """A Rule, or None for a blank or comment line.  LineError says what is wrong."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    if len(words) != 5:
        raise LineError(
            "expected 5 fields (path recurse account fmode dmode), found %d" % len(words)
        )
    pattern, recurse, account, fmode, dmode = words
    if "\0" in pattern:
        raise LineError("path contains a NUL byte")
    if recurse not in ("true", "false"):
        raise LineError("recurse must be true or false, not %r" % recurse)
    from s6py.accounts import UnknownAccount, fixattrs_owner

    try:
        uid, gid = fixattrs_owner(account)
    except UnknownAccount as e:
        raise LineError("%s (give a fallback: %s,UID:GID)" % (e, account)) from None
    except ValueError as e:
        raise LineError("account %r: %s" % (account, e)) from None
    return Rule(pattern, recurse == "true", uid, gid, _mode(fmode, "fmode"), _mode(dmode, "dmode"))


class _Fixer:
    def __init__(self, rule, hidden, report):
        self.rule = rule
        self.hidden = hidden
        self.report = report
        self.failures = 0
        self.use_proc = _O_PATH != 0 and os.path.isdir("/proc/self/fd")

    def fail(self, path, what, exc):
        self.failures += 1
        self.report("%s: unable to %s: %s" % (path, what, getattr(exc, "strerror", None) or exc))

    def entry(self, dirfd, name, display, follow):
        """Fix one entry; return an fd open on it (O_RDONLY dir) if we must recurse into it."""
        rule = self.rule
        try:
            fd = os.open(name, _O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW), dir_fd=dirfd)
        except OSError as e:
            if e.errno == errno.ELOOP and not follow and not _O_PATH:
                return self.symlink(dirfd, name, display)
            self.fail(display, "open", e)
            return None
        try:
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                return self.symlink(dirfd, name, display)
            isdir = stat.S_ISDIR(st.st_mode)
            target = "/proc/self/fd/%d" % fd if self.use_proc else None
            try:
                if target:
                    os.chown(target, rule.uid, rule.gid)
                else:
                    os.chown(name, rule.uid, rule.gid, dir_fd=dirfd, follow_symlinks=follow)
            except (OSError, OverflowError) as e:  # OverflowError: a Rule made by hand
                self.fail(display, "chown", e)
            mode = rule.dmode if isdir else rule.fmode
            if mode is not None:
                try:
                    if target:
                        os.chmod(target, mode)
                    else:
                        self.chmod_without_proc(dirfd, name, st, mode, follow)
                except OSError as e:
                    self.fail(display, "chmod", e)
            if not (isdir and rule.recurse):
                return None
            try:
                if target:
                    sub = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                else:
                    sub = os.open(
                        name,
                        os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW),
                        dir_fd=dirfd,
                    )
            except OSError as e:
                self.fail(display, "open directory", e)
                return None
            st2 = os.fstat(sub)
            if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):  # swapped under us
                os.close(sub)
                self.fail(display, "recurse", OSError(errno.ESTALE, "changed while being fixed"))
                return None
            return sub
        finally:
            os.close(fd)

    def chmod_without_proc(self, dirfd, name, st, mode, follow):
        """No /proc: go through an fd where opening is harmless (file, directory)."""
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW), dir_fd=dirfd)
            try:
                os.chmod(fd, mode)
            finally:
                os.close(fd)
        elif follow:
            os.chmod(name, mode, dir_fd=dirfd)
        else:  # a fifo, socket or device: never through a link swapped in since the fstat
            try:
                os.chmod(name, mode, dir_fd=dirfd, follow_symlinks=False)
            except NotImplementedError:
                raise OSError(errno.EOPNOTSUPP, "cannot change its mode without /proc") from None

    def symlink(self, dirfd, name, display):
        """A link we must not follow: its own owner changes, nothing else."""
        try:
            os.chown(name, self.rule.uid, self.rule.gid, dir_fd=dirfd, follow_symlinks=False)
        except (OSError, OverflowError) as e:
            self.fail(display, "chown", e)
        return None

    def walk(self, top_fd, top_display):
        """Depth first below TOP_FD, one open fd per level, never following a link."""
        stack = [(top_fd, top_display, iter(self.names(top_fd, top_display)))]
        while stack:
            dirfd, display, names = stack[-1]
            name = next(names, None)
            if name is None:
                os.close(dirfd)
                stack.pop()
                continue
            child = display.rstrip("/") + "/" + name
            sub = self.entry(dirfd, name, child, follow=False)
            if sub is not None:
                stack.append((sub, child, iter(self.names(sub, child))))

    def names(self, dirfd, display):
        try:
            names = os.listdir(dirfd)
        except OSError as e:
            self.fail(display, "list directory", e)
            return []
        if not self.hidden:
            names = [n for n in names if not n.startswith(".")]
        return sorted(names)


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _split(pattern):
    """(prefix, parts, dir_only) of a PATTERN with a wildcard.

    prefix: the components before the first one with a wildcard, as written ("" for "."):
    the image author named them, so they are followed like any path.  parts: the components
    from there on (empty ones, from "//", dropped).  dir_only: the pattern ends with "/"."""
    components = pattern.split("/")
    first = next(i for i, c in enumerate(components) if any(m in c for m in _MAGIC))
    prefix = "/".join(components[:first])
    if not prefix and pattern.startswith("/"):
        prefix = "/"
    return prefix, [c for c in components[first:] if c], pattern.endswith("/")


def _join(prefix, names, dir_only):
    path = "/".join(names)
    if prefix:
        path = prefix.rstrip("/") + "/" + path
    return path + "/" if dir_only else path


def _open_dir(name, dirfd):
    """NAME in DIRFD opened as a directory, never through a link (None if it is not one)."""
    try:
        return os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=dirfd)
    except OSError:  # ELOOP: a link; ENOTDIR: not a directory; ENOENT: gone
        return None


def _matches(prefix, parts, dir_only):
    """Name tuples matching PARTS below PREFIX, found without following a single link.

    glob's rules otherwise: a wildcard component does not match names starting with "."
    unless it starts with "." itself; a component without wildcard must exist (lstat); a
    middle component, or the last one of a pattern ending with "/", must be a real
    directory.  Each directory is opened with O_NOFOLLOW relative to its parent's fd, so a
    link swapped in during the walk ends that branch instead of redirecting it."""
    import fnmatch

    found = []
    try:
        top = os.open(prefix or ".", _DIR)
    except OSError:
        return found

    def level(dirfd, names, i):
        part = parts[i]
        last = i == len(parts) - 1
        if any(m in part for m in _MAGIC):
            try:
                entries = os.listdir(dirfd)
            except OSError:
                return
            if not part.startswith("."):
                entries = [e for e in entries if not e.startswith(".")]
            candidates = fnmatch.filter(entries, part)
        else:
            candidates = [part]
        for name in candidates:
            if last and not dir_only:
                try:
                    os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except OSError:
                    continue
                found.append(names + (name,))
                continue
            sub = _open_dir(name, dirfd)
            if sub is None:
                continue
            try:
                if last:
                    found.append(names + (name,))
                else:
                    level(sub, names + (name,), i + 1)
            finally:
                os.close(sub)

    try:
        level(top, (), 0)
    finally:
        os.close(top)
    return found


def expand(pattern):
    """(path, literal) pairs for PATTERN, in glob's sorted order.  literal: PATTERN has no
    wildcard (it is then its only match, if it exists, and may be a link to follow)."""
    if not any(c in pattern for c in _MAGIC):
        return [(pattern, True)] if os.path.lexists(pattern) else []
    prefix, parts, dir_only = _split(pattern)
    return sorted((_join(prefix, names, dir_only), False) for names in _matches(prefix, parts, dir_only))


def _apply_pattern(fixer, pattern):
    """Every match of a PATTERN with a wildcard; False if nothing matched."""
    prefix, parts, dir_only = _split(pattern)
    matches = sorted((_join(prefix, names, dir_only), names) for names in _matches(prefix, parts, dir_only))
    if not matches:
        return False
    try:
        top = os.open(prefix or ".", _DIR)
    except OSError as e:
        fixer.fail(prefix or ".", "open directory", e)
        return True
    try:
        for display, names in matches:
            # open the chain again, never following a link: what changed since the
            # search is no longer a match (a link now: skipped)
            dirfd, opened = top, []
            for name in names[:-1]:
                dirfd = _open_dir(name, dirfd)
                if dirfd is None:
                    break
                opened.append(dirfd)
            try:
                if dirfd is None:
                    continue
                sub = fixer.entry(dirfd, names[-1], display, follow=False)
                if sub is not None:
                    fixer.walk(sub, display)
            finally:
                for fd in opened:
                    os.close(fd)
    finally:
        os.close(top)
    return True


def apply_rule(rule, hidden=False, report=None):
    """Apply RULE; return the number of failures.  report(message) gets one line per problem."""
    report = report or (lambda message: None)
    fixer = _Fixer(rule, hidden, report)
    if any(c in rule.pattern for c in _MAGIC):
        matched = _apply_pattern(fixer, rule.pattern)
    else:
        matched = os.path.lexists(rule.pattern)
        if matched:  # written literally: followed if it is a link, this one level only
            sub = fixer.entry(None, rule.pattern, rule.pattern, follow=True)
            if sub is not None:
                fixer.walk(sub, rule.pattern)
    if not matched:
        report("%s: no such file or directory, nothing to do" % rule.pattern)
    return fixer.failures


def apply_lines(lines, source="-", hidden=False, report=None):
    """Parse and apply each line of LINES (an iterable of str); return the failure count."""
    report = report or (lambda message: None)
    failures = 0
    for number, line in enumerate(lines, 1):
        try:
            rule = parse_line(line)
        except LineError as e:
            report("%s line %d: %s: line skipped" % (source, number, e))
            failures += 1
            continue
        if rule is None:
            continue
        try:
            failures += apply_rule(rule, hidden, report)
        except Exception as e:  # a bug must not cost the lines and files after this one
            report("%s line %d: %s: unable to apply: %s: %s" % (source, number, rule.pattern, type(e).__name__, e))
            failures += 1
    return failures


def apply_file(path, hidden=False, report=None):
    """apply_lines on the file at PATH ("-": standard input)."""
    report = report or (lambda message: None)
    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        report("unable to read %s: %s" % (path, e.strerror or e))
        return 1
    text = data.decode("utf-8", "surrogateescape")
    # lines end at "\n" only (a CRLF file keeps working): str.splitlines() would also cut
    # at a form feed, a vertical tab or U+2028 inside a comment, and renumber the rest
    return apply_lines([line[:-1] if line.endswith("\r") else line for line in text.split("\n")],
                       path, hidden, report)


def apply_directory(directory, hidden=False, report=None, info=None):
    """Every file of DIRECTORY in name order (dot files skipped); info(path) before each.

    Returns (files applied, failures).  A missing directory is not an error (0, 0)."""
    try:
        names = sorted(n for n in os.listdir(directory) if not n.startswith("."))
    except FileNotFoundError:
        return 0, 0
    except OSError as e:
        if report:
            report("unable to list %s: %s" % (directory, e.strerror or e))
        return 0, 1
    count = failures = 0
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            continue
        if info:
            info(path)
        count += 1
        failures += apply_file(path, hidden, report)
    return count, failures

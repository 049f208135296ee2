"""The s6-log main loop, on s6py's one event loop (engine.loop.Loop): one process, one
epoll (regular-file stdin counted always ready), signals through its wake-up fd.

Input is read in blocks of up to 64 KiB and cut into lines in bulk; the script then runs on
the whole list of lines of the block, and each action receives one joined buffer.  The
clock is read once per block: every line of a block gets the same timestamp (the time the
block was read), where s6 reads the clock for each line - the lines of one block arrived
together, so the values differ from s6's by microseconds only.

Events and what they do:
  stdin readable   -> read a block, run the script, flush logdirs and stdout
  stdout writable  -> flush the stdout buffer (`1` actions)
  SIGALRM          -> rotate every logdir that has data
  SIGTERM (no -p), SIGHUP -> finish the current partial line (at most -t ms), then exit
  SIGCHLD          -> a processor finished: continue that logdir's rotation
  a logdir's retry deadline -> retry its failed write or rotation step
With -b, stdin is not read while a logdir or stdout still holds unwritten lines.

The Loop is built with carry_on=False (a bug ends s6-log, whose supervisor restarts it,
instead of being reported and skipped) and own_dispositions=False (the signal mask and
what was inherited as ignored stay as they were: a processor inherits them, as from
s6's s6-log).  Each turn is `run_once(timeout)`, the timeout being the nearest logdir
retry or the last-line deadline; after it come the logdirs' and stdout's flushes.
"""

import _signal as signal  # not `signal`, which imports `enum`
import errno
import os
import time

from s6py.diag import write_all
from s6py.engine.loop import Loop

from . import stamp
from .logdir import Rot
from .script import Act, Sel

BLOCK = 65536
ALERT = b"s6-log: alert: "


def _watch(want, watched, add, remove, fd, callback):
    """Start (ADD) or stop (REMOVE) watching FD when WANT differs from WATCHED; returns
    whether FD is watched now."""
    if want != watched:
        if want:
            add(fd, callback)
        else:
            remove(fd)
    return want


class Logger:
    def __init__(self, elements, logdirs, reporter, linelimit=8192, block=False,
                 protect=False, lastline_ms=2000, notif=None, stdin=0, stdout=1):
        self.stdin = stdin         # the fd read (0 when alone; another one in a log host)
        self.stdout = stdout       # the fd of `1` actions; alerts go to the reporter's fd
        self.loop = None           # the engine.loop.Loop it is attached to
        self.paused = False        # SIGSTOP'd in a log host: no reading, no writing
        self._stdin_watched = False
        self._stdout_watched = False
        self.elements = elements
        self.logdirs = logdirs
        self.report = reporter
        self.linelimit = linelimit
        self.block = block
        self.protect = protect
        self.lastline = lastline_ms / 1000.0
        self.notif = notif
        self.partial = b""
        self.reading = True        # stdin still open and wanted
        self.last_line_mode = False  # after TERM/HUP: read up to the next newline only
        self.last_line_deadline = None
        self.stdout_buf = bytearray()
        self.stdout_ok = any(a.kind is Act.STDOUT for e in elements for a in e.actions)
        self.simple = len(elements) == 1 and not elements[0].selections
        self.uses_f = any(s.kind is Sel.DEFAULT for e in elements for s in e.selections)
        targets = [(a.kind, a.target if a.kind in (Act.LOGDIR, Act.STATUS) else None)
                   for e in elements for a in e.actions]
        self.line_major = len(set(map(repr, targets))) != len(targets)

    def status_files(self):
        """The names of the script's status files (`=FILE`), as written."""
        return [a.target for e in self.elements for a in e.actions if a.kind is Act.STATUS]

    # --- the script ------------------------------------------------------------------------

    def run_script(self, lines):
        if not lines:
            return
        ns = time.time_ns()
        cache = {}

        def prefix_of(action):
            key = (action.tai, action.iso, action.prefix)
            p = cache.get(key)
            if p is None:
                p = ((stamp.tai64n_prefix(ns) if action.tai else b"")
                     + (stamp.iso_prefix(ns) if action.iso else b"") + action.prefix)
                cache[key] = p
            return p

        if self.simple and not self.line_major:
            self._act(self.elements[0].actions, lines, prefix_of)
            return
        n = len(lines)
        subjects = lines
        if any(b"\0" in line for line in lines):
            # regexec sees a line as a C string: up to its first NUL byte
            subjects = [line.split(b"\0", 1)[0] for line in lines]
        selected = [True] * n
        acted = [False] * n if self.uses_f or len(self.elements) > 1 else None
        masks = []
        for element in self.elements:
            for sel in element.selections:
                if sel.kind is Sel.DEFAULT:
                    selected = [not a for a in acted]
                elif sel.kind is Sel.PLUS:
                    search = sel.regex.search
                    selected = [x or search(s) is not None for x, s in zip(selected, subjects)]
                else:
                    search = sel.regex.search
                    selected = [x and search(s) is None for x, s in zip(selected, subjects)]
            if acted is not None:
                acted = [a or x for a, x in zip(acted, selected)]
            masks.append(selected)
        if self.line_major:
            self._act_line_major(lines, masks, prefix_of)
            return
        for element, selected in zip(self.elements, masks):
            if all(selected):
                chosen = lines
            else:
                chosen = [line for line, x in zip(lines, selected) if x]
            if chosen:
                self._act(element.actions, chosen, prefix_of)

    def _act_line_major(self, lines, masks, prefix_of):
        """Several actions share a destination: keep s6's order, line by line."""
        plan = [(a, prefix_of(a), m) for e, m in zip(self.elements, masks) for a in e.actions]
        for i, line in enumerate(lines):
            for action, pfx, mask in plan:
                if mask[i]:
                    self._act([action], [line], lambda _a, p=pfx: p)

    def _act(self, actions, lines, prefix_of):
        joined = {}
        for action in actions:
            pfx = prefix_of(action)
            kind = action.kind
            if kind is Act.LOGDIR or kind is Act.STDOUT:
                out = joined.get(pfx)
                if out is None:
                    if pfx:
                        out = pfx + (b"\n" + pfx).join(lines) + b"\n"
                    else:
                        out = b"\n".join(lines) + b"\n"
                    joined[pfx] = out
                if kind is Act.LOGDIR:
                    action.target.pending.append(out)
                elif self.stdout_ok:
                    self.stdout_buf += out
            elif kind is Act.ALERT:
                self._alert(action, lines, pfx)
            else:
                self._status(action, lines[-1], pfx)

    def _alert(self, action, lines, pfx):
        size = action.size
        head = ALERT + pfx
        out = []
        for line in lines:
            if size and size + 3 < len(line):
                out.append(head + line[:size] + b"...\n")
            else:
                out.append(head + line + b"\n")
        try:
            write_all(self.report.fd, b"".join(out))
        except OSError:
            pass

    def _status(self, action, line, pfx):
        """Atomically replace the status file with the last selected line of the block."""
        content = pfx + line + b"\n"
        size = action.size
        if size:
            if len(content) > size:
                content = content[:size]
            else:
                content = content[:-1] + b"\n" * (size - len(content) + 1)
        name = action.target
        try:
            fd = os.open(name + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                         0o666)
            try:
                write_all(fd, content)
            finally:
                os.close(fd)
            os.rename(name + ".new", name)
        except OSError as e:
            self.report.warnsys("write status file " + name, e)

    # --- input -----------------------------------------------------------------------------

    def feed(self, data):
        """New bytes from stdin: run the script on every complete line."""
        if self.partial:
            data = self.partial + data
        end = data.rfind(b"\n")
        if end < 0:
            lines = []
            rest = data
        else:
            lines = data[:end].split(b"\n")
            rest = data[end + 1:]
        limit = self.linelimit
        if limit:
            if end > limit and max(map(len, lines)) > limit:
                lines = self._split(lines, limit)
            if len(rest) > limit:
                cut = (len(rest) - 1) // limit * limit
                lines.extend(rest[i:i + limit] for i in range(0, cut, limit))
                rest = rest[cut:]
        self.partial = rest
        self.run_script(lines)

    @staticmethod
    def _split(lines, limit):
        out = []
        for line in lines:
            if len(line) > limit:
                out.extend(line[i:i + limit] for i in range(0, len(line), limit))
            else:
                out.append(line)
        return out

    def end_of_input(self):
        """EOF, a read error or the end of the last line: log what is left, stop reading."""
        if self.partial:
            line, self.partial = self.partial, b""
            self.run_script([line])
        self.reading = False

    def read_stdin(self):
        size = 1 if self.last_line_mode else BLOCK
        try:
            data = os.read(self.stdin, size)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EPIPE:
                self.report.warnsys("read from stdin", e)
            self.end_of_input()
            return
        if not data:
            self.end_of_input()
        elif self.last_line_mode:
            if data == b"\n":
                self.end_of_input()
            else:
                self.partial += data
                if self.linelimit and len(self.partial) > self.linelimit:
                    self.report.warn("input line too long, stopping before the end")
                    self.end_of_input()
        else:
            self.feed(data)

    # --- signals -----------------------------------------------------------------------------

    def on_signal(self, signo):
        if signo == signal.SIGALRM:
            for ld in self.logdirs:
                ld.rotate_now()
        elif signo == signal.SIGHUP or (signo == signal.SIGTERM and not self.protect):
            if not self.reading or self.last_line_mode:
                return
            if self.partial:
                self.last_line_mode = True
                if self.lastline:
                    self.last_line_deadline = time.monotonic() + self.lastline
            else:
                self.reading = False

    def reaped(self, pid, status):
        """A child died (the loop reaps them all): a processor, whose rotation goes on."""
        for ld in self.logdirs:
            if ld.pid == pid:
                ld.processor_died(status)

    # --- output --------------------------------------------------------------------------------

    def flush_stdout(self):
        if not self.stdout_buf:
            return
        try:
            n = os.write(self.stdout, self.stdout_buf)
        except BlockingIOError:
            return
        except OSError as e:
            self.report.warnsys("write to stdout, closing the stream - error was", e)
            self.stdout_ok = False
            self.stdout_buf = bytearray()
            try:
                os.close(self.stdout)
            except OSError:
                pass
            return
        del self.stdout_buf[:n]

    def flush_logdirs(self):
        now = time.monotonic()
        for ld in self.logdirs:
            if ld.pending or ld.state is not Rot.WRITABLE:
                ld.flush(now)

    def busy(self):
        return bool(self.stdout_buf) or any(ld.busy() for ld in self.logdirs)

    def next_deadline(self):
        times = [ld.deadline for ld in self.logdirs
                 if ld.busy() and ld.state is not Rot.WAITPROCESSOR]
        if self.last_line_deadline is not None:
            times.append(self.last_line_deadline)
        return min(times) if times else None

    # --- on a loop: alone (run), or beside other loggers in a log host (log.host) ---------

    def attach(self, loop):
        """Start on LOOP: non-blocking stdin (and stdout for `1`), the -d notification."""
        self.loop = loop
        os.set_blocking(self.stdin, False)
        if self.stdout_ok:
            try:
                os.set_blocking(self.stdout, False)
            except OSError:
                pass
        if self.notif is not None:
            try:
                os.write(self.notif, b"\n")
                os.close(self.notif)
            except OSError:
                pass
            self.notif = None

    def update(self):
        """Watch stdin and stdout as the state wants them; False once the logger is done
        (stdin ended and everything written: finalize comes next)."""
        busy = self.busy()
        self._watch_fds(self.reading and not self.paused and not (self.block and busy),
                        bool(self.stdout_buf) and self.stdout_ok and not self.paused)
        return self.reading or busy

    def _watch_fds(self, want_in, want_out):
        loop = self.loop
        self._stdin_watched = _watch(want_in, self._stdin_watched, loop.add_reader,
                                     loop.remove_reader, self.stdin, self.stdin_readable)
        self._stdout_watched = _watch(want_out, self._stdout_watched, loop.add_writer,
                                      loop.remove_writer, self.stdout, self.flush_stdout)

    def after_events(self):
        """After each turn of the loop: the last-line deadline, then the flushes."""
        if self.paused:
            return
        if (self.last_line_deadline is not None and self.reading
                and time.monotonic() >= self.last_line_deadline):
            self.end_of_input()
        self.flush_logdirs()
        if self.stdout_buf and self.stdout_ok:
            self.flush_stdout()

    def detach(self):
        """Stop watching this logger's fds (it is done, or dropped)."""
        if self.loop is None:
            return
        self._watch_fds(False, False)
        self.loop = None

    def run(self):
        """s6-log alone in its process: its own loop until stdin ends, then finalize."""
        loop = Loop({signal.SIGTERM: self.on_signal, signal.SIGHUP: self.on_signal,
                     signal.SIGALRM: self.on_signal},
                    prog="s6-log", carry_on=False, own_dispositions=False)
        loop.on_orphan = self.reaped
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.attach(loop)
        while self.update():
            deadline = self.next_deadline()
            loop.run_once(None if deadline is None else max(0.0, deadline - time.monotonic()))
            self.after_events()
        self.detach()
        while True:
            retry_at = self.finalize_step()
            if retry_at is None:
                break
            time.sleep(max(retry_at - time.monotonic(), 0.0))
        loop.close()
        return 0

    def stdin_readable(self):
        if self.reading:
            self.read_stdin()

    def finalize_step(self):
        """fsync and mark every `current` as finished; None when done, else the monotonic
        time to try again (a failed step waits for the logdir's cooldown)."""
        left = [ld for ld in self.logdirs if not ld.finalize()]
        if not left:
            return None
        return min(ld.deadline for ld in left)

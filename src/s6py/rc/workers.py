"""What bringing one s6-rc service up or down means, by kind.

Each worker has `start(done)` and `stop(done)`, which return at once; `done(ok, why)` is
called later, once (`why`: the reason of a failure, in s6-rc's words).

    Longrun   supervised by PID 1 (engine.supervisor), down until s6-rc wants it:
              up = `s6-svc -u` and wait for `u`, or `U` with a notification-fd
              (s6-rc's -uwu / -uwU), bounded by timeout-up; a failed up is sent `-d`.
              down = `s6-svc -d` and wait for `D`, bounded by timeout-down.
    Oneshot   `up` / `down` (execline command lines, parsed at compile time) run as a
              child of PID 1, bounded by timeout-up / timeout-down; success is exit 0.
    Internal  one of /init's own steps standing for the overlay's built-in oneshots
              (fix-attrs, legacy-cont-init, legacy-services): a function(done).
"""

import os

__all__ = ["Longrun", "Oneshot", "Internal", "find_program"]


def _seconds(ms):
    return ms / 1000.0 if ms else None


class Longrun:
    def __init__(self, supervisor, member, timeout_up_ms=0, timeout_down_ms=0):
        self.supervisor = supervisor
        self.member = member
        self.timeout_up_ms = timeout_up_ms
        self.timeout_down_ms = timeout_down_ms

    def start(self, done):
        self.member.up()

        def reached(ok):
            if ok:
                done(True)
                return
            self.member.down()
            done(False, "timed out after %d ms" % self.timeout_up_ms)

        self.supervisor.when(self.member, "ready", _seconds(self.timeout_up_ms), reached)

    def stop(self, done):
        self.member.down()

        def reached(ok):
            done(ok, "" if ok else "timed out after %d ms" % self.timeout_down_ms)

        self.supervisor.when(self.member, "finished", _seconds(self.timeout_down_ms), reached)


def find_program(name, environ):
    """NAME as exec'd with ENVIRON's PATH (bytes dict): the first executable regular
    file along it, or NAME itself (the spawn then says why it cannot be run)."""
    if "/" in name:
        return name
    path = environ.get(b"PATH", b"/usr/bin:/bin").decode("utf-8", "surrogateescape")
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return name


class Oneshot:
    """UP_ARGV / DOWN_ARGV (lists, or None: nothing to run) with ENVIRON (bytes dict)."""

    def __init__(self, ctx, name, up_argv, down_argv, timeout_up_ms=0, timeout_down_ms=0):
        self.ctx = ctx
        self.name = name
        self.up_argv = up_argv
        self.down_argv = down_argv
        self.timeout_up_ms = timeout_up_ms
        self.timeout_down_ms = timeout_down_ms

    def start(self, done):
        self._run(self.up_argv, self.timeout_up_ms, done)

    def stop(self, done):
        self._run(self.down_argv, self.timeout_down_ms, done)

    def _run(self, argv, timeout_ms, done):
        """Spawn ARGV without waiting for its exec: PID 1 goes on with the other
        transitions while the child gets there.  Its report pipe says later whether the
        exec failed (then the transition fails with that reason, and the child's exit 127
        is not looked at); else its exit status says how the oneshot went."""
        if not argv:
            done(True)
            return
        from s6py.engine.spawn import SpawnError, spawn_nowait

        env = dict(self.ctx.tree_env)
        env[b"RC_NAME"] = os.fsencode(self.name)
        try:
            started = self.ctx.reserve.spending(
                spawn_nowait, argv, path=find_program(argv[0], env), env=env,
                cwd=self.ctx.paths.root, stdin=self.ctx.devnull, session="pgrp")
        except SpawnError as e:  # the fork itself
            done(False, e.describe())
            return
        except OSError as e:
            done(False, "unable to spawn %s: %s" % (argv[0], e.strerror))
            return
        loop = self.ctx.loop
        pid = started.pid
        timer = loop.call_later(timeout_ms / 1000.0, lambda: _kill(pid)) if timeout_ms else None
        over = []

        def finish(ok, why=""):
            if over:
                return
            over.append(True)
            if timer is not None:
                timer.cancel()
            done(ok, why)

        def exec_error():
            """The report, read once: the SpawnError of a failed exec, or None."""
            if started.fd < 0:
                return None
            loop.remove_reader(started.fd)
            return started.outcome()

        def reported():
            error = exec_error()
            if error is not None:
                finish(False, error.describe())

        def died(wstat):
            error = exec_error()  # a child that died before its report was read
            if error is not None:
                finish(False, error.describe())
            elif os.WIFEXITED(wstat) and os.WEXITSTATUS(wstat) == 0:
                finish(True)
            elif os.WIFSIGNALED(wstat):
                finish(False, "command crashed with signal %d" % os.WTERMSIG(wstat))
            else:
                finish(False, "command exited %d" % os.WEXITSTATUS(wstat))

        loop.add_reader(started.fd, reported)
        loop.watch_child(pid, died)


def _kill(pid):
    """timeout-up/timeout-down reached: the oneshot's process group is killed."""
    import _signal as signal

    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class Internal:
    """UP(done) / DOWN(done): functions calling done(ok, why) (DOWN None: nothing).
    Both are started on the next turn of LOOP, so that a step that is done at once (no
    fix-attrs.d) never calls back into the change that started it."""

    def __init__(self, loop, up, down=None):
        self.loop = loop
        self.up = up
        self.down = down

    def start(self, done):
        self.loop.call_soon(lambda: self.up(done))

    def stop(self, done):
        if self.down is None:
            self.loop.call_soon(lambda: done(True))
        else:
            self.loop.call_soon(lambda: self.down(done))

"""s6-rc's engine, run on the loop: bring a set of atomic services up (or down) in
parallel, each as soon as what it waits for is done, as `s6-rc change` does.

    up      a service starts once every service it depends on is up (a longrun with a
            notification-fd: ready); a failed one blocks its dependents, others go on
    down    a service stops once every service that depends on it and is up is down

What "start" and "stop" mean for one service is its worker's business (rc.workers:
a longrun on the supervisor, a oneshot run as a child, an internal step of /init); this
module only orders them, times the whole change out (s6-rc -t) and says what happens
in s6-rc's words:

    s6-rc: info: service NAME: starting
    s6-rc: info: service NAME successfully started
    s6-rc: info: service NAME: stopping
    s6-rc: info: service NAME successfully stopped
    s6-rc: warning: unable to start service NAME: command exited 1
    s6-rc: warning: service NAME is marked as essential, not stopping it
    s6-rc: fatal: timed out

A service whose dependency failed is silently left as it is (as s6-rc: its transition
is never examined); an essential service is not stopped by a plain down (-d), only by a
forced one (-D), and what it depends on stays up with it.

The change's result is s6-rc's exit code: 0 all done, 1 a transition failed, 2 the
timeout expired first (the transitions under way are not killed, as s6-rc).
"""

__all__ = ["Transitions", "Change", "OK", "FAILED", "TIMED_OUT"]

OK, FAILED, TIMED_OUT = 0, 1, 2


class Transitions:
    """The live state of a graph's atomic services, and the changes made to it.

    loop      engine.loop.Loop
    graph     rc.graph.Graph
    workers   name -> worker with start(done) and stop(done); done(ok, why)
    reporter  a diag.Reporter for "s6-rc", its verbosity as S6_VERBOSITY's
    """

    #: before "service NAME" in this state's info lines (rc.dryrun's: "dry run: ")
    said = ""

    def __init__(self, loop, graph, workers, reporter):
        self.loop = loop
        self.graph = graph
        self.workers = workers
        self.reporter = reporter
        self.up = set()          # atomic services that are up
        self.busy = {}           # name -> the Change moving it now
        self.changes = []        # the Changes under way (a runtime s6-rc beside the boot's)

    def change(self, names, going_up, on_done, timeout_ms=0, force=False, reporter=None):
        """Bring NAMES (bundles expanded) up with what they need, or down with what
        needs them; ON_DONE(code) once nothing more can be done.  FORCE: essential
        services go down too.  REPORTER: where this change's lines go (default ours).
        Returns the Change."""
        atoms = self.graph.expand(names)
        if going_up:
            targets = set(self.graph.closure_up(atoms))
        else:
            targets = set(self.graph.closure_down(atoms))
        change = Change(self, targets, going_up, on_done, timeout_ms, force,
                        reporter or self.reporter)
        change.begin()
        return change


class Change:
    """One `s6-rc change`: TARGETS moved in one direction."""

    def __init__(self, transitions, targets, going_up, on_done, timeout_ms, force, reporter):
        self.t = transitions
        self.say = reporter
        self.force = force
        self.targets = set(targets)
        self._waits = {}         # name -> what it waits for (see _waits_for)
        self.pending = set(targets)
        # the pending services worth examining: the others were found waiting, and nothing
        # they wait for has moved since (see _wake); all of them after another change moved
        self.candidates = set(targets)
        self.resolved = set()    # done in this change: moved, or found already there
        self.running = set()
        self.failed = set()      # transitions that failed
        self.blocked = set()     # never examined: something they wait for did not move
        self.going_up = going_up
        self.on_done = on_done
        self.timeout_ms = timeout_ms
        self.timer = None
        self.over = False
        self.said = transitions.said

    def begin(self):
        self.t.changes.append(self)
        self.say.kind(self.say.DEBUG, "info", "bringing selected services ",
                      "up" if self.going_up else "down")
        if self.timeout_ms:
            self.timer = self.t.loop.call_later(self.timeout_ms / 1000.0, self._timed_out)
        self._advance()

    # ------------------------------------------------------------ ordering

    def _waits_for(self, name):
        """The services NAME waits for in this direction: what it needs (up), what needs
        it (down).  Graph facts, looked up once per change."""
        waits = self._waits.get(name)
        if waits is None:
            graph = self.t.graph
            waits = self._waits[name] = frozenset(
                graph.requires(name) if self.going_up else graph.dependents(name))
        return waits

    def _ready_to_move(self, name):
        """Everything NAME waits for is where this change wants it: resolved in this
        change when it is one of the targets (as s6-rc counts pending dependencies),
        else already there."""
        for dep in self._waits_for(name):
            if dep in self.targets:
                if dep not in self.resolved:
                    return False
            elif self.going_up and dep not in self.t.up:
                return False
            elif not self.going_up and dep in self.t.up:
                return False
        return True

    def _blocked(self, name):
        """A dependency of NAME failed, or cannot move: NAME never will in this change."""
        return any(dep in self.failed or dep in self.blocked for dep in self._waits_for(name))

    def _wake(self, name):
        """NAME has moved, failed or been blocked: what waits for it is worth a look."""
        graph = self.t.graph
        waiters = graph.dependents(name) if self.going_up else graph.requires(name)
        self.candidates.update(w for w in waiters if w in self.pending)

    def _advance(self):
        if self.over:
            return
        self.candidates = set(self.pending)  # another change moved: anything may be free
        self._start_ready()
        self._maybe_finish()

    def _start_ready(self):
        """Move every pending service that may move now, in s6-rc's order: its database
        order, backwards (s6-rc examines services from the last to the first).  Only the
        candidates are looked at: a service found waiting is looked at again once
        something it waits for has moved, so a change of N services costs about N looks
        instead of N per move (50 longruns stopping: 25,000 looks before)."""
        progress = True
        while progress and not self.over:
            progress = False
            for name in sorted(self.candidates & self.pending, key=self.t.graph.index, reverse=True):
                if name in self.t.busy:
                    continue
                if self._blocked(name):
                    self.pending.discard(name)
                    self.blocked.add(name)
                    self._wake(name)
                    progress = True
                elif self._ready_to_move(name):
                    self.pending.discard(name)
                    self._examine(name)
                    self._wake(name)
                    progress = True
                    break  # from the top again: what NAME resolved comes next, as s6-rc
                else:
                    self.candidates.discard(name)

    def _maybe_finish(self):
        if not self.pending and not self.running:
            self._finish(FAILED if self.failed else OK)

    def _examine(self, name):
        """NAME may move now: already there, essential, or its worker's turn."""
        say = self.say
        if (name in self.t.up) == self.going_up:
            say.kind(say.DEBUG, "info", "service ", name, ": already ", "up" if self.going_up else "down")
            self.resolved.add(name)
            return
        if not self.going_up and not self.force and self.t.graph.essential(name):
            say.warn("service ", name, " is marked as essential, not stopping it")
            self.blocked.add(name)  # and what it depends on stays up with it
            return
        self._move(name)

    def _move(self, name):
        self.running.add(name)
        self.t.busy[name] = self
        worker = self.t.workers[name]
        say = self.say
        loop = self.t.loop

        def done(ok, why=""):
            # never inside this call: what NAME unblocks is examined on a later turn, and
            # the lines come in s6-rc's order whatever the worker
            loop.call_soon(lambda: self._moved(name, ok, why))

        if self.going_up:
            say.info(self.said, "service ", name, ": starting")
            worker.start(done)
        else:
            say.info(self.said, "service ", name, ": stopping")
            worker.stop(done)

    def _moved(self, name, ok, why):
        if name not in self.running:
            return  # said twice (a worker's late callback)
        self.running.discard(name)
        if self.t.busy.get(name) is self:
            del self.t.busy[name]
        if self.over:  # timed out: s6-rc has exited; the state still follows, silently
            if ok and self.going_up:
                self.t.up.add(name)
            elif ok:
                self.t.up.discard(name)
            return
        say = self.say
        self._wake(name)
        if not ok:
            self.failed.add(name)
            say.warn("unable to ", "(dry run) " if self.said else "",
                     "start" if self.going_up else "stop", " service ", name,
                     ": ", why or "it failed")
            self._start_ready()  # what waited for NAME is now blocked for good
        else:
            self.resolved.add(name)
            if self.going_up:
                self.t.up.add(name)
            else:
                self.t.up.discard(name)
            # as s6-rc: what NAME unblocks is started before NAME is said done
            self._start_ready()
            say.info(self.said, "service ", name, " successfully ",
                     "started" if self.going_up else "stopped")
        self._maybe_finish()
        for change in list(self.t.changes):  # one waiting for NAME to be free, too
            if change is not self:
                self.t.loop.call_soon(change._advance)

    # ----------------------------------------------------------------- end

    def _timed_out(self):
        self.timer = None
        if self.over:
            return
        self.say.fatal("timed out")
        # s6-rc's transitions of longruns wait with the same deadline, and say so too
        for name in sorted(self.running):
            if self.t.graph.kind(name) == "longrun" and not self.t.graph.is_internal(name):
                self.say.as_prog("s6-svlisten").fatal("timed out")
        self._finish(TIMED_OUT)

    def _finish(self, code):
        if self.over:
            return
        self.over = True
        if self in self.t.changes:
            self.t.changes.remove(self)
        # a transition still under way (the timeout came first) no longer holds its
        # service: a later change finds it as it is, and the late result still counts
        for name in self.running:
            if self.t.busy.get(name) is self:
                del self.t.busy[name]
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.on_done(code)

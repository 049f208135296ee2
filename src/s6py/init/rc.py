"""An image written for s6-overlay 3: its s6-rc services, run by PID 1 itself.

What v3's rc.init does with s6-rc-compile, s6-rc-init and `s6-rc change top`, done on the
loop with the supervision core (docs/s6-rc.md):

    sources     $profiledir/s6-rc.d, the user bundles ($S6_RUNTIME_BUNDLEDIR or
                $profiledir/user-bundles.d; dropped, with v3's warning, when s6-rc.d/user
                exists), and the overlay's own graph (written at boot under /run/s6/rc):
                  fix-attrs         oneshot                          fix-attrs.d
                  legacy-cont-init  oneshot, needs fix-attrs         cont-init.d (down: none,
                                                                     stage 3 runs cont-finish.d)
                  base              bundle: fix-attrs legacy-cont-init
                  legacy-services   oneshot, needs base and user     services.d
                  top               bundle: base legacy-services user user2
                whose oneshots are /init's own steps, not scripts.
    validation  the whole graph first (rc.graph): every problem is one line, and the
                container stops, exit code 1, before anything runs
    longruns    made at /run/s6-rc/servicedirs/NAME as s6-rc-compile would (its files
                only; the boot database links there), supervised down, linked as
                /run/service/NAME; pipelines (producer-for/consumer-for) are supervised as
                one pipeline, their pipes held by PID 1
    up          `top`, in parallel as far as dependencies allow (rc.transitions), bounded
                by S6_CMD_WAIT_FOR_SERVICES_MAXTIME (v3's default: 0, no limit)
    down        at stage 3, everything that is up, in reverse dependency order
"""

import os

from s6py.diag import Reporter
from s6py.init.context import UsesContext

__all__ = ["RcBoot", "BUILTIN"]

#: the overlay's own graph: name -> (type, dependencies, contents)
BUILTIN = {
    "fix-attrs": ("oneshot", (), ()),
    "legacy-cont-init": ("oneshot", ("fix-attrs",), ()),
    "base": ("bundle", (), ("fix-attrs", "legacy-cont-init")),
    "legacy-services": ("oneshot", ("base", "user"), ()),
    "top": ("bundle", (), ("base", "legacy-services", "user", "user2")),
}

#: the user bundles every image has, empty unless the image fills them
USER_BUNDLES = ("user", "user2")

#: the name v3's stage 2 lines carry (its rc.init script)
RC_INIT = "/run/s6/basedir/scripts/rc.init"

#: what the built-in oneshots' `up` says (they are /init's own steps, never run)
INTERNAL_UP = "s6py-internal-step\n"


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_builtin(directory, empty_bundles):
    """The overlay's graph as source definitions under DIRECTORY, with EMPTY_BUNDLES (the
    user bundles no source defines) as empty bundles."""
    os.makedirs(directory, 0o755, exist_ok=True)
    wanted = dict(BUILTIN)
    wanted.update({name: ("bundle", (), ()) for name in empty_bundles})
    for name, (kind, deps, contents) in wanted.items():
        top = os.path.join(directory, name)
        os.makedirs(top, 0o755, exist_ok=True)
        _write(os.path.join(top, "type"), kind + "\n")
        if kind == "oneshot":
            _write(os.path.join(top, "up"), INTERNAL_UP)
        for sub, names in (("dependencies.d", deps), ("contents.d", contents)):
            if names or (sub == "contents.d" and kind == "bundle"):
                os.makedirs(os.path.join(top, sub), 0o755, exist_ok=True)
                for member in names:
                    _write(os.path.join(top, sub, member), "")


class RcBoot(UsesContext):
    """The s6-rc part of stage 2 and stage 3 of an s6-rc image.

    stage2     the init.stage2.Stage2 whose legacy steps stand for the built-in oneshots
    supervisor the engine.supervisor.Supervisor of PID 1
    """

    def __init__(self, ctx, stage2, supervisor):
        UsesContext.__init__(self, ctx)
        self.stage2 = stage2
        self.supervisor = supervisor
        self.graph = None
        self.transitions = None
        self.control = None
        #: stage 3's own steps standing for the built-in oneshots' `down`: name ->
        #: function(done), set by stage 3 before it brings everything down
        self.down_steps = {}
        self.reporter = Reporter("s6-rc", self.settings.verbosity)
        self.db_writer = None    # pid of the child writing the database, while it runs
        self.after_db = []       # what waits for it (the CMD's start)

    # ------------------------------------------------------------- sources

    def profiledir(self):
        profile = self.settings.runtime_profile
        if profile:
            return self.paths.at("/etc/cont-profile.d/%s/s6-overlay" % profile)
        return self.paths.at("/etc/s6-overlay")

    def source_dirs(self):
        """[s6-rc.d, the bundle dir (if any), the overlay's own], as v3's rc.init."""
        profiledir = self.profiledir()
        rcdir = os.path.join(profiledir, "s6-rc.d")
        bundledir = self.settings.runtime_bundledir or os.path.join(profiledir, "user-bundles.d")
        dirs = [rcdir] if os.path.isdir(rcdir) else []
        if os.path.isdir(os.path.join(rcdir, "user")):
            shown = self.paths.shown(profiledir)
            self.say.line(1, "%s: warning: defining user bundles in %s/s6-rc.d is deprecated,"
                          " please define them in %s/user-bundles.d instead" % (RC_INIT, shown, shown))
            self._old_user_bundles(rcdir)
        elif os.path.isdir(bundledir):
            dirs.append(bundledir)
        missing = [name for name in USER_BUNDLES
                   if not any(os.path.isdir(os.path.join(d, name)) for d in dirs)]
        builtin = os.path.join(self.paths.run, "s6", "rc", "builtin")
        write_builtin(builtin, missing)
        dirs.append(builtin)
        return dirs

    def _old_user_bundles(self, rcdir):
        """v3's compatibility step: s6-rc.d/user and user2 are (made) bundles."""
        for name in USER_BUNDLES:
            top = os.path.join(rcdir, name)
            try:
                os.makedirs(os.path.join(top, "contents.d"), 0o755, exist_ok=True)
                _write(os.path.join(top, "type"), "bundle\n")
            except OSError as e:
                if not _reads_as_bundle(top):
                    self.say.warn("unable to make %s a bundle: %s" % (top, e.strerror))

    def compile_reporter(self):
        """s6-rc-compile's warnings, at v3's verbosity for it (S6_VERBOSITY - 1)."""
        return Reporter("s6-rc-compile", max(self.settings.verbosity - 1, 0))

    def compile(self):
        """The validated graph, or None after one line per problem."""
        from s6py.rc.graph import Graph
        from s6py.rc.source import CompileError, read_sources

        reporter = self.compile_reporter()
        try:
            definitions, problems = read_sources(self.source_dirs(), reporter)
            self.graph = Graph(definitions, problems, reporter)
        except CompileError as e:
            for problem in e.problems:
                self.say.line(0, problem)
            return None
        except OSError as e:
            self.say.line(0, "s6-rc-compile: fatal: %s" % (e.strerror or e))
            return None
        self._write_database(definitions, reporter)
        return self.graph

    def _write_database(self, definitions, reporter):
        """The compiled database at /run/s6/db, /run/s6-rc/compiled naming it (v3's
        places): what `s6-rc-db` reads in a running container.  Not needed to run, so a
        child forked from PID 1 writes it (as DB.new, renamed when complete) while the
        services start: on an overlay /run its ~100 files cost PID 1 ~100 ms.  The CMD
        waits for it (see up), so the CMD and everything after find it whole."""
        from s6py.init.stage2 import discard_tree

        db = self._database_dir()
        live = self.paths.in_run("s6-rc")
        try:
            for path in (db, db + ".new"):
                if os.path.lexists(path):
                    discard_tree(path)
            reporter.info("writing compiled information to ", self.paths.shown(db))
            os.makedirs(live, 0o755, exist_ok=True)
            _link(db, os.path.join(live, "compiled"))
        except OSError as e:
            self._database_failed(e)
            return
        write = lambda: self._database_child(db, definitions)  # noqa: E731
        from s6py.engine.spawn import SpawnError, fork_call

        try:
            self.db_writer = fork_call(write, label="the s6-rc database", stdin=self.ctx.devnull)
        except SpawnError:
            write()  # no child to be had: written here, in PID 1
            return
        self.loop.watch_child(self.db_writer, self._database_written)

    def _database_child(self, db, definitions):
        from s6py.rc import compiled

        try:
            compiled.write(self.graph, db + ".new", definitions, self.live_servicedirs())
            os.rename(db + ".new", db)
        except OSError as e:
            self._database_failed(e)
            return 1
        return 0

    def _database_dir(self):
        return os.path.join(self.paths.run, "s6", "db")

    def _database_failed(self, e):
        self.say.warn("unable to write the s6-rc database to %s: %s (s6-rc-db will not"
                      " work in this container)"
                      % (self.paths.shown(self._database_dir()), e.strerror or e))

    def _database_written(self, wstat):
        self.db_writer = None
        waiting, self.after_db = self.after_db, []
        for then in waiting:
            then()

    def when_database_written(self, then):
        """THEN() once the database child is done (at once when there is none)."""
        if self.db_writer is None:
            then()
        else:
            self.after_db.append(then)

    # ------------------------------------------------------------- workers

    def workers(self):
        from s6py.rc import workers

        graph = self.graph
        found = {}
        internal = {
            "fix-attrs": workers.Internal(self.loop, self._step(self.stage2.fix_attrs)),
            "legacy-cont-init": workers.Internal(self.loop, self._step(self.stage2.cont_init),
                                                 self._down_step("legacy-cont-init")),
            "legacy-services": workers.Internal(self.loop, self._step(self.stage2.legacy_services),
                                                self._down_step("legacy-services")),
        }
        longruns = [n for n in graph.atomics()
                    if graph.kind(n) == "longrun" and not graph.is_internal(n)]
        members = self._supervise(longruns)
        for name in graph.atomics():
            d = graph.definition(name)
            if name in internal:
                found[name] = internal[name]
            elif graph.is_internal(name):
                found[name] = workers.Internal(self.loop, _at_once)  # s6rc-oneshot-runner, -fdholder
            elif graph.kind(name) == "oneshot":
                found[name] = workers.Oneshot(self.ctx, name, d.up_argv, d.down_argv,
                                              d.timeout_up_ms, d.timeout_down_ms)
            elif name in members:
                found[name] = workers.Longrun(self.supervisor, members[name],
                                              d.timeout_up_ms, d.timeout_down_ms)
        return found

    def _step(self, step):
        """A Stage2 step (step(done)) as an internal oneshot's up."""
        return lambda done: step(lambda: done(True))

    def _down_step(self, name):
        """The built-in oneshot NAME's down: stage 3's step for it (cont-finish.d for
        legacy-cont-init, services.d down for legacy-services), found when it runs."""
        def down(done):
            step = self.down_steps.get(name)
            if step is None:
                done(True)
            else:
                step(lambda: done(True))
        return down

    def live_servicedirs(self):
        """/run/s6-rc/servicedirs: where the longruns' servicedirs are made and supervised."""
        return os.path.join(self.paths.run, "s6-rc", "servicedirs")

    def _supervise(self, longruns):
        """Make, link and supervise (down) every longrun's servicedir; {name: Member}."""
        servicedirs = self.live_servicedirs()
        os.makedirs(servicedirs, 0o755, exist_ok=True)
        paths = {}
        for name in longruns:
            dst = os.path.join(servicedirs, name)
            try:
                _make_servicedir(self.graph.definition(name), dst)
                _link(dst, os.path.join(self.paths.scandir, name))
            except OSError as e:
                self.say.line(0, "s6-rc: warning: unable to set up longrun %s: %s"
                              % (name, e.strerror or e))
                continue
            paths[name] = dst
        members = {}
        for line in self.graph.pipelines():
            if not all(n in paths for n in line):
                continue
            # a funnel's producers all write into their consumer's one pipe
            feeds = [line.index(self.graph.consumer_of(n)) if self.graph.consumer_of(n) else None
                     for n in line]
            try:
                for member in self.supervisor.pipeline([(n, paths[n]) for n in line],
                                                       want_up=False, feeds=feeds):
                    members[member.name] = member
            except OSError as e:
                self.say.line(0, "s6-rc: warning: unable to create the pipes of %s: %s"
                              % (" | ".join(line), e.strerror))
        for name, path in paths.items():
            if name not in members:
                members[name] = self.supervisor.add(name, path, want_up=False)
        return members

    # ---------------------------------------------------------- transitions

    def up(self, done):
        """Stage 2's s6-rc step: compile, supervise, bring `top` up; DONE(code)."""
        if self.compile() is None:
            done(1, "s6-rc-compile")
            return
        from s6py.rc.transitions import Transitions

        self.transitions = Transitions(self.loop, self.graph, self.workers(), self.reporter)
        self.control = RcControl(self.loop, self.paths.in_run("s6-rc"), self.transitions,
                                 self.supervisor)
        try:
            self.control.open()
        except OSError as e:
            self.say.warn("unable to open the s6-rc control FIFO in %s: %s (the s6-rc command"
                          " will not work)" % (self.control.live, e.strerror))
        self.transitions.change(
            ["top"], True,
            lambda code: self.when_database_written(lambda: done(code, "s6-rc")),
            self.settings.rc_wait_maxtime)

    def down(self, done):
        """Stage 3: everything that is up, down (s6-rc -bda change); then DONE()."""
        if self.transitions is None or not self.transitions.up:
            done()
            return
        self.transitions.change(sorted(self.transitions.up), False, lambda code: done())


def _reads_as_bundle(top):
    try:
        with open(os.path.join(top, "type")) as f:
            return f.read().strip() == "bundle"
    except OSError:
        return False


def _make_servicedir(definition, dst):
    """DST (anew): the servicedir s6-rc-compile would make of DEFINITION, the one copy of
    its files (the boot's database links to it): run and finish 0755, the numbers
    normalised, data/, env/, template/; nothing else, as in v3 (no type, dependencies,
    down, log/, nor a file s6-rc does not know)."""
    from s6py.init.stage2 import discard_tree
    from s6py.rc import compiled

    if os.path.lexists(dst):
        discard_tree(dst)
    compiled.write_servicedir(definition, dst)


def _link(target, link):
    if os.path.islink(link):
        os.unlink(link)
    os.symlink(target, link)


class _ReplyReporter(Reporter):
    """s6-rc's lines to a client's reply FIFO as `2 LINE` (never blocks: a client that
    does not read loses lines, PID 1 never waits for it)."""

    def __init__(self, fd, verbosity, prog="s6-rc"):
        Reporter.__init__(self, prog, verbosity, fd)

    def as_prog(self, prog):
        return _ReplyReporter(self.fd, self.verbosity, prog)

    def line(self, level, text):
        from s6py.rc.control import encode_line

        if level <= self.verbosity:
            _send(self.fd, encode_line("2", text))


def _send(fd, data):
    try:
        os.write(fd, data)
    except OSError:
        pass


class RcControl:
    """PID 1's end of the `s6-rc` command (rc.control): requests on LIVE/control, each
    answered on its reply FIFO; runs them on TRANSITIONS."""

    def __init__(self, loop, live, transitions, supervisor):
        self.loop = loop
        self.live = live
        self.t = transitions
        self.supervisor = supervisor
        self.fd = None
        self.partial = b""

    def open(self):
        from s6py.rc.control import CONTROL, REPLIES

        os.makedirs(os.path.join(self.live, REPLIES), 0o700, exist_ok=True)
        path = os.path.join(self.live, CONTROL)
        if os.path.lexists(path):
            os.unlink(path)
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self):
        from s6py.engine.loop import read_available
        from s6py.rc.control import decode_request

        data = read_available(self.fd, 65536)
        if not data:
            return
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if line:
                reply, args = decode_request(line)
                self.loop.guard(self.serve, reply, args)

    def serve(self, reply_path, args):
        try:
            fd = os.open(reply_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return  # the client is gone
        from s6py.rc.command import USAGE, UsageError, parse

        say = _ReplyReporter(fd, 1)
        try:
            request = parse(args)
        except UsageError as e:
            if str(e):
                say.fatal(str(e))
            else:
                say.kind(say.ERROR, "usage", USAGE)
            self._end(fd, 100)
            return
        say.verbosity = request.verbosity
        unknown = [n for n in request.names if not _known(self.t.graph, n)]
        if unknown:
            say.fatal(unknown[0], " is not a recognized identifier in ", request.live,
                      "/resolve.cdb")
            self._end(fd, 3)
            return
        handler = getattr(self, "_" + request.command)
        handler(fd, say, request)

    def _end(self, fd, code):
        from s6py.rc.control import encode_line

        _send(fd, encode_line("x", str(code)))
        os.close(fd)

    def _out(self, fd, names):
        from s6py.rc.control import encode_line

        for name in names:
            _send(fd, encode_line("1", name))

    def _selection(self, request):
        selected = set(self.t.graph.expand(request.names))
        if request.active:
            selected |= self.t.up
        return selected

    def _printable(self, request, names):
        """NAMES in s6-rc's database order (what it prints), essentials left out with -e."""
        graph = self.t.graph
        if request.hide_essentials:
            names = [n for n in names if not graph.essential(n)]
        return sorted(names, key=graph.index)

    def _help(self, fd, say, request):
        from s6py.rc.command import USAGE

        self._out(fd, [USAGE])
        self._end(fd, 0)

    def _list(self, fd, say, request):
        selected = self._selection(request)
        if not request.going_up:
            selected = set(self.t.graph.atomics()) - selected
        self._out(fd, self._printable(request, selected))
        self._end(fd, 0)

    def _listall(self, fd, say, request):
        selected = self._selection(request)
        graph = self.t.graph
        closed = graph.closure_up(selected) if request.going_up else graph.closure_down(selected)
        self._out(fd, self._printable(request, closed))
        self._end(fd, 0)

    def _diff(self, fd, say, request):
        graph = self.t.graph
        lines = []
        for name in graph.atomics():
            member = self.supervisor.members.get(name)
            if graph.kind(name) != "longrun" or member is None or member.service is None:
                continue
            wanted = member.service.status.wantup
            if wanted and name not in self.t.up:
                lines.append("+" + name)
            elif not wanted and name in self.t.up:
                lines.append("-" + name)
        self._out(fd, lines)
        self._end(fd, 1 if lines else 0)

    def _change(self, fd, say, request):
        """s6-rc change (start, stop): on the live state, or with -n on a copy of it."""
        selected = self._selection(request)
        t = self.t if request.dryrun is None else self._dry_state(fd, request)
        if request.prune:
            self._prune(t, fd, say, request, selected)
            return
        t.change(sorted(selected), request.going_up, lambda code: self._end(fd, code),
                 request.timeout_ms, force=request.force, reporter=say)

    def _dry_state(self, fd, request):
        """-n: the live state copied, with workers that print s6-rc-dryrun's lines."""
        from s6py.rc.dryrun import DryRun

        deadline = self.loop.time() + request.timeout_ms / 1000.0 if request.timeout_ms else None
        return DryRun(self.t, request.dryrun, lambda line: self._out(fd, [line]), request.live,
                      request.verbosity, deadline)

    def _prune(self, t, fd, say, request, selected):
        """-p: first down what is not wanted, then up what is (reversed with -d)."""
        graph = t.graph
        if request.going_up:
            wanted = set(graph.closure_up(selected))
        else:
            wanted = set(graph.atomics()) - set(graph.closure_down(selected))
        unwanted = sorted(t.up - wanted)

        def downed(code):
            if code:
                self._end(fd, code)
                return
            t.change(sorted(wanted), True, lambda c: self._end(fd, c),
                     request.timeout_ms, reporter=say)

        t.change(unwanted, False, downed, request.timeout_ms, force=request.force, reporter=say)

    def _reload(self, fd, say, request):
        """s6-rc reload: each named service, which must be up, gets its reload (a longrun
        `s6-svc -l`: its reload-signal; a oneshot its `reload` script), no dependency
        engine involved; exit 1 if one failed."""
        graph = self.t.graph
        names = sorted(graph.expand(request.names), key=graph.index)
        down = [n for n in names if n not in self.t.up]
        if down:
            say.fatal("service ", down[0], " is not up")
            self._end(fd, 1)
            return
        state = {"left": len(names), "failed": False}

        def one_done(name, ok, why=""):
            if ok:
                say.info("service ", name, " successfully reloaded")
            else:
                state["failed"] = True
                say.warn("unable to reload service ", name, ": ", why or "it failed")
            state["left"] -= 1
            if not state["left"]:
                self._end(fd, 1 if state["failed"] else 0)

        if not names:
            self._end(fd, 0)
        for name in names:
            self._reload_one(name, lambda ok, why="", name=name: one_done(name, ok, why))

    def _reload_one(self, name, done):
        from s6py.rc import workers

        graph = self.t.graph
        if graph.kind(name) == "longrun" and name in self.supervisor.members:
            self.supervisor.members[name].reload()
            done(True)
        elif graph.kind(name) == "oneshot" and not graph.is_internal(name):
            d = graph.definition(name)
            worker = self.t.workers.get(name)
            ctx = getattr(worker, "ctx", None)
            if ctx is None or not d.reload_argv:
                done(True)
                return
            workers.Oneshot(ctx, name, d.reload_argv, None).start(done)
        else:
            done(True)


def _known(graph, name):
    return name in graph


def _at_once(done):
    done(True)

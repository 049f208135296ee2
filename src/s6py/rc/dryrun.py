"""`s6-rc -n THROTTLE change ...`: a change simulated on a copy of the live state.

s6-rc 0.7 runs a dry run through its real engine but spawns `s6-rc-dryrun` instead of
each transition's program: s6-rc-dryrun prints the command line it was given on s6-rc's
stdout, waits THROTTLE ms and succeeds.  Nothing is started or stopped, the state file is
not written, and s6-rc's own lines say "dry run: " before "service NAME".

Here the same rc.transitions.Change runs on DryRun, a stand-in for rc.transitions'
Transitions holding a copy of which services are up, whose workers only print and wait.
The printed lines are the ones s6-overlay 3's s6-rc prints, word for word, so that a dry
run reads the same under both: a longrun's `s6-svc` and a oneshot's `s6-sudo` to
s6-rc's oneshot runner, with s6-overlay 3's paths.  s6py runs neither program (a
longrun's transition is its own supervisor's, a oneshot is PID 1's child); the lines say
what the transition is, its timeout, and in which order it comes (docs/s6-rc.md).
"""

from s6py.rc.transitions import Transitions

__all__ = ["DryRun", "command_line"]

#: where s6-overlay 3 installs s6's commands, as its s6-rc names them
S6_COMMANDS = "/package/admin/s6/command/"
#: s6-rc's timeout for s6-sudo's connection to the oneshot runner (ms)
SUDO_CONNECT_MS = "30000"


def command_line(graph, name, going_up, live, verbosity, timeout_ms):
    """The line s6-rc-dryrun prints for NAME's transition: `s6-rc-dryrun: ARGS...`."""
    d = graph.definition(name)
    if d.kind == "longrun":
        if not going_up:
            verb = "-dwD"
        else:  # readiness is waited for when the servicedir has a notification-fd
            verb = "-uwU" if (d.internal or d.notification_fd is not None) else "-uwu"
        args = [S6_COMMANDS + "s6-svc", verb, "-T", str(timeout_ms), "--",
                live + "/servicedirs/" + name]
    else:
        args = [S6_COMMANDS + "s6-sudo", "-vel0" if verbosity >= 4 else "-el0",
                "-t", SUDO_CONNECT_MS, "-T", str(timeout_ms), "--",
                live + "/servicedirs/s6rc-oneshot-runner/s", "up" if going_up else "down",
                str(graph.index(name)), " #", name]
    return "s6-rc-dryrun: " + " ".join(args)


class DryRun(Transitions):
    """TRANSITIONS' graph and a copy of its live state, with workers that pretend: a
    change made here moves the copy only (and waits for no change of the real ones).

    print_line  writes one line on the client's stdout
    deadline    the loop time by which `s6-rc -t` gives up, or None
    """

    said = "dry run: "

    def __init__(self, transitions, throttle_ms, print_line, live, verbosity, deadline=None):
        Transitions.__init__(self, transitions.loop, transitions.graph, _Workers(self),
                             transitions.reporter)
        self.up = set(transitions.up)
        self.throttle_ms = throttle_ms
        self.print_line = print_line
        self.live = live
        self.verbosity = verbosity
        self.deadline = deadline

    def timeout_for(self, name, going_up):
        """s6-rc's -T for NAME: its own timeout, lowered to what is left of `-t`'s."""
        d = self.graph.definition(name)
        own = d.timeout_up_ms if going_up else d.timeout_down_ms
        if self.deadline is None:
            return own
        left = max(1, int((self.deadline - self.loop.time()) * 1000))
        return left if not own or left < own else own


class _Workers:
    def __init__(self, dry):
        self.dry = dry

    def __getitem__(self, name):
        return _DryWorker(self.dry, name)


class _DryWorker:
    """One simulated transition: s6-rc-dryrun's line, then success THROTTLE ms later."""

    def __init__(self, dry, name):
        self.dry = dry
        self.name = name

    def start(self, done):
        self._pretend(True, done)

    def stop(self, done):
        self._pretend(False, done)

    def _pretend(self, going_up, done):
        dry = self.dry
        if dry.verbosity:
            dry.print_line(command_line(dry.graph, self.name, going_up, dry.live, dry.verbosity,
                                        dry.timeout_for(self.name, going_up)))
        dry.loop.call_later(dry.throttle_ms / 1000.0, lambda: done(True))

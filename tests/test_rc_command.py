"""The `s6-rc` command line as PID 1 reads it, and what a dry run (-n) prints for one
transition: s6-rc 0.7's option semantics and s6-rc-dryrun's lines under s6-overlay 3
(the same lines, side by side with the real s6-overlay, are in tests/rc_scenarios/12-dry-run)."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from s6py.rc import command, dryrun  # noqa: E402
from s6py.rc.graph import compile_sources  # noqa: E402


@pytest.mark.parametrize("args,force", [
    (["-d"], False), (["-D"], True), (["-d", "-e"], True), (["-D", "-E"], False),
    (["-D", "-d"], True), (["-u", "-e"], False), (["-D", "-u"], False)])
def test_essentials_go_down_only_when_hidden(args, force):
    """s6-rc checks the essential flag only when essentials are not hidden: -D hides them
    (as -d -e does), a later -E shows them again, -u never stops anything."""
    request = command.parse(args + ["change", "x"])
    assert request.force is force


def test_d_hides_essentials_from_lists_too():
    assert command.parse(["-D", "list"]).hide_essentials
    assert not command.parse(["-d", "list"]).hide_essentials


def _graph(tmp_path):
    tree = {"ready/type": "longrun\n", "ready/run": "#!/bin/sh\n", "ready/notification-fd": "3\n",
            "ready/timeout-up": "2500\n",
            "plain/type": "longrun\n", "plain/run": "#!/bin/sh\n",
            "once/type": "oneshot\n", "once/up": "true\n", "once/timeout-down": "700\n"}
    for path, text in tree.items():
        full = tmp_path / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    return compile_sources([str(tmp_path)])


def test_a_longrun_waits_for_readiness_only_with_a_notification_fd(tmp_path):
    g = _graph(tmp_path)
    line = dryrun.command_line(g, "ready", True, "/run/s6-rc", 1, 2500)
    assert line == "s6-rc-dryrun: /package/admin/s6/command/s6-svc -uwU -T 2500 -- /run/s6-rc/servicedirs/ready"
    assert " -uwu -T 0 " in dryrun.command_line(g, "plain", True, "/run/s6-rc", 1, 0)
    assert " -dwD -T 0 " in dryrun.command_line(g, "ready", False, "/run/s6-rc", 1, 0)
    # s6-rc's own longruns have a notification-fd
    assert " -uwU " in dryrun.command_line(g, "s6rc-oneshot-runner", True, "/l", 1, 0)


def test_a_oneshot_is_its_number_sent_to_the_runner(tmp_path):
    g = _graph(tmp_path)
    line = dryrun.command_line(g, "once", False, "/live", 2, 700)
    assert line == ("s6-rc-dryrun: /package/admin/s6/command/s6-sudo -el0 -t 30000 -T 700 -- "
                    "/live/servicedirs/s6rc-oneshot-runner/s down %d  # once" % g.index("once"))
    # the longruns are numbered first, s6-rc's two of its own before the sources'
    assert g.index("once") == 4
    assert " -vel0 " in dryrun.command_line(g, "once", True, "/live", 4, 0)


class _Clock:
    def __init__(self):
        self.now = 100.0

    def time(self):
        return self.now


class _Live:
    def __init__(self, graph):
        self.loop, self.graph, self.reporter, self.up = _Clock(), graph, None, set()


def test_the_timeout_is_lowered_to_what_is_left_of_the_global_one(tmp_path):
    g = _graph(tmp_path)
    live = _Live(g)
    dry = dryrun.DryRun(live, 0, None, "/run/s6-rc", 1, deadline=101.0)
    assert dry.timeout_for("ready", True) == 1000   # its own 2500 is longer
    assert dry.timeout_for("plain", True) == 1000   # none of its own
    live.loop.now = 100.8
    assert dry.timeout_for("once", False) == 200
    live.loop.now = 102.0
    assert dry.timeout_for("once", False) == 1      # past: s6-rc says 1, never 0
    assert dryrun.DryRun(live, 0, None, "/l", 1).timeout_for("ready", True) == 2500

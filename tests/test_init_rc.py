"""s6-rc images (s6-overlay 3's /etc/s6-overlay/s6-rc.d) booted by /init as PID 1 of a
private namespace: the graph, its order both ways, readiness, failures, pipelines."""

import time

import pytest

from test_init_support import box_fixture, read

box = box_fixture()

LOG = "data/events"


def rc_service(box, name, kind, deps=(), contents=(), files=None):
    """/etc/s6-overlay/s6-rc.d/NAME of type KIND, with dependencies.d / contents.d."""
    base = "etc/s6-overlay/s6-rc.d/%s/" % name
    box.file(base + "type", kind + "\n")
    for dep in deps:
        box.file(base + "dependencies.d/" + dep, "")
    for member in contents:
        box.file(base + "contents.d/" + member, "")
    for filename, (text, mode) in (files or {}).items():
        box.file(base + filename, text, mode)


def oneshot(box, name, deps=(), up_code=0, with_down=True, extra=""):
    """A oneshot whose `up` is the path of a script (v3's idiom) logging NAME up/down."""
    script = box.script("data/scripts/%s-up" % name,
                        'echo "%s up" >> "$S6PY_ROOT/%s"\n%sexit %d\n' % (name, LOG, extra, up_code))
    files = {"up": (script + "\n", 0o644)}
    if with_down:
        down = box.script("data/scripts/%s-down" % name, 'echo "%s down" >> "$S6PY_ROOT/%s"\n' % (name, LOG))
        files["down"] = (down + "\n", 0o644)
    rc_service(box, name, "oneshot", deps, files=files)


def longrun(box, name, deps=(), run=None, files=None):
    body = run or 'echo "%s up" >> "$S6PY_ROOT/%s"\nexec sleep 100\n' % (name, LOG)
    all_files = {"run": ("#!/bin/sh\n" + body, 0o644),
                 "finish": ('#!/bin/sh\necho "%s down" >> "$S6PY_ROOT/%s"\n' % (name, LOG), 0o644)}
    all_files.update(files or {})
    rc_service(box, name, "longrun", deps, files=all_files)


def user_bundle(box, *names):
    for name in names:
        box.file("etc/s6-overlay/user-bundles.d/user/contents.d/" + name, "")
    box.file("etc/s6-overlay/user-bundles.d/user/type", "bundle\n")


def events(box):
    try:
        return read(box.path(LOG)).split("\n")[:-1]
    except FileNotFoundError:
        return []


CMD_EVENTS = ["sh", "-c", 'sleep 0.3; cat "$S6PY_ROOT/%s"; echo cmd' % LOG]


def test_oneshot_longrun_bundle_then_the_cmd(box):
    oneshot(box, "init-a")
    longrun(box, "svc-b", deps=("init-a",))
    user_bundle(box, "init-a", "svc-b")
    r = box.run(CMD_EVENTS)
    assert r.code == 0, r.err
    assert r.out.split("\n")[:3] == ["init-a up", "svc-b up", "cmd"], r
    for line in ("s6-rc: info: service init-a: starting",
                 "s6-rc: info: service init-a successfully started",
                 "s6-rc: info: service svc-b successfully started"):
        assert line in r.err, r.err
    # at the stop: svc-b down before init-a's down runs
    assert events(box)[-2:] == ["svc-b down", "init-a down"], events(box)


def test_chain_and_diamond_order_both_ways(box):
    oneshot(box, "a")
    oneshot(box, "b", deps=("a",))
    oneshot(box, "c", deps=("a",))
    oneshot(box, "d", deps=("b", "c"))
    user_bundle(box, "d")
    r = box.run(["true"])
    assert r.code == 0, r.err
    seen = events(box)
    ups = [e.split()[0] for e in seen if e.endswith(" up")]
    downs = [e.split()[0] for e in seen if e.endswith(" down")]
    assert ups[0] == "a" and ups[-1] == "d" and sorted(ups) == ["a", "b", "c", "d"], seen
    assert downs[0] == "d" and downs[-1] == "a" and sorted(downs) == ["a", "b", "c", "d"], seen


def test_a_oneshot_waits_for_its_longrun_to_be_ready(box):
    longrun(box, "slow", run='sleep 0.4\necho "slow ready" >> "$S6PY_ROOT/%s"\necho >&3\n'
            'exec sleep 100\n' % LOG, files={"notification-fd": ("3\n", 0o644)})
    oneshot(box, "after", deps=("slow",))
    user_bundle(box, "after")
    r = box.run(["true"])
    assert r.code == 0, r.err
    seen = events(box)
    assert seen.index("slow ready") < seen.index("after up"), seen


@pytest.mark.parametrize("behaviour, code, cmd_runs", [(0, 0, True), (1, 0, True), (2, 1, False)])
def test_a_failing_oneshot_and_s6_behaviour_if_stage2_fails(box, behaviour, code, cmd_runs):
    oneshot(box, "bad", up_code=1)
    oneshot(box, "needs-bad", deps=("bad",))
    oneshot(box, "fine")
    user_bundle(box, "needs-bad", "fine")
    r = box.run(["sh", "-c", "echo cmd-ran"], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": str(behaviour)})
    assert r.code == code, r
    assert ("cmd-ran" in r.out) == cmd_runs, r
    assert "s6-rc: warning: unable to start service bad: command exited 1" in r.err, r.err
    seen = events(box)
    assert "fine up" in seen and "bad up" in seen and "needs-bad up" not in seen, seen
    banner = "rc.init: warning: s6-rc failed to properly bring all the services up!"
    assert (banner in r.err) == (behaviour >= 1), r.err


@pytest.mark.parametrize("layout, message", [
    ({"a/type": "oneshot\n", "a/up": "true\n", "a/dependencies.d/nope": ""}, "nope"),
    ({"a/type": "oneshot\n", "a/up": "true\n", "a/dependencies.d/b": "",
      "b/type": "oneshot\n", "b/up": "true\n", "b/dependencies.d/a": ""}, "cycle"),
    ({"a/up": "true\n"}, "type"),
    ({"s6rc-mine/type": "oneshot\n", "s6rc-mine/up": "true\n"}, "s6rc-mine"),
])
def test_an_invalid_graph_stops_before_anything_runs(box, layout, message):
    for rel, text in layout.items():
        box.file("etc/s6-overlay/s6-rc.d/" + rel, text)
    box.script("etc/cont-init.d/00", 'echo "cont-init ran" >> "$S6PY_ROOT/%s"\n' % LOG)
    r = box.run(["sh", "-c", "echo cmd-ran"])
    assert r.code != 0, r
    assert "cmd-ran" not in r.out
    assert events(box) == []
    lines = [line for line in r.err.splitlines() if "s6-rc-compile" in line]
    assert lines and message in " ".join(lines), r.err


def test_a_pipeline_of_three_loses_no_line_across_a_restart(box):
    """The middle member is killed while the pipe is quiet (the producer waits for a flag
    after 100 lines: what a reader had read and not written is lost under any supervisor,
    and sed -u reads bytes); the next 100 lines wait in the pipe PID 1 holds."""
    out, flag = box.path("data/piped"), box.path("data/flag")
    longrun(box, "p", run='i=0\nwhile [ $i -lt 100 ]; do echo $i; i=$((i+1)); sleep 0.005; done\n'
            'while [ ! -e "%s" ]; do sleep 0.01; done\n'
            'while [ $i -lt 200 ]; do echo $i; i=$((i+1)); sleep 0.005; done\n'
            'exec sleep 100\n' % flag, files={"producer-for": ("m\n", 0o644)})
    longrun(box, "m", run="exec sed -u 's/^/m:/'\n",
            files={"consumer-for": ("p\n", 0o644), "producer-for": ("c\n", 0o644)})
    longrun(box, "c", run='exec cat >> "%s"\n' % out,
            files={"consumer-for": ("m\n", 0o644), "pipeline-name": ("pipe\n", 0o644)})
    user_bundle(box, "pipe")
    script = r'''
i=0; while [ "$(wc -l < "%s" 2>/dev/null || echo 0)" -lt 100 ] && [ $i -lt 300 ]; do sleep 0.02; i=$((i+1)); done
s6-svc -k "$S6PY_ROOT/run/service/m"
touch "%s"
i=0; while [ "$(wc -l < "%s" 2>/dev/null || echo 0)" -lt 200 ] && [ $i -lt 300 ]; do sleep 0.02; i=$((i+1)); done
''' % (out, flag, out)
    r = box.run(["sh", "-c", script], timeout=30)
    assert r.code == 0, r.err
    assert read(out).split() == ["m:%d" % i for i in range(200)]


def test_legacy_cont_init_and_services_d_run_with_the_graph(box):
    box.script("etc/cont-init.d/10-x", 'echo "cont-init" >> "$S6PY_ROOT/%s"\n' % LOG)
    box.service("legacy", 'echo "legacy up" >> "$S6PY_ROOT/%s"\nexec sleep 100\n' % LOG)
    oneshot(box, "init-mine", deps=("base",))
    user_bundle(box, "init-mine")
    r = box.run(["sh", "-c", 'sleep 0.3; cat "$S6PY_ROOT/%s"' % LOG])
    assert r.code == 0, r.err
    seen = r.out.split("\n")
    # base (cont-init) before init-mine (it depends on base); services.d after user is up
    assert seen.index("cont-init") < seen.index("init-mine up") < seen.index("legacy up"), r


def test_longruns_are_visible_at_run_service(box):
    longrun(box, "svc", files={})
    user_bundle(box, "svc")
    r = box.run(["sh", "-c", 's6-svstat "$S6PY_ROOT/run/service/svc";'
                 ' readlink "$S6PY_ROOT/run/service/svc"'])
    assert r.code == 0, r.err
    status, target = r.out.splitlines()[:2]
    assert status.startswith("up (pid "), r.out
    assert target.endswith("/run/s6-rc/servicedirs/svc"), target


def test_a_longrun_servicedir_holds_s6_rc_files_only_and_the_database_links_to_it(box):
    """As v3 (s6-rc-compile, then s6-rc-init's copy): the live servicedir has run, finish,
    the numbers (normalised), data/; not type, dependencies.d, down, log/ or a helper file
    beside run.  The boot database's servicedirs/svc is a link to it, not a second copy,
    and s6-rc-db reads that database."""
    longrun(box, "svc", deps=("base",), run="echo >&3\nexec sleep 100\n", files={
        "notification-fd": ("03\n", 0o644), "helper.sh": ("echo hi\n", 0o755),
        "down": ("", 0o644), "data/conf": ("x=1\n", 0o644), "log/run": ("#!/bin/sh\n", 0o755)})
    user_bundle(box, "svc")
    r = box.run(["sh", "-c", 'cd "$S6PY_ROOT/run"; ls -A s6-rc/servicedirs/svc; echo --;'
                 ' cat s6-rc/servicedirs/svc/notification-fd; readlink s6/db/servicedirs/svc;'
                 ' s6-rc-db -l "$S6PY_ROOT/run/s6-rc" type svc'])
    assert r.code == 0, r.err
    listing, rest = r.out.split("--\n")
    assert listing.split() == ["data", "event", "finish", "notification-fd", "run", "supervise"], r.out
    assert rest.splitlines() == ["3", box.path("run/s6-rc/servicedirs/svc"), "longrun"], r.out


def test_the_database_is_whole_when_the_cmd_starts(box):
    """PID 1 leaves the database to a child, which writes it as db.new and renames it;
    the CMD starts only once that child is done, so it finds every service in it and no
    half-written db.new beside it.  1000 bundles: nothing to start, much to write
    (with 150 the child was done before the CMD even without the wait)."""
    names = ["s%03d" % i for i in range(1000)]
    for name in names:
        rc_service(box, name, "bundle", contents=("base",))
    user_bundle(box, *names)
    r = box.run(["sh", "-c", 'cd "$S6PY_ROOT/run"; ls s6; echo --;'
                 ' s6-rc-db -l "$S6PY_ROOT/run/s6-rc" list bundles'])
    assert r.code == 0, r.err
    listing, bundles = r.out.split("--\n")
    assert "db.new" not in listing.split(), r.out
    assert set(names) <= set(bundles.split()), r.out
    assert "unable to write the s6-rc database" not in r.err, r.err


def test_a_v2_image_is_untouched(box):
    """No s6-rc.d definitions: the v1/v2 boot, its lines, no s6-rc line."""
    box.script("etc/cont-init.d/00", "true\n")
    r = box.run(["true"])
    assert r.code == 0
    assert "s6-rc" not in r.err
    assert "[cont-init.d] 00: exited 0." in r.err


def test_stop_waits_for_longruns_in_reverse_order(box):
    longrun(box, "db")
    longrun(box, "app", deps=("db",))
    user_bundle(box, "app")
    t0 = time.monotonic()
    r = box.run(["true"])
    assert r.code == 0, r.err
    assert time.monotonic() - t0 < 5
    seen = events(box)
    assert seen.index("app down") < seen.index("db down"), seen


def test_the_s6_rc_command_lists_and_changes_the_live_state(box):
    longrun(box, "svc")
    oneshot(box, "once", deps=("svc",))
    user_bundle(box, "once")
    script = r'''
live="$S6PY_ROOT/run/s6-rc"
echo "== active"; s6-rc -l "$live" -a list
echo "== down"; s6-rc -l "$live" -v2 -d change svc; echo "rc=$?"
s6-svstat -o up "$S6PY_ROOT/run/service/svc"
echo "== active"; s6-rc -l "$live" -a list
echo "== up"; s6-rc -l "$live" -u change once; echo "rc=$?"
s6-svstat -o up "$S6PY_ROOT/run/service/svc"
echo "== unknown"; s6-rc -l "$live" -u change nope; echo "rc=$?"
echo "== listall"; s6-rc -l "$live" listall once
echo "== usage"; s6-rc -l "$live" frobnicate; echo "rc=$?"
'''
    r = box.run(["sh", "-c", script], timeout=30)
    assert r.code == 0, r.err
    sections = {}
    for block in r.out.split("== ")[1:]:
        title, _, body = block.partition("\n")
        sections.setdefault(title, []).append(body.split())
    first, after_down = sections["active"]
    assert {"svc", "once", "fix-attrs", "legacy-cont-init", "legacy-services"} <= set(first), first
    # down svc: once (which needs it) goes down first, then svc
    assert sections["down"][0] == ["rc=0", "false"], r.out
    assert "svc" not in after_down and "once" not in after_down, after_down
    assert sections["up"][0] == ["rc=0", "true"], r.out
    assert sections["unknown"][0] == ["rc=3"], r.out
    assert set(sections["listall"][0]) >= {"once", "svc"}, r.out
    assert sections["usage"][0] == ["rc=100"], r.out
    for line in ("s6-rc: info: service once: stopping", "s6-rc: info: service svc successfully stopped"):
        assert line in r.err, r.err
    assert "s6-rc: fatal: nope is not a recognized identifier" in r.err, r.err
    assert r.err.index("service once: stopping") < r.err.index("service svc: stopping")


def test_s6_rc_reload_signals_a_longrun_and_runs_a_oneshots_reload(box):
    longrun(box, "svc", run='trap \'echo "svc reloaded" >> "$S6PY_ROOT/%s"\' HUP\n'
            'echo "svc up" >> "$S6PY_ROOT/%s"\nwhile :; do sleep 0.05; done\n' % (LOG, LOG))
    reload_script = box.script("data/scripts/once-reload", 'echo "once reloaded" >> "$S6PY_ROOT/%s"\n' % LOG)
    oneshot(box, "once")
    box.file("etc/s6-overlay/s6-rc.d/once/reload", reload_script + "\n")
    oneshot(box, "idle", with_down=False)
    user_bundle(box, "svc", "once")
    script = r'''
live="$S6PY_ROOT/run/s6-rc"
i=0; while ! grep -q "svc up" "$S6PY_ROOT/data/events" && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done
s6-rc -l "$live" -v2 reload svc once; echo "rc=$?"
s6-rc -l "$live" reload idle; echo "rc=$?"
i=0; while ! grep -q "svc reloaded" "$S6PY_ROOT/data/events" && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done
'''
    r = box.run(["sh", "-c", script], timeout=30)
    assert r.code == 0, r.err
    assert r.out.split() == ["rc=0", "rc=1"], (r.out, r.err)
    assert "svc reloaded" in events(box) and "once reloaded" in events(box), events(box)
    assert "s6-rc: info: service svc successfully reloaded" in r.err, r.err
    assert "s6-rc: fatal: service idle is not up" in r.err, r.err


def test_s6_rc_dry_run_prints_the_transitions_and_changes_nothing(box):
    """-n THROTTLE: s6-rc-dryrun's line for each transition s6-rc would make (s6-overlay
    3's command lines), the "dry run:" info lines in the change's order, THROTTLE ms per
    transition, and the live state as it was."""
    longrun(box, "svc", files={"timeout-down": ("1500\n", 0o644)})
    oneshot(box, "once", deps=("svc",))
    user_bundle(box, "once")
    script = r'''
live="$S6PY_ROOT/run/s6-rc"
i=0; while ! grep -q "once up" "$S6PY_ROOT/data/events" && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done
echo "== dry"; s6-rc -l "$live" -v2 -n 0 -d change svc 2>"$S6PY_ROOT/data/dry.err"; echo "rc=$?"
echo "== active"; s6-rc -l "$live" -a list
echo "== svc"; s6-svstat -o up "$S6PY_ROOT/run/service/svc"
echo "== quiet"; s6-rc -l "$live" -v0 -n 0 -d change svc 2>&1; echo "rc=$?"
t0=$(date +%s%N); s6-rc -l "$live" -n 300 -d change svc >/dev/null; t1=$(date +%s%N)
echo "== ms"; echo $(( (t1 - t0) / 1000000 ))
echo "== events"; cat "$S6PY_ROOT/data/events"
'''
    r = box.run(["sh", "-c", script], timeout=30)
    assert r.code == 0, r.err
    sections = {}
    for block in r.out.split("== ")[1:]:
        title, _, body = block.partition("\n")
        sections[title] = body.splitlines()
    live = box.path("run/s6-rc")
    dry = [line for line in sections["dry"] if line.startswith("s6-rc-dryrun:")]
    once_line = ("s6-rc-dryrun: /package/admin/s6/command/s6-sudo -el0 -t 30000 -T 0 -- "
                 "%s/servicedirs/s6rc-oneshot-runner/s down " % live)
    assert any(line.startswith(once_line) and line.endswith("  # once") for line in dry), dry
    svc_line = "s6-rc-dryrun: /package/admin/s6/command/s6-svc -dwD -T 1500 -- %s/servicedirs/svc" % live
    assert svc_line in dry, dry
    assert dry.index(svc_line) == len(dry) - 1, dry  # once (which needs svc) first
    assert sections["dry"][-1] == "rc=0", sections["dry"]
    err = read(box.path("data/dry.err"))
    for line in ("s6-rc: info: dry run: service once: stopping",
                 "s6-rc: info: dry run: service svc successfully stopped"):
        assert line in err, err
    # s6-rc's order: what a move unblocks starts before the move is said done
    assert err.index("service once: stopping") < err.index("service svc: stopping") < \
        err.index("service once successfully stopped"), err
    # nothing moved: both still up, and their scripts never ran down
    assert {"svc", "once"} <= set(sections["active"]), sections["active"]
    assert sections["svc"] == ["true"], r.out
    # (in either order: svc counts as up at its spawn, before its script has logged)
    assert sorted(sections["events"]) == ["once up", "svc up"], r.out
    assert sections["quiet"] == ["rc=0"], r.out  # -v0: s6-rc-dryrun prints nothing either
    # once, then svc, one after the other: at least two throttles
    assert int(sections["ms"][0]) >= 600, r.out


def test_a_oneshot_that_cannot_be_exec_d_fails_with_the_reason(box):
    """Oneshots are spawned without waiting for their exec: a missing program is still
    its transition's failure, said once, with the reason, and what depends on it stays down."""
    rc_service(box, "broken", "oneshot", files={"up": ("/nonexistent/program arg\n", 0o644)})
    oneshot(box, "after", deps=("broken",))
    oneshot(box, "fine")
    user_bundle(box, "after", "fine")
    r = box.run(["true"], timeout=30)
    lines = [line for line in r.err.splitlines() if "unable to start service broken" in line]
    assert len(lines) == 1 and "/nonexistent/program" in lines[0] and \
        "No such file or directory" in lines[0], r.err
    assert "fine up" in events(box) and "after up" not in events(box), (events(box), r.err)

"""A `run` with a with-contenv shebang runs in a child forked from PID 1, not through a
new interpreter for with-contenv (src/s6py/cmd/forkedrun.py, docs/supervision.md).

Each test boots /init as PID 1 of a private namespace twice: as shipped, and with
S6PY_FORKED_RUNS=0 (every ./run exec'd, as before), and compares what the service saw."""

import pytest

from test_init_support import box_fixture

box = box_fixture()

#: what a service can see of how it was started: argv, environment, umask, signal
#: mask and ignored signals, open fds, session leadership
PROBE = r'''echo "argv: $0 $*"
env | LC_ALL=C sort | grep -v '^_=' | sed 's/^/env: /'
echo "umask: $(umask)"
grep -E '^(SigBlk|SigIgn)' /proc/self/status
echo "fds: $(ls /proc/self/fd | tr '\n' ' ')"
echo "sid=pid: $(test "$(cut -d' ' -f6 /proc/self/stat)" = "$$" && echo yes)"
'''


def with_contenv_service(box, name, body, argument="sh", interpreter=None):
    box.service(name, body)
    path = box.path("etc/services.d/%s/run" % name)
    with open(path) as f:
        text = f.read()
    shebang = "#!%s %s" % (interpreter or box.bin + "/with-contenv", argument)
    with open(path, "w") as f:
        f.write(text.replace("#!/bin/sh", shebang.rstrip(), 1))


def both_ways(box, cmd, env=None):
    """(as shipped, with S6PY_FORKED_RUNS=0): the Result of one boot each."""
    results = []
    for switch in ({}, {"S6PY_FORKED_RUNS": "0"}):
        results.append(box.run(["sh", "-c", cmd], env=dict(env or {}, **switch)))
    return results


WAIT = 'until [ -s "$S6PY_ROOT/data/%s" ]; do sleep 0.02; done\n'


def test_a_restart_needs_no_python3_binary(box):
    """With python3 made unusable after boot, only the forked way can start the service
    again: with-contenv's work is done by PID 1's child, which needs no new interpreter."""
    with_contenv_service(box, "a", 'echo $$ > "$S6PY_ROOT/data/a.pid"\n'
                         'echo "a FOO=$FOO" >> "$S6PY_ROOT/data/a"\nexec sleep 100\n')
    script = WAIT % "a" + r'''
mount --bind /bin/false /usr/bin/python3
kill "$(cat "$S6PY_ROOT/data/a.pid")"
i=0; until [ "$(wc -l < "$S6PY_ROOT/data/a")" -ge 2 ] || [ $i -ge 100 ]; do sleep 0.02; i=$((i+1)); done
umount /usr/bin/python3
cat "$S6PY_ROOT/data/a"
'''
    forked, execd = [], []
    for results, switch in ((forked, {}), (execd, {"S6PY_FORKED_RUNS": "0"})):
        r = box.run(["sh", "-c", script], env=dict({"FOO": "bar"}, **switch))
        assert r.code == 0, r
        results.append(r.out)
        box.file("data/a", "")
    assert forked == ["a FOO=bar\na FOO=bar\n"]
    assert execd == ["a FOO=bar\n"]  # the control: an exec'd with-contenv needs python3


@pytest.mark.parametrize("argument", ["sh", "sh -e", "/bin/sh"])
def test_the_service_sees_what_an_exec_would_give_it(box, argument):
    with_contenv_service(box, "probe", "{\n%s} > \"$S6PY_ROOT/data/probe.tmp\"\n"
                         'mv "$S6PY_ROOT/data/probe.tmp" "$S6PY_ROOT/data/probe"\n'
                         "exec sleep 100\n" % PROBE, argument=argument)
    forked, execd = both_ways(box, WAIT % "probe" + 'cat "$S6PY_ROOT/data/probe"',
                              env={"FOO": "bar"})
    assert forked.code == execd.code == 0, (forked, execd)
    assert forked.out == execd.out
    seen = forked.out.splitlines()
    assert "argv: ./run probe" in seen and "env: FOO=bar" in seen, seen
    assert "sid=pid: yes" in seen, seen


def test_a_renamed_link_is_forked_and_another_with_contenv_is_execd(box):
    """linuxserver's `mv with-contenv with-contenvb` still reaches ours (forked); a
    with-contenv of the image's own (not our launcher) is exec'd, as always."""
    import os

    os.symlink(box.bin + "/with-contenv", box.bin + "/with-contenvb")
    theirs = box.script("data/bin/with-contenv", 'echo "theirs" >> "$S6PY_ROOT/data/t"\nexec "$@"\n')
    with_contenv_service(box, "r", 'echo "r $FOO" >> "$S6PY_ROOT/data/r"\nexec sleep 100\n',
                         interpreter=box.bin + "/with-contenvb")
    with_contenv_service(box, "t", 'echo "t" >> "$S6PY_ROOT/data/t"\nexec sleep 100\n',
                         interpreter=theirs)
    r = box.run(["sh", "-c", WAIT % "r" + WAIT % "t" + 'sleep 0.2; cat "$S6PY_ROOT/data/r" "$S6PY_ROOT/data/t"'],
                env={"FOO": "bar"})
    assert r.code == 0, r
    assert r.out.splitlines() == ["r bar", "theirs", "t"], r


def test_a_missing_shell_says_what_with_contenv_says(box):
    with_contenv_service(box, "m", "exec sleep 100\n", argument="no-such-shell")
    forked, execd = both_ways(box, "sleep 0.5")
    line = "with-contenv: fatal: unable to exec no-such-shell: No such file or directory"
    assert line in forked.err and line in execd.err, (forked.err, execd.err)
    assert "Traceback" not in forked.err


def test_cont_init_and_cont_finish_scripts_are_forked_too(box):
    """A cont-finish.d script with our with-contenv shebang still runs after the CMD made
    python3 unusable (forked), not with S6PY_FORKED_RUNS=0 (the control); a 0644
    cont-init.d script (as from git) runs through its shebang the same both ways."""
    shebang = "#!%s/with-contenv sh\n" % box.bin
    box.script("etc/cont-init.d/10-mode", 'echo "init FOO=$FOO $0" >> "$S6PY_ROOT/data/init"\n',
               mode=0o644, shebang=shebang)
    box.script("etc/cont-finish.d/10-bye", 'echo "finish FOO=$FOO" >> "$S6PY_ROOT/data/finish"\n',
               shebang=shebang)
    seen = []
    for switch in ({}, {"S6PY_FORKED_RUNS": "0"}):
        for name in ("init", "finish"):
            box.file("data/" + name, "")
        r = box.run(["sh", "-c", "mount --bind /bin/false /usr/bin/python3"],
                    env=dict({"FOO": "bar"}, **switch))
        with open(box.path("data/init")) as f, open(box.path("data/finish")) as g:
            seen.append((f.read(), g.read(), r.code))
    init_line = "init FOO=bar %s\n" % box.path("etc/cont-init.d/10-mode")
    assert seen[0] == (init_line, "finish FOO=bar\n", 0), seen
    assert seen[1][0] == init_line and seen[1][1] == "", seen

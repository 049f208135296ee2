"""Log hosts under /init (PID 1 of a private namespace): the recognised loggers of one
identity run in one process forked from PID 1 (docs/logging.md, "Log hosts").

Each test asks the running tree through s6-svstat/s6-svc, as a user would with
`docker exec`, and then reads the logdirs: every line where it belongs, none lost."""

import os
import time

import pytest

from log_support import lines_of, logdir_parent
from test_init_support import box_fixture, wait_for

box = box_fixture()


def facts(result):
    out = {}
    for line in result.out.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


#: wait until FILE ($2...) is non-empty, for each file named
WAIT_FOR = r"""
for f in "$@"; do
  i=0; until [ -s "$f" ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
done
"""

#: the CMD: pid, parent, uid and comm of each logger named in $LOGGERS
PIDS = WAIT_FOR + r"""
for s in $LOGGERS; do
  pid=$(s6-svstat -p "$S6PY_ROOT/run/service/$s/log")
  echo "$s=$pid $(awk '/^PPid/{print $2}' /proc/$pid/status) $(awk '/^Uid/{print $2}' /proc/$pid/status) $(cat /proc/$pid/comm)"
done
"""


def pids(result):
    return {k: v.split() for k, v in facts(result).items()}


def test_loggers_of_one_identity_share_one_host(box):
    parent = logdir_parent(box)
    currents = []
    for name in ("a", "b", "c"):
        box.service(name, "echo hello from %s\nexec sleep 1000\n" % name,
                    log="exec s6-log -b n3 s4096 %s/%s\n" % (parent, name))
        currents.append("%s/%s/current" % (parent, name))
    for name in ("d", "e"):
        box.service(name, "echo hello from %s\nexec sleep 1000\n" % name,
                    log="exec logutil-service %s/%s\n" % (parent, name))
        currents.append("%s/%s/current" % (parent, name))
    r = box.run(["sh", "-c", PIDS, "sh"] + currents, env={"LOGGERS": "a b c d e"})
    assert r.code == 0, r
    p = pids(r)
    assert p["a"] == p["b"] == p["c"], p          # root's loggers: one host
    assert p["d"] == p["e"], p                    # logutil-service's nobody: another
    assert p["a"][0] != p["d"][0], p
    assert p["a"][1:] == ["1", "0", "s6-log"] and p["d"][1:] == ["1", "65534", "s6-log"], p
    for name in "abcde":
        assert lines_of("%s/%s" % (parent, name)) == ["hello from %s" % name], name
    st = os.stat("%s/d/current" % parent)
    assert (st.st_uid, st.st_mode & 0o777) == (65534, 0o744)  # written as nobody, finalised
    assert "Traceback" not in r.err and "warning" not in r.err, r.err


def test_switched_off_each_logger_is_forked_on_its_own(box):
    parent = logdir_parent(box)
    for name in ("a", "b"):
        box.service(name, "echo x\nexec sleep 1000\n",
                    log="exec s6-log n3 %s/%s\n" % (parent, name))
    r = box.run(["sh", "-c", PIDS, "sh", parent + "/a/current", parent + "/b/current"],
                env={"LOGGERS": "a b", "S6PY_LOG_HOSTS": "0"})
    p = pids(r)
    assert p["a"][0] != p["b"][0] and p["a"][1:] == ["1", "0", "s6-log"], (p, r)


#: services a and b: 5 rounds of 300 numbered lines; after each round they wait for go-R
PRODUCER = r"""
d="$S6PY_ROOT/data"; i=0
for r in 0 1 2 3 4; do
  end=$(( (r + 1) * 300 ))
  while [ $i -lt $end ]; do echo $i; i=$((i+1)); done
  until [ -e "$d/go-$r" ]; do sleep 0.01; done
done
exec sleep 1000
"""

#: the CMD: once a round is in both logdirs, do $ACTION (to logger a, or to the host),
#: then let the producers write the next round while the logger (or the host) is dead
KILLER = r"""
d="$S6PY_ROOT/data"; svc="$S6PY_ROOT/run/service"
for r in 0 1 2 3 4; do
  last=$(( (r + 1) * 300 - 1 ))
  for l in "$1" "$2"; do
    i=0; until grep -q "^$last\$" "$l/current" 2>/dev/null || [ $i -ge 1500 ]; do sleep 0.02; i=$((i+1)); done
  done
  echo "round$r=$(s6-svstat -p "$svc/a/log") $(s6-svstat -p "$svc/b/log")"
  if [ $r -lt 4 ]; then
    case $ACTION in
      kill-logger) s6-svc -k "$svc/a/log" ;;
      kill-host) kill -9 "$(s6-svstat -p "$svc/a/log")" ;;
    esac
  fi
  touch "$d/go-$r"
done
echo "up=$(s6-svstat -o up "$svc/a/log") $(s6-svstat -o up "$svc/b/log")"
echo "deaths=$(s6-svdt "$svc/a/log" | grep -c SIGKILL) $(s6-svdt "$svc/b/log" | grep -c SIGKILL)"
"""


@pytest.mark.parametrize("action", ["kill-logger", "kill-host"])
def test_a_killed_logger_or_host_loses_no_line(box, action):
    """s6-svc -k ends logger a alone (b and the host go on); kill -9 of the host ends both,
    and both restart.  What the services write meanwhile waits in the pipes PID 1 holds."""
    parent = logdir_parent(box)
    dirs = []
    for name in ("a", "b"):
        dirs.append("%s/%s" % (parent, name))
        os.mkdir(dirs[-1])
        box.service(name, PRODUCER, log="exec s6-log -b n100 s100000 %s\n" % dirs[-1])
    r = box.run(["sh", "-c", KILLER, "sh"] + dirs, env={"ACTION": action}, timeout=60)
    assert r.code == 0, r
    f = facts(r)
    rounds = [f["round%d" % i].split() for i in range(5)]
    assert f["up"] == "true true", r
    assert all(a == b for a, b in rounds), rounds         # one host for both
    if action == "kill-logger":
        assert len({a for a, _ in rounds}) == 1, rounds   # the host went on
        assert f["deaths"] == "4 0", r                    # a died 4 times, b never
    else:
        assert len({a for a, _ in rounds}) == 5, rounds   # a new host each time
        assert f["deaths"] == "4 4", r
    for d in dirs:
        assert lines_of(d) == [str(i) for i in range(1500)], d


#: the CMD: ALRM, STOP/CONT and -d/-u on logger a, b logging all along
CONTROL = r"""
for f in "$1/current" "$2/current"; do
  i=0; until [ -s "$f" ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
done
svc="$S6PY_ROOT/run/service"; A="$svc/a/log"; B="$svc/b/log"
s6-svc -a "$A"
i=0; until ls "$1" | grep -q '^@.*\.s$' || [ $i -ge 250 ]; do sleep 0.02; i=$((i+1)); done
echo "archives_a=$(ls "$1" | grep -c '^@')"
echo "archives_b=$(ls "$2" | grep -c '^@')"
s6-svc -p "$A"; echo "paused=$(s6-svstat -o paused "$A")"
echo a-paused > "$S6PY_ROOT/data/say-a"
sleep 0.3
grep -c a-paused "$1/current"
s6-svc -c "$A"
i=0; until grep -q a-paused "$1/current" || [ $i -ge 250 ]; do sleep 0.02; i=$((i+1)); done
grep -c a-paused "$1/current"
s6-svc -wD -d "$A"; echo "down=$(s6-svstat -o up,exitcode "$A") mode=$(stat -c %a "$1/current")"
s6-svc -wu -u "$A"; echo "up=$(s6-svstat -o up "$A")"
echo "samehost=$([ "$(s6-svstat -p "$A")" = "$(s6-svstat -p "$B")" ] && echo yes)"
"""

#: a service that logs what appears in data/say-NAME
SAYER = r"""
echo start
f="$S6PY_ROOT/data/say-$1"
while :; do
  if [ -e "$f" ]; then cat "$f"; rm -f "$f"; fi
  sleep 0.02
done
"""


def test_signals_reach_one_hosted_logger(box):
    parent = logdir_parent(box)
    dirs = []
    for name in ("a", "b"):
        dirs.append("%s/%s" % (parent, name))
        box.service(name, "exec sh -c '%s' sh %s\n" % (SAYER.replace("'", "'\\''"), name),
                    log="exec s6-log n10 s100000 %s\n" % dirs[-1])
    r = box.run(["sh", "-c", CONTROL, "sh"] + dirs, timeout=30)
    assert r.code == 0, r
    f = facts(r)
    assert f["archives_a"] == "1" and f["archives_b"] == "0", r  # ALRM: a's logdir only
    assert f["paused"] == "true", r
    counts = [line for line in r.out.splitlines() if line.isdigit()]
    assert counts == ["0", "1"], r                      # nothing read while stopped
    assert f["down"] == "false 0 mode=744", r           # TERM: clean exit, finalised
    assert f["up"] == "true" and f["samehost"] == "yes", r


def test_a_stuck_logger_does_not_stall_the_others(box):
    """Logger a's processor never ends (its rotation waits, and with -b it stops reading);
    logger b, in the same host, goes on logging."""
    parent = logdir_parent(box)
    a, b = parent + "/a", parent + "/b"
    box.service("a", "i=0; while [ $i -lt 1000 ]; do echo line-a-$i; i=$((i+1)); done\n"
                     "exec sleep 1000\n",
                log="exec s6-log -b n3 s4096 !\"sleep 1000\" %s\n" % a)
    box.service("b", "sleep 1; i=0; while [ $i -lt 2000 ]; do echo line-b-$i; i=$((i+1)); done\n"
                     "exec sleep 1000\n",
                log="exec s6-log -b n10 s1000000 %s\n" % b)
    probe = WAIT_FOR + r"""
i=0; until grep -q '^line-b-1999$' "$2/current" 2>/dev/null || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
echo "b_last=$(tail -n 1 "$2/current")"
echo "a_processed=$(ls "$1" | grep -c processed)"
echo "same=$([ "$(s6-svstat -p $S6PY_ROOT/run/service/a/log)" = "$(s6-svstat -p $S6PY_ROOT/run/service/b/log)" ] && echo yes)"
"""
    r = box.run(["sh", "-c", probe, "sh", a, b], timeout=30)
    f = facts(r)
    assert f["b_last"] == "line-b-1999" and f["same"] == "yes", r
    assert f["a_processed"] == "1", r                   # a is waiting for its processor


def test_a_logger_that_cannot_start_says_why_and_others_run(box):
    parent = logdir_parent(box)
    box.service("bad", "exec sleep 1000\n", log="exec s6-log n3 nonsense %s/bad\n" % parent)
    box.service("good", "echo fine\nexec sleep 1000\n", log="exec s6-log n3 %s/good\n" % parent)
    probe = WAIT_FOR + "sleep 1.5\n"
    r = box.run(["sh", "-c", probe, "sh", parent + "/good/current"], timeout=30)
    assert r.code == 0, r
    assert "s6-log: fatal: unrecognized directive: nonsense" in r.err, r.err
    assert lines_of(parent + "/good") == ["fine"]
    assert "Traceback" not in r.err, r.err


def test_readiness_of_a_hosted_logger(box):
    """notification-fd 3 + `s6-log -d 3`: the host writes the newline once the logdir is
    open, s6-svwait -U sees it."""
    parent = logdir_parent(box)
    box.service("a", "exec sleep 1000\n", log="exec s6-log -d 3 n3 %s/a\n" % parent)
    box.file("etc/services.d/a/log/notification-fd", "3\n")
    probe = r"""
i=0; until [ -e "$S6PY_ROOT/run/service/a/log/supervise/status" ] || [ $i -ge 250 ]; do sleep 0.02; i=$((i+1)); done
s6-svwait -U -t 5000 "$S6PY_ROOT/run/service/a/log" && echo "ready=$(s6-svstat -o ready "$S6PY_ROOT/run/service/a/log")"
"""
    r = box.run(["sh", "-c", probe], timeout=30)
    assert facts(r).get("ready") == "true", r


def test_a_logger_whose_directory_is_missing_makes_no_idle_host(box):
    """`cd DIR` to a directory that does not exist: that logger is forked on its own (its
    cd says why, it dies at once and is restarted each second), and no host is left
    running without a logger: no s6-log child of PID 1 lives through two looks."""
    parent = logdir_parent(box)
    box.service("a", "exec sleep 1000\n",
                log="cd /nonexistent-dir\nexec s6-log n3 %s/a\n" % parent)
    probe = r"""
loggers() {
  for p in /proc/[0-9]*; do
    [ "$(cat $p/comm 2>/dev/null)" = s6-log ] && [ "$(awk '/^PPid/{print $2}' $p/status 2>/dev/null)" = 1 ] && echo "${p#/proc/}"
  done
}
sleep 1.2; first=$(loggers); sleep 0.6; second=$(loggers)
for p in $first; do for q in $second; do [ "$p" = "$q" ] && echo "lingering=$p"; done; done
echo done
"""
    r = box.run(["sh", "-c", probe], timeout=30)
    assert "cd: fatal: unable to chdir to /nonexistent-dir" in r.err, r.err
    assert "done" in r.out and "lingering=" not in r.out, r


def _rc_longrun(box, name, run, files):
    """/etc/s6-overlay/s6-rc.d/NAME, a longrun, RUN its whole ./run (0644, as from git)."""
    base = "etc/s6-overlay/s6-rc.d/%s/" % name
    box.file(base + "type", "longrun\n")
    box.file(base + "run", run)
    for filename, text in files.items():
        box.file(base + filename, text)
    box.file("etc/s6-overlay/s6-rc.d/user/contents.d/" + name, "")


def test_s6_rc_pipeline_consumers_are_hosted_too(box):
    """v3's pipelines: a consumer whose run is one of the usual forms (sh, execline, with
    s6-setuidgid or logutil-service) runs in the log host of its identity; a consumer
    killed with s6-svc -k comes back in the same host and no line its producer sent is
    lost (PID 1 holds the pipe)."""
    parent = logdir_parent(box)
    box.file("etc/s6-overlay/s6-rc.d/user/type", "bundle\n")
    consumers = {
        "a": "#!/bin/sh\nexec s6-log -b n3 %s/a\n" % parent,
        "b": "#!%s/execlineb -P\ns6-setuidgid nobody\ns6-log -b n3 %s/b\n" % (box.bin, parent),
        "c": "#!/bin/sh\nexec logutil-service %s/c\n" % parent,
    }
    for name, run in consumers.items():
        _rc_longrun(box, name, "#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do echo %s$i; i=$((i+1));"
                    " sleep 0.005; done\nexec sleep 1000\n" % name,
                    {"producer-for": name + "-log\n"})
        _rc_longrun(box, name + "-log", run, {"consumer-for": name + "\n"})
    currents = ["%s/%s/current" % (parent, name) for name in consumers]
    script = (PIDS + r'''
s6-svc -k "$S6PY_ROOT/run/service/b-log"
logged() { for f in "$@"; do cat "${f%/current}"/@* "$f" 2>/dev/null; done | wc -l; }
i=0; until [ "$(logged "$@")" -ge 900 ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
echo "b-after=$(s6-svstat -p "$S6PY_ROOT/run/service/b-log")"
echo "b-deaths=$(s6-svdt "$S6PY_ROOT/run/service/b-log")"
''').replace("$S6PY_ROOT/run/service/$s/log", "$S6PY_ROOT/run/service/$s-log")
    r = box.run(["sh", "-c", script, "sh"] + currents, env={"LOGGERS": "a b c"}, timeout=30)
    assert r.code == 0, r
    p = pids(r)
    assert p["a"][1:] == ["1", "0", "s6-log"], p          # a host forked by PID 1, root's
    assert p["b"][0] == p["c"][0] != p["a"][0], p          # nobody's consumers share one
    assert p["b"][1:] == ["1", "65534", "s6-log"], p
    assert p["b-after"] == p["b"][:1], r.out               # -k: back in the same host
    assert p["b-deaths"][1:] == ["signal", "SIGKILL"], r.out  # ... once killed
    for name in consumers:
        assert lines_of("%s/%s" % (parent, name)) == ["%s%d" % (name, i) for i in range(300)], name
    assert "Traceback" not in r.err, r.err


#: the CMD: once every logdir has its line, the host's fds by kind: "KIND COUNT" lines
HOST_FDS = WAIT_FOR + r"""
pid=$(s6-svstat -p "$S6PY_ROOT/run/service/s0/log")
for fd in /proc/$pid/fd/*; do readlink "$fd"; done | sed 's/:.*//; s|.*/||' | sort | uniq -c
"""


def test_a_host_holds_three_fds_per_logger(box):
    """The log pipe, the logdir's lock and its current: the logger's stdout and stderr
    are the host's own (the same objects) and its working directory is dropped once no
    path of its script is relative.  Six per logger ran one host out of fds at about 170
    loggers under nofile=1024."""
    parent = logdir_parent(box)
    n = 12
    currents = []
    for i in range(n):
        box.service("s%d" % i, "echo up\nexec sleep 1000\n",
                    log="exec logutil-service %s/s%d\n" % (parent, i))
        currents.append("%s/s%d/current" % (parent, i))
    r = box.run(["sh", "-c", HOST_FDS, "sh"] + currents)
    assert r.code == 0, r
    kinds = {line.split()[1]: int(line.split()[0]) for line in r.out.splitlines() if line.strip()}
    assert kinds.get("lock") == n and kinds.get("current") == n, kinds
    # the log pipes, its own 1 and 2 (our pipes here) and its signal pipe's two ends
    assert n <= kinds.get("pipe", 0) <= n + 4, kinds
    assert sum(kinds.values()) <= 3 * n + 8, kinds  # + stdin, socket, epoll, 1 spare
    for i in range(n):
        assert lines_of("%s/s%d" % (parent, i)) == ["up"], i


#: the CMD: wait for both `1` lines on our stdout (data/out) and rel's line in its logdir
SHARED_STDOUT = r"""
d="$S6PY_ROOT/data"; main="$S6PY_ROOT/run/service/rel/log/main"
i=0; until { [ -s "$main/current" ] && [ "$(grep -c "^to stdout" "$d/out")" -ge 2 ]; } || [ $i -ge 500 ]; do
  sleep 0.02; i=$((i+1))
done
cp "$main/current" "$d/rel-current"
"""


def test_loggers_writing_to_the_hosts_stdout_and_a_relative_logdir(box):
    """Two hosted loggers copy their lines to their stdout (`1`), the container's, which
    is also the host's own: each gets a fd of its own for it; a third one logs into a
    directory relative to its log/ and keeps its working directory."""
    for name in ("a", "b"):
        box.service(name, "echo to stdout from %s\nexec sleep 1000\n" % name,
                    log="exec s6-log 1\n")
    box.service("rel", "echo relative\nexec sleep 1000\n", log="exec s6-log n2 ./main\n")
    out = box.path("data/out")
    with open(out, "wb") as f:
        r = box.run(["sh", "-c", SHARED_STDOUT], stdout=f)
    assert r.code == 0, r
    with open(out) as f:
        text = f.read()
    assert sorted(l for l in text.splitlines() if l.startswith("to stdout")) == \
        ["to stdout from a", "to stdout from b"], text
    with open(box.path("data/rel-current")) as f:
        assert f.read() == "relative\n"
    assert "Traceback" not in r.err and "warning" not in r.err, r.err


def test_hosted_loggers_blocked_on_one_stdout_each_wait_their_turn(box):
    """Two hosted loggers copy 20000 lines each to the container's stdout, a pipe nobody
    reads for a while: both block on it (each watches a fd of its own, not the host's
    shared 1) and, once it is read, every byte comes out.  (Two writers of one pipe may
    interleave where a write was partial, as two s6-log processes would: bytes are
    counted, not lines.)"""
    lines = 20000
    expected = sum(len("a %d\n" % i) for i in range(1, lines + 1))
    for name in ("a", "b"):
        box.service(name, "seq 1 %d | sed 's/^/%s /'\nexec sleep 1000\n" % (lines, name),
                    log="exec s6-log 1\n")
    done = box.path("data/done")
    reader, writer = os.pipe()
    got = {"a": 0, "b": 0}
    try:
        cmd = ["sh", "-c", 'until [ -e "$S6PY_ROOT/data/done" ]; do sleep 0.05; done']
        with box.start(cmd, stdout=writer) as c:
            os.close(writer)
            writer = None
            time.sleep(1.0)  # let both fill the pipe and wait on it
            data = b""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(data) < 2 * expected:
                chunk = os.read(reader, 65536)
                if not chunk:
                    break
                data += chunk
            with open(done, "w"):
                pass
            c.wait(20)
            err = c.output[1].decode(errors="replace")
    finally:
        os.close(reader)
        if writer is not None:
            os.close(writer)
    assert len(data) == 2 * expected, (len(data), 2 * expected)
    for name in ("a", "b"):
        got[name] = data.count(("%s %d\n" % (name, lines)).encode())
    assert got == {"a": 1, "b": 1}, got
    assert "Traceback" not in err and "warning" not in err, err


#: the CMD: once a's logger is up, note the host's fd 1; after the test broke our stdout
#: and a's logger gave up on it, note it again
BROKEN_STDOUT = r"""
d="$S6PY_ROOT/data"
i=0; until [ -s "$1" ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
pid=$(s6-svstat -p "$S6PY_ROOT/run/service/a/log")
readlink "/proc/$pid/fd/1" > "$d/before"
touch "$d/ready"
i=0; until [ -e "$d/checkit" ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
readlink "/proc/$pid/fd/1" > "$d/after" 2>&1
"""


def test_a_logger_giving_up_on_its_stdout_leaves_the_hosts_alone(box):
    """s6-log closes its stdout when a write to it fails; a hosted logger closes the fd
    of its own, never the host's 1, which other loggers use (and whose number a lock or
    a current file would otherwise take)."""
    parent = logdir_parent(box)
    data = box.path("data")
    box.service("a", 'echo first\nuntil [ -e "$S6PY_ROOT/data/go" ]; do sleep 0.02; done\n'
                     "echo boom\nexec sleep 1000\n",
                log="exec s6-log n2 %s/a - +^boom 1\n" % parent)
    reader, writer = os.pipe()
    errors = open(os.path.join(data, "stderr"), "wb")
    try:
        with box.start(["sh", "-c", BROKEN_STDOUT, "sh", parent + "/a/current"],
                       stdout=writer, stderr=errors) as c:
            os.close(writer)
            writer = None
            wait_path = lambda name: wait_for(  # noqa: E731
                lambda: os.path.exists(os.path.join(data, name)), timeout=10)
            wait_path("ready")
            os.close(reader)
            reader = None
            open(os.path.join(data, "go"), "w").close()
            wait_for(lambda: b"closing the stream" in open(os.path.join(data, "stderr"), "rb").read(),
                     timeout=10)
            open(os.path.join(data, "checkit"), "w").close()
            assert c.wait(20) == 0
    finally:
        errors.close()
        for fd in (reader, writer):
            if fd is not None:
                os.close(fd)
    with open(os.path.join(data, "before")) as f:
        before = f.read()
    with open(os.path.join(data, "after")) as f:
        after = f.read()
    assert before.startswith("pipe:") and after == before, (before, after)
    assert lines_of(parent + "/a") == ["first", "boom"]

"""Forked loggers under /init (PID 1 of a private namespace, tests/test_init_support.py).

A services.d service whose log/run is one of the usual forms gets its logger as a child
forked from PID 1: the same interpreter (/proc/PID/exe), PID 1 as parent, and PID 1's own
command line: any exec replaces a process's argv (/proc/PID/cmdline), and the exec'd
logger's is `python3 -IS .../s6-log ARGS`; the forked one only renames its comm to s6-log.  The
lines reach the logdir, `s6-svc -k` on the logger loses none, s6-svstat shows it, and a
log/run we do not recognise (or S6PY_FORKED_LOGGERS=0) is exec'd as before."""

import os
import re

import pytest

from log_support import lines_of, logdir_parent
from test_init_support import box_fixture

box = box_fixture()

#: the CMD: facts about the logger of service $1, one KEY=VALUE per line
PROBE = r"""
log="$S6PY_ROOT/run/service/$1/log"
i=0; until [ -s "$2" ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
pid=$(s6-svstat -p "$log")
echo "pid=$pid"
echo "ppid=$(awk '/^PPid/{print $2}' /proc/$pid/status)"
echo "uid=$(awk '/^Uid/{print $2}' /proc/$pid/status)"
echo "exe1=$(readlink /proc/1/exe)"
echo "exe=$(readlink /proc/$pid/exe)"
echo "comm=$(cat /proc/$pid/comm)"
if cmp -s /proc/1/cmdline /proc/$pid/cmdline; then echo cmdline=pid1; else echo "cmdline=$(tr '\0' ' ' </proc/$pid/cmdline)"; fi
echo "svstat=$(s6-svstat -o up,pid "$log")"
"""


def facts(result):
    return dict(line.split("=", 1) for line in result.out.splitlines() if "=" in line)


def test_logutil_service_logger_is_a_forked_child_of_pid_1(box):
    logdir = os.path.join(logdir_parent(box), "app")
    box.service("app", "echo first line\nexec sleep 1000\n",
                log="exec logutil-service %s\n" % logdir)
    r = box.run(["sh", "-c", PROBE, "sh", "app", os.path.join(logdir, "current")])
    f = facts(r)
    assert r.code == 0, r
    assert f["ppid"] == "1" and f["exe"] == f["exe1"], f
    assert f["cmdline"] == "pid1" and f["comm"] == "s6-log", f  # never exec'd
    assert f["uid"] == "65534", f  # logutil-service's nobody
    assert f["svstat"] == "true %s" % f["pid"], f
    assert lines_of(logdir) == ["first line"]
    st = os.stat(os.path.join(logdir, "current"))
    assert (st.st_uid, oct(st.st_mode & 0o777)) == (65534, "0o744")  # finalised at exit
    assert "Traceback" not in r.err and "warning" not in r.err, r.err


def test_execline_setuidgid_s6_log_is_forked_and_drops_privileges(box):
    logdir = os.path.join(logdir_parent(box), "b")
    os.mkdir(logdir)
    os.chown(logdir, 65534, 65534)
    box.service("b", "echo one\necho two\nexec sleep 1000\n")
    box.script("etc/services.d/b/log/run",
               "s6-setuidgid nobody\ns6-log -b n3 s4096 %s\n" % logdir,
               shebang="#!/usr/bin/execlineb -P\n")
    r = box.run(["sh", "-c", PROBE, "sh", "b", os.path.join(logdir, "current")])
    f = facts(r)
    assert (f["cmdline"], f["comm"], f["ppid"], f["uid"]) == ("pid1", "s6-log", "1", "65534"), (f, r)
    assert lines_of(logdir) == ["one", "two"]
    assert os.stat(os.path.join(logdir, "current")).st_uid == 65534


#: the service: 5 rounds of 500 numbered lines; after each round it waits for the CMD's go
PRODUCER = r"""
d="$S6PY_ROOT/data"; i=0
for r in 0 1 2 3 4; do
  end=$(( (r + 1) * 500 ))
  while [ $i -lt $end ]; do echo $i; i=$((i+1)); done
  until [ -e "$d/go-$r" ]; do sleep 0.01; done
done
exec sleep 1000
"""

#: the CMD: once a round is in the logdir (the logger idle on its pipe), SIGKILL the logger
#: and let the producer write the next round at once, while the logger is dead
KILLER = r"""
log="$S6PY_ROOT/run/service/app/log"; d="$S6PY_ROOT/data"
for r in 0 1 2 3 4; do
  last=$(( (r + 1) * 500 - 1 ))
  i=0; until grep -q "^$last\$" "$1/current" 2>/dev/null || [ $i -ge 1500 ]; do sleep 0.02; i=$((i+1)); done
  echo "pid $(s6-svstat -p "$log")"
  [ $r -lt 4 ] && s6-svc -k "$log"
  touch "$d/go-$r"
done
echo "up $(s6-svstat -o up "$log")"
"""


def test_s6_svc_k_on_a_forked_logger_loses_no_line(box):
    """SIGKILL loses what a logger had read and not written (s6 has the same window), so
    each kill comes when the logger has written everything; the lines the service writes
    while it is dead wait in the pipe PID 1 holds and reach the logdir after the restart."""
    logdir = os.path.join(logdir_parent(box), "app")
    os.mkdir(logdir)
    box.service("app", PRODUCER, log="exec s6-log -b n100 s100000 %s\n" % logdir)
    r = box.run(["sh", "-c", KILLER, "sh", logdir], timeout=60)
    assert r.code == 0, r
    pids = [line.split()[1] for line in r.out.splitlines() if line.startswith("pid ")]
    assert len(set(pids)) == 5 and "up true" in r.out, r  # killed 4 times, up again
    assert lines_of(logdir) == [str(i) for i in range(2500)]


@pytest.mark.parametrize("case", ["unrecognised", "disabled"])
def test_other_loggers_still_run_their_script(box, case):
    logdir = os.path.join(logdir_parent(box), "c")
    if case == "unrecognised":
        log = 'dir=%s\nexec s6-log n3 "$dir"\n' % logdir  # a variable: not one of the forms
        env = None
    else:
        log = "exec s6-log n3 %s\n" % logdir
        env = {"S6PY_FORKED_LOGGERS": "0"}
    box.service("c", "echo hello\nexec sleep 1000\n", log=log)
    r = box.run(["sh", "-c", PROBE, "sh", "c", os.path.join(logdir, "current")], env=env)
    f = facts(r)
    assert f["cmdline"] != "pid1" and "s6-log" in f["cmdline"], (f, r)
    assert lines_of(logdir) == ["hello"]

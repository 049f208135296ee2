"""Every command, for real, in the slim images' Python (Debian's python3-minimal alone).

Importing every module (test_e2e_lifecycle) does not see what a command imports inside a
function: `import shutil` in s6-rmrf, s6-hiercopy and logutil-newfifo only failed when
they ran (no FIFO, a logger restarting every second).  Here one container per image runs
ALL_SH as the CMD under /init: it does the main path of each command of cli.COMMANDS
(build-overlay aside: it is no part of the overlay) and prints `ok NAME` or `FAIL NAME: ...`
for each, then stops the container with /run/s6/basedir/bin/halt.  The test wants an `ok` line for every
command, no FAIL, no traceback, and halt's exit code.  A command added to cli.COMMANDS
without a check here fails test_every_command_has_a_check.
"""

import os
import re
import subprocess
import time

import pytest

from e2e_support import fixture_tree, image, pid1_comm, podman, run, unavailable
from s6py import cli

# One line per check: `t NAME RC WANT COMMAND...` runs COMMAND, which must exit RC and
# print exactly WANT on stdout (trailing newlines aside); its stderr goes to ours, so a
# traceback shows in the container's output.  Checks run in /tmp/w.
ALL_SH = r"""#!/bin/sh
PATH=/command:$PATH
t() {
  name=$1 rc=$2 want=$3; shift 3
  got=$("$@" 2>/tmp/err); code=$?
  cat /tmp/err >&2
  if [ "$code" = "$rc" ] && [ "$got" = "$want" ]; then echo "ok $name"
  else echo "FAIL $name: exit $code (want $rc), stdout [$got] (want [$want]), stderr [$(cat /tmp/err)]"; fi
}
el() { execlineb -c "$1"; }
# until COMMAND... succeeds (10 s at most)
until_ok() { i=0; while ! "$@" 2>/dev/null; do i=$((i+1)); [ $i -lt 100 ] || return 1; sleep 0.1; done; }
W=/tmp/w; mkdir -p $W; cd $W
NL='
'

# ---- /init: PID 1, a with-contenv cont-init script, the service svc and its logger
t init 0 "$PID1_COMM${NL}cont-init MYVAR=e2e" sh -c 'ps -o comm= -p 1; cat /tmp/cont-init'
S=/run/service/svc
until_ok s6-svok $S   # the CMD does not wait for services.d (v1/v2): wait for its supervision
t s6-svwait 0 "" s6-svwait -u -t 5000 $S
t s6-svok 0 "" s6-svok $S
t s6-svstat 0 "true true" s6-svstat -o up,wantedup $S
t s6-svc 0 "down (signal SIGTERM)" sh -c "s6-svc -wd -d $S && s6-svstat $S | cut -d' ' -f1-3"
t s6-svdt 0 "signal SIGTERM" sh -c "s6-svdt $S | cut -d' ' -f2-"
t s6-svlisten1 0 "true" sh -c "s6-svlisten1 -u -t 5000 $S s6-svc -u $S && s6-svstat -o up $S"
t s6-svlisten 0 "false" sh -c "s6-svlisten -d -t 5000 $S '' s6-svc -d $S && s6-svstat -o up $S"
s6-svc -wu -u $S
svc_log() { until_ok grep -q svc-started /var/log/svc/current && sed "s/.*  //" /var/log/svc/current | sort -u; }
t logutil-service 0 "svc-started" svc_log
t with-contenv 0 "e2e" with-contenv sh -c 'echo $MYVAR'
t printcontenv 0 "e2e" printcontenv MYVAR
t fix-attrs 0 "nobody 750 nobody 640" sh -c 'mkdir -p fa/d && touch fa/d/f &&
  echo "/tmp/w/fa true nobody 0640 0750" | fix-attrs && echo $(stat -c "%U %a" fa/d fa/d/f)'

# ---- our s6-svscan on a scandir, s6-supervise on one service directory
mkdir -p scan/a one
printf '#!/bin/sh\nexec sleep 1000\n' > scan/a/run; chmod 755 scan/a/run; cp scan/a/run one/run
s6-svscan $W/scan & scanpid=$!
s6-supervise $W/one & suppid=$!
until_ok s6-svok $W/scan/a; until_ok s6-svok $W/one
t s6-svscan 0 "true" sh -c "s6-svwait -u -t 5000 $W/scan/a && s6-svstat -o up $W/scan/a"
t s6-supervise 0 "true" sh -c "s6-svwait -u -t 5000 $W/one && s6-svstat -o up $W/one"
t s6-svscanctl 0 "" s6-svscanctl -t $W/scan
wait $scanpid; t s6-svscan 0 "exit 0" echo "exit $?"
t s6-svc 0 "" s6-svc -x -d $W/one
wait $suppid; t s6-supervise 0 "exit 0" echo "exit $?"

# ---- logging
t logutil-newfifo 0 "fifo 640 nobody" sh -c 'logutil-newfifo -m 0640 -o nobody f && stat -c "%F %a %U" f | sed "s/named pipe/fifo/"'
t s6-log 0 "a${NL}b" sh -c 'printf "a\nb\n" | s6-log -b n2 s1000 ./ld && cat ld/current'
mkdir lsd && chown nobody lsd
exec 3<>f                           # a writer (not the logger's), so no EOF before the line
logutil-service -f f $W/lsd/app 3>&- & logpid=$!
echo via-fifo >&3
until_ok grep -q via-fifo $W/lsd/app/current
exec 3>&-
wait $logpid; t logutil-service 0 "exit 0: via-fifo" sh -c "echo \"exit $?: \$(sed 's/.*  //' lsd/app/current)\""

# ---- s6-rc: compile, query; the live state is PID 1's (this image defines no s6-rc service)
mkdir -p rcs/a && echo oneshot > rcs/a/type && echo "s6-echo up" > rcs/a/up
t s6-rc-compile 0 "" s6-rc-compile $W/db $W/rcs
t s6-rc-db 0 "oneshot" s6-rc-db -c $W/db type a
t s6-rc 4 "" s6-rc -a list

# ---- environment and privileges
mkdir ed && echo v1 > ed/A && echo v2 > ed/B
t s6-envdir 0 "v1 v2" s6-envdir ed sh -c 'echo $A $B'
t s6-dumpenv 0 "x" sh -c 'X=x s6-dumpenv dump && cat dump/X'
t s6-envuidgid 0 "65534 65534" s6-envuidgid nobody sh -c 'echo $UID $GID'
t s6-setuidgid 0 "65534 65534" s6-setuidgid nobody sh -c 'echo $(id -u) $(id -g)'
t s6-applyuidgid 0 "4242 4243" s6-applyuidgid -u 4242 -g 4243 -G "" sh -c 'echo $(id -u) $(id -g)'
t with-retries 0 "2" sh -c 'with-retries -n 3 sh -c "echo x >> try; [ \$(wc -l < try) = 2 ]" && wc -l < try'

# ---- s6-portable-utils
t s6-echo 0 "a:b" s6-echo -s : a b
t s6-test 0 "" s6-test -d /tmp -a 3 -ne 4
t s6-sleep 0 "slept" s6-sleep -m 10 s6-echo slept
t s6-true 0 "" s6-true
t s6-false 1 "" s6-false
t s6-env 0 "A=1" s6-env -i A=1 env
t s6-maximumtime 99 "" s6-maximumtime 100 sleep 5
t s6-pause 99 "" s6-maximumtime 200 s6-pause
t s6-setsid 0 "true" s6-setsid sh -c '[ $(ps -o sid= -p $$) = $$ ] && echo true'
t s6-mkdir 0 "750" sh -c 's6-mkdir -p -m 0750 m/n && stat -c %a m/n'
t s6-chmod 0 "700" sh -c 's6-chmod 0700 m/n && stat -c %a m/n'
t s6-chown 0 "4242:4243" sh -c 's6-chown -u 4242 -g 4243 m/n && stat -c %u:%g m/n'
t s6-ls 0 "n" s6-ls m
mkdir -p tree/d/e outside && echo keep > outside/k && echo f > tree/d/f && chmod 0604 tree/d/f &&
  chown 4242:4243 tree/d/f && chmod 0500 tree/d/e && ln -s ../../outside tree/d/out && mkfifo tree/p
t s6-hiercopy 0 "f 604 4242:4243 500 ../../outside fifo" sh -c 's6-hiercopy tree copy &&
  echo $(cat copy/d/f) $(stat -c "%a %u:%g" copy/d/f) $(stat -c %a copy/d/e) $(readlink copy/d/out) $(stat -c %F copy/p | sed "s/named pipe/fifo/")'
t s6-rmrf 0 "gone keep" sh -c 'ln -s $PWD/outside tree/abs && s6-rmrf tree copy nothing-here &&
  [ ! -e tree ] && [ ! -e copy ] && echo gone $(cat outside/k)'
t s6-sync 0 "" s6-sync
# s6-nuke kills every process it may signal: run it as a user that owns only its victim
nuke() {
  s6-applyuidgid -u 4244 -g 4244 sleep 100 & v=$!
  until_ok is_victim $v || return 1
  s6-applyuidgid -u 4244 -g 4244 s6-nuke -k; wait $v; echo $?
}
is_victim() { [ "$(ps -o uid=,comm= -p $1 | tr -s ' ' | sed 's/^ //')" = "4244 sleep" ]; }
t s6-nuke 0 "137" nuke

# ---- execline: execlineb, and each command in a script
t execlineb 0 "hi" el 's6-echo hi'
t background 0 "bg${NL}waited" el 'background { s6-echo bg } importas -u p ! wait { $p } s6-echo waited'
t backtick 0 "v" el 'backtick -n X { s6-echo v } importas -u X X s6-echo $X'
t case 0 "matched" el 'case -- abc { a.c { s6-echo matched } } s6-echo nomatch'
t define 0 "1" el 'define X 1 s6-echo $X'
t dollarat 0 "a${NL}b" execlineb -p -c 'dollarat' a b
t elgetopt 0 "x" execlineb -p -c 'elgetopt a: importas -u A ELGETOPT_a s6-echo $A' -- -a x
t elgetpositionals 0 "foo" execlineb -p -c 'elgetpositionals s6-echo $1' foo
t elglob 0 "/etc/hostname" el 'elglob F /etc/hostnam? s6-echo $F'
t eltest 0 "" el 'eltest 1 -eq 1 -a -d /tmp'
t emptyenv 0 "" el 'emptyenv env'
echo "K=from-file" > envf
t envfile 0 "from-file" el 'envfile envf importas -u K K s6-echo $K'
t exec 0 "zz" el 'exec -a zz sh -c "echo \$0"'
t exit 3 "" el 'exit 3'
t export 0 "V" el 'export K V importas -u K K s6-echo $K'
t fdblock 0 "blocked" el 'fdblock 1 s6-echo blocked'
t fdclose 0 "closed" el 'fdclose 3 s6-echo closed'
t fdmove 0 "via3" el 'fdmove -c 3 1 sh -c "echo via3 >&3"'
t fdreserve 0 "two" el 'fdreserve 2 importas -u a FD0 importas -u b FD1 if { eltest $a -ne $b } s6-echo two'
t fdswap 0 "swapped" sh -c "execlineb -c 'fdswap 1 2 s6-echo swapped' 2>&1 >/dev/null"
t forbacktickx 0 "a${NL}b" el 'forbacktickx x { printf "a\nb\n" } importas -u x x s6-echo $x'
t foreground 0 "a${NL}b" el 'foreground { s6-echo a } s6-echo b'
t forstdin 0 "got x${NL}got y" sh -c "printf 'x\ny\n' | execlineb -c 'forstdin L importas -u L L s6-echo got \$L'"
t forx 0 "1${NL}2" el 'forx X { 1 2 } importas -u X X s6-echo $X'
t getcwd 0 "/tmp" el 'cd /tmp getcwd D importas -u D D s6-echo $D'
t getpid 0 "true" el 'getpid P importas -u P P if { eltest $P -gt 1 } s6-echo true'
t heredoc 0 "hello" el 'heredoc 0 hello cat'
t homeof 0 "/root" homeof root
t if 0 "yes" el 'if { s6-true } s6-echo yes'
t ifelse 0 "else" el 'ifelse { s6-false } { s6-echo then } s6-echo else'
t ifte 0 "then" el 'ifte { s6-echo then } { s6-echo else } s6-true'
t ifthenelse 0 "else${NL}after" el 'ifthenelse { s6-false } { s6-echo then } { s6-echo else } s6-echo after'
t import 0 "V" el 'export K V import K s6-echo $K'
t importas 0 "V" el 'export K V importas -i L K s6-echo $L'
t loopwhilex 0 "once" el 'loopwhilex -x 0 s6-echo once'
t multidefine 0 "1 2" el 'multidefine "1 2" { A B } s6-echo $A $B'
t multisubstitute 0 "1 2" el 'multisubstitute { define A 1 define B 2 } s6-echo $A $B'
t pipeline 0 "piped" el 'pipeline { s6-echo piped } cat'
t piperw 0 "through" el 'piperw 3 4 background { fdclose 3 fdmove 1 4 s6-echo through } fdclose 4 fdmove 0 3 cat'
t redirfd 0 "file" el 'foreground { redirfd -w 1 rf s6-echo file } cat rf'
t runblock 0 "inblock" el '/t/runblock-script { s6-echo inblock }'
t shift 0 "b" execlineb -p -c 'shift elgetpositionals s6-echo $1' a b
t trap 0 "trapped" el 'trap { SIGUSR1 { s6-echo trapped } } sh -c "kill -USR1 \$PPID; sleep 0.3"'
t tryexec 0 "fallback" el 'tryexec { /nonexistent } s6-echo fallback'
t unexport 0 "unset" el 'export K V unexport K sh -c "echo \${K-unset}"'
t wait 0 "bg${NL}waited" el 'background { s6-echo bg } wait { } s6-echo waited'
t withstdinas 0 "in" el 'pipeline { s6-echo in } withstdinas -n V importas -u V V s6-echo $V'
t cd 0 "/etc" el 'cd /etc pwd'
t execline-cd 0 "/etc" execline-cd /etc pwd
t umask 0 "0027" el 'umask 027 sh -c umask'
t execline-umask 0 "0027" execline-umask 027 sh -c umask

# ---- halt (through /run/s6/basedir/bin/halt, as images call it): the container stops
# (stage 3) with the code written for it
echo 7 > /run/s6-linux-init-container-results/exitcode
echo halting
/run/s6/basedir/bin/halt
sleep 10
echo "FAIL halt: the container is still running"
"""

FILES = {
    "t/all.sh": ALL_SH,
    "t/runblock-script": "#!/usr/bin/execlineb -p\nrunblock 1\n",
    "etc/cont-init.d/10-logdir": (
        "#!/usr/bin/with-contenv sh\n"
        "mkdir -p /var/log/svc && chown nobody:nogroup /var/log/svc\n"
        "echo \"cont-init MYVAR=$MYVAR\" > /tmp/cont-init\n"),
    "etc/services.d/svc/run": "#!/bin/sh\necho svc-started\nexec sleep 1000\n",
    "etc/services.d/svc/log/run": "#!/bin/sh\nexec logutil-service /var/log/svc\n",
}

# Not checked by a `t` line: the container's exit code says halt worked.
CHECKED_OTHERWISE = {"halt"}


def checked_commands():
    return set(re.findall(r"^t (\S+) ", ALL_SH, re.M)) | CHECKED_OTHERWISE


def test_every_command_has_a_check():
    """Each command the overlay installs is named by a check of ALL_SH."""
    commands = set(cli.COMMANDS) - set(cli.PROJECT)
    assert commands - checked_commands() == set(), "commands without a check"
    assert checked_commands() - commands == set(), "checks of no command"


@pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
@pytest.mark.parametrize("suite", ["bookworm", "bullseye", "trixie"])
def test_every_command_runs_with_python3_minimal(suite, tmp_path):
    img = image(suite)
    tree = fixture_tree(tmp_path, FILES)
    opts = ["-e", "MYVAR=e2e", "-e", "PID1_COMM=" + pid1_comm(), "-v", "%s/t:/t:ro" % tree,
            "-v", "%s/etc/services.d:/etc/services.d:ro" % tree,
            "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree]
    name = "s6py-e2e-minimal-%s-%d" % (suite, os.getpid())
    t0 = time.monotonic()
    try:
        r = run(img, "sh", "/t/all.sh", opts=opts + ["--name", name], timeout=90)
    except subprocess.TimeoutExpired as e:
        podman("rm", "-f", "-t", "0", name)
        pytest.fail("the checks hung; their output:\n%s" % (e.stdout or b"").decode(errors="replace"))
    took = time.monotonic() - t0
    output = r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert [line for line in lines if line.startswith("FAIL")] == [], output
    ok = {line.split()[1] for line in lines if line.startswith("ok ")}
    assert checked_commands() - CHECKED_OTHERWISE - ok == set(), output
    # halt: stage 3 ran and the container exited with the code the script wrote
    assert lines[-1] == "halting", output
    assert r.returncode == 7, output
    assert took < 60, took

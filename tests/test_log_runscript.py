"""The recogniser of usual log/run scripts (s6py.log.runscript).

The scripts below are written in the shapes public images use for their loggers
(s6-overlay's own examples, linuxserver-style with-contenv + s6-setuidgid lines, execline
chains with s6-envuidgid, multi-line s6-log calls); every other shape must be refused,
so that it runs as a script as before."""

import os

import pytest

from s6py.log.runscript import Plan, recognise


@pytest.fixture
def svc(tmp_path):
    d = tmp_path / "svc"
    d.mkdir()
    return d


@pytest.fixture
def env(ours):
    return {b"PATH": os.fsencode("%s:/usr/bin:/bin" % ours)}


def plan_of(svc, env, text, mode=0o755):
    """The Plan of TEXT as SVC/run ("{ours}" in it: our commands' directory)."""
    run = svc / "run"
    run.write_text(text.replace("{ours}", os.fsdecode(env[b"PATH"]).split(":")[0]))
    os.chmod(run, mode)
    return recognise(str(svc), env)


RECOGNISED = [
    ("s6-overlay readme, sh",
     "#!/bin/sh\nexec logutil-service /var/log/myapp\n",
     Plan([], "logutil-service", ["logutil-service", "/var/log/myapp"])),
    ("v3 execline",
     "#!/usr/bin/execlineb -P\nlogutil-service /var/log/myapp\n",
     Plan([], "logutil-service", ["logutil-service", "/var/log/myapp"])),
    ("logutil-service on a fifo",
     "#!/bin/sh\nexec logutil-service -f /var/run/app/fifo /var/log/app\n",
     Plan([], "logutil-service", ["logutil-service", "-f", "/var/run/app/fifo", "/var/log/app"])),
    ("execline s6-setuidgid then s6-log",
     "#!/usr/bin/execlineb -P\ns6-setuidgid nobody\ns6-log -b n20 s1000000 T /var/log/app\n",
     Plan([("setuidgid", "nobody")], "s6-log",
          ["s6-log", "-b", "n20", "s1000000", "T", "/var/log/app"])),
    ("linuxserver-like with-contenv shebang",
     "#!{ours}/with-contenv bash\n# keep the last 5 archives\nexec s6-setuidgid abc "
     "s6-log -b n5 s1000000 /config/log/app\n",
     Plan([("contenv", None), ("setuidgid", "abc")], "s6-log",
          ["s6-log", "-b", "n5", "s1000000", "/config/log/app"])),
    ("execline envuidgid + applyuidgid, with-contenv",
     "#!/usr/bin/execlineb -S0\nwith-contenv\ns6-envuidgid nobody\ns6-applyuidgid -U\n"
     "s6-log -- n10 s500000 T \"!gzip -nq9\" /var/log/worker\n",
     Plan([("contenv", None), ("envuidgid", "nobody"), ("applyuidgid", False)], "s6-log",
          ["s6-log", "--", "n10", "s500000", "T", "!gzip -nq9", "/var/log/worker"])),
    ("sh, an unquoted ! processor with a quoted command",
     "#!/bin/sh\nexec s6-log n10 s500000 !\"gzip -nq9\" /var/log/worker\n",
     Plan([], "s6-log", ["s6-log", "n10", "s500000", "!gzip -nq9", "/var/log/worker"])),
    ("sh, several lines, continuations and comments",
     "#!/bin/sh\n# nginx access log, 1 MB archives\n\nexec 2>&1\ncd /var/log\numask 022\n"
     "exec s6-setuidgid nobody \\\n    s6-log -b n10 s1000000 T \\\n    ./nginx   # relative to cd\n",
     Plan([("stderr", None), ("cd", "/var/log"), ("umask", 0o22), ("setuidgid", "nobody")],
          "s6-log", ["s6-log", "-b", "n10", "s1000000", "T", "./nginx"])),
    ("execline fdmove, quoted regexps",
     "#!/usr/bin/execlineb -P\nfdmove -c 2 1\ns6-log -bp -- \"-.*\" \"+^ERROR \" /var/log/errors\n",
     Plan([("stderr", None)], "s6-log",
          ["s6-log", "-bp", "--", "-.*", "+^ERROR ", "/var/log/errors"])),
    ("sh single quotes and set -e",
     "#!/bin/sh -e\nset -e\nexec s6-log -- '-.*' '+warn|error' 's100000' /var/log/w\n",
     Plan([], "s6-log", ["s6-log", "--", "-.*", "+warn|error", "s100000", "/var/log/w"])),
    ("s6-applyuidgid -Uz as two words, execline -s0, cd and umask in the chain",
     "#!/usr/bin/execlineb -s0\ncd /var/log umask 027\ns6-envuidgid daemon\n"
     "s6-applyuidgid -z -U s6-log t ./daemon\n",
     Plan([("cd", "/var/log"), ("umask", 0o27), ("envuidgid", "daemon"), ("applyuidgid", True)],
          "s6-log", ["s6-log", "t", "./daemon"])),
    ("uid:gid account",
     "#!/bin/sh\nexec s6-setuidgid 1000:1000 s6-log /data/log\n",
     Plan([("setuidgid", "1000:1000")], "s6-log", ["s6-log", "/data/log"])),
]


@pytest.mark.parametrize("text,expected", [r[1:] for r in RECOGNISED],
                         ids=[r[0] for r in RECOGNISED])
def test_usual_forms_are_recognised(svc, env, text, expected):
    assert plan_of(svc, env, text) == expected


def test_a_0644_script_is_recognised_too(svc, env):
    assert plan_of(svc, env, "#!/bin/sh\nexec logutil-service /var/log/x\n", 0o644) is not None


REFUSED = [
    ("a variable", "#!/bin/sh\nexec s6-log n20 $LOGDIR\n"),
    ("a variable in double quotes", "#!/bin/sh\nexec s6-log n20 \"${DIR}/log\"\n"),
    ("execline substitution", "#!/usr/bin/execlineb -S1\ns6-log n20 $1\n"),
    ("execline importas", "#!/usr/bin/execlineb -P\nimportas -D /var/log D D\ns6-log $D\n"),
    ("a glob", "#!/bin/sh\nexec s6-log -- -.* /var/log/x\n"),
    ("a pipe", "#!/bin/sh\nexec s6-log /var/log/x | tee /dev/null\n"),
    ("a redirection", "#!/bin/sh\nexec s6-log /var/log/x 2>/dev/null\n"),
    ("stdout redirected", "#!/bin/sh\nexec >/dev/null\nexec s6-log /var/log/x\n"),
    ("a conditional", "#!/bin/sh\nif [ -d /var/log/x ]; then exec s6-log /var/log/x; fi\n"),
    ("mkdir before", "#!/bin/sh\nmkdir -p /var/log/x\nexec s6-log /var/log/x\n"),
    ("no exec in sh", "#!/bin/sh\ns6-log n20 /var/log/x\n"),
    ("two commands", "#!/bin/sh\nexec s6-log /var/log/x\necho done\n"),
    ("a semicolon", "#!/bin/sh\ncd /var/log; exec s6-log ./x\n"),
    ("an assignment", "#!/bin/sh\nexec env A=1 s6-log /var/log/x\n"),
    ("env prefix", "#!/bin/sh\nLANG=C exec s6-log /var/log/x\n"),
    ("unterminated quote", "#!/bin/sh\nexec s6-log 'n20 /var/log/x\n"),
    ("a backslash in double quotes", "#!/bin/sh\nexec s6-log \"+a\\.b\" /var/log/x\n"),
    ("command substitution", "#!/bin/sh\nexec s6-log `cat /etc/logdir`\n"),
    ("a tilde", "#!/bin/sh\nexec s6-log ~/log\n"),
    ("bashio", "#!/usr/bin/with-contenv bashio\nexec s6-log /var/log/x\n"),
    ("sh -x traces", "#!/bin/sh -x\nexec s6-log /var/log/x\n"),
    ("env shebang", "#!/usr/bin/env sh\nexec s6-log /var/log/x\n"),
    ("missing interpreter", "#!/command/execlineb -P\ns6-log /var/log/x\n"),
    ("no shebang", "exec s6-log /var/log/x\n"),
    ("python", "#!/usr/bin/python3\nimport os\n"),
    ("another logger", "#!/bin/sh\nexec svlogd -tt /var/log/x\n"),
    ("execline block", "#!/usr/bin/execlineb -P\nforeground { mkdir -p /var/log/x }\ns6-log /var/log/x\n"),
    ("execline if", "#!/usr/bin/execlineb -P\nif { true }\ns6-log /var/log/x\n"),
    ("s6-envuidgid with options", "#!/usr/bin/execlineb -P\ns6-envuidgid -D 1:1 nobody\n"
     "s6-applyuidgid -U s6-log /var/log/x\n"),
    ("s6-applyuidgid -u", "#!/usr/bin/execlineb -P\ns6-applyuidgid -u 1 -g 1 s6-log /var/log/x\n"),
    ("fdmove the other way", "#!/usr/bin/execlineb -P\nfdmove -c 1 2\ns6-log /var/log/x\n"),
    ("logutil-service without dir", "#!/bin/sh\nexec logutil-service\n"),
    ("logutil-service, two dirs", "#!/bin/sh\nexec logutil-service /a /b\n"),
    ("CRLF line ends", "#!/bin/sh\r\nexec s6-log /var/log/x\r\n"),
    ("octal umask only", "#!/bin/sh\numask u=rwx\nexec s6-log /var/log/x\n"),
    ("nothing", "#!/bin/sh\n# nothing here\n"),
    ("exec with options", "#!/bin/sh\nexec -a logger s6-log /var/log/x\n"),
    ("setuidgid without a program", "#!/bin/sh\nexec s6-setuidgid nobody\n"),
]


@pytest.mark.parametrize("text", [r[1] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_other_scripts_are_refused(svc, env, text):
    assert plan_of(svc, env, text) is None


def test_an_s6_log_that_is_not_ours_is_refused(svc, tmp_path, ours):
    """A real s6-log first in PATH is what the script would exec: it runs as before."""
    other = tmp_path / "other"
    other.mkdir()
    fake = other / "s6-log"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    text = "#!/bin/sh\nexec s6-log /var/log/x\n"
    assert plan_of(svc, {b"PATH": os.fsencode("%s:%s" % (other, ours))}, text) is None
    assert plan_of(svc, {b"PATH": os.fsencode("%s:%s" % (ours, other))}, text) is not None


def test_commands_missing_from_path_are_refused(svc, ours):
    assert plan_of(svc, {b"PATH": b"/nonexistent"}, "#!/bin/sh\nexec s6-log /var/log/x\n") is None


def test_an_absolute_path_to_our_launcher_is_recognised(svc, ours):
    text = "#!/bin/sh\nexec %s/s6-log /var/log/x\n" % ours
    assert plan_of(svc, {b"PATH": b"/usr/bin"}, text).argv == ["s6-log", "/var/log/x"]


def test_a_missing_or_odd_run_is_refused(svc, env):
    assert recognise(str(svc), env) is None
    (svc / "run").mkdir()
    assert recognise(str(svc), env) is None


def test_a_big_script_is_refused(svc, env):
    text = "#!/bin/sh\n" + "# padding\n" * 500 + "exec s6-log /var/log/x\n"
    assert plan_of(svc, env, text) is None

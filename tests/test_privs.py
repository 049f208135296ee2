"""s6-envuidgid, s6-applyuidgid, s6-setuidgid against Debian's s6 2.11, with an account
database of our own (bind-mounted over /etc/passwd and /etc/group in a private mount
namespace, so the host's files are never touched)."""

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare"
)

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:2:2:daemon:/:/bin/false
alice:x:1000:1000:alice:/home/alice:/bin/sh
bob:x:1001:1001:bob:/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
daemon:x:2:
alice:x:1000:
bob:x:1001:
staff:x:50:alice,bob
audio:x:29:alice
nogroup:x:65534:
"""

STATUS = "grep -E '^(Uid|Gid|Groups)' /proc/self/status"


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    d = tmp_path_factory.mktemp("accounts")
    (d / "passwd").write_text(PASSWD)
    (d / "group").write_text(GROUP)
    return d


def in_namespace(accounts, command, env=None):
    """Run shell COMMAND with our passwd/group in place of the host's."""
    script = (
        'mount --bind "$ACC/passwd" /etc/passwd && mount --bind "$ACC/group" /etc/group && '
        "exec sh -c \"$1\""
    )
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ACC": str(accounts)}
    full_env.update(env or {})
    r = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", command],
        env=full_env,
        capture_output=True,
        timeout=20,
    )
    return r.returncode, r.stdout, r.stderr


def clean_env_lines(out):
    return b"\n".join(
        line for line in out.splitlines() if line.split(b"=")[0] in (b"UID", b"GID", b"GIDLIST")
    ) if b"=" in out else out


CASES = [
    "s6-envuidgid alice env",
    "s6-envuidgid bob env",
    "s6-envuidgid daemon env",
    "s6-envuidgid -u alice env",
    "s6-envuidgid -g staff env",
    "s6-envuidgid -g nosuch env",
    "s6-envuidgid -B alice:audio env",
    "s6-envuidgid -B alice env",
    "s6-envuidgid -B :audio env",
    "s6-envuidgid -nB 12:34 env",
    "s6-envuidgid -n 12:34 env",
    "s6-envuidgid -B nosuch:daemon env",
    "s6-envuidgid -D 3:4 nosuch env",
    "s6-envuidgid -D 3:4:5,6 nosuch env",
    "s6-envuidgid -D 3 nosuch env",
    "s6-envuidgid -D x nosuch env",
    "s6-envuidgid -B -D 3:4 daemon:unexisting env",
    "s6-envuidgid -nB -D 3:4 unexisting:daemon env",
    "s6-envuidgid -D 3:4 -i nosuch env",
    "s6-envuidgid '' env",
    "s6-envuidgid alice",
    "s6-envuidgid -q alice env",
    "s6-envuidgid alice no-such-program",
    "s6-applyuidgid -u 1000 -g 1000 -G 50,29 " + STATUS,
    "s6-applyuidgid -u 1000 -G 50 " + STATUS,
    "s6-applyuidgid -g 7 " + STATUS,
    "s6-applyuidgid -G '' " + STATUS,
    "s6-applyuidgid -G 1,x " + STATUS,
    "s6-applyuidgid -u -1 true",
    "s6-applyuidgid -U true",
    "UID=1 s6-applyuidgid -U true",
    "UID=x GID=1 GIDLIST= s6-applyuidgid -U true",
    "UID=1 GID=1 GIDLIST=a s6-applyuidgid -U true",
    "UID=1 GID=2 GIDLIST=3 s6-applyuidgid -zU env",
    "UID=1 GID=2 GIDLIST=3 s6-applyuidgid -U -u 5 " + STATUS,
    "s6-applyuidgid",
    "s6-applyuidgid -u 1 no-such-program",
    "s6-setuidgid alice " + STATUS,
    "s6-setuidgid alice env",
    "s6-setuidgid 5:6 " + STATUS,
    "s6-setuidgid '' " + STATUS,
    "s6-setuidgid nosuch true",
    "s6-setuidgid a:b true",
    "s6-setuidgid alice",
    "s6-setuidgid daemon no-such-program",
    "s6-setuidgid daemon /etc/passwd",
]


@pytest.mark.parametrize("case", CASES)
def test_same_as_s6(ours, theirs, accounts, case):
    theirs("s6-envuidgid")
    words = case.split(" ")
    i = next(k for k, w in enumerate(words) if w.startswith("s6-"))
    mine = " ".join(words[:i] + ["%s/%s" % (ours, words[i])] + words[i + 1:])
    real = " ".join(words[:i] + ["/usr/bin/" + words[i]] + words[i + 1:])
    a = in_namespace(accounts, real)
    b = in_namespace(accounts, mine)
    assert (b[0], clean_env_lines(b[1]), b[2]) == (a[0], clean_env_lines(a[1]), a[2])


def test_not_root_may_become_itself(ours, accounts):
    """Deliberate difference: s6 2.11 refuses (setgroups needs root); a non-root container
    running `s6-setuidgid nobody` for a service already running as nobody must work."""
    launcher = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin", "s6py")
    if not os.access(launcher, os.R_OK | os.X_OK, effective_ids=False) or os.stat(launcher).st_mode & 0o005 != 0o005:
        pytest.skip("the source checkout is not readable by nobody")
    as_nobody = "setpriv --reuid 65534 --regid 65534 --clear-groups %s s6-setuidgid " % launcher
    rc, out, err = in_namespace(accounts, as_nobody + "65534:65534 id -u")
    assert (rc, out) == (0, b"65534\n"), err
    rc, out, err = in_namespace(accounts, as_nobody + "nobody id -u")
    assert (rc, out) == (0, b"65534\n"), err
    cmd = as_nobody + "daemon id -u"
    rc, out, err = in_namespace(accounts, cmd)
    assert rc == 111 and b"s6-applyuidgid: fatal: unable to set supplementary group list" in err

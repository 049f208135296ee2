"""fix-attrs on real trees (as root): line format, globbing, recursion, hidden files, the
account fallback table of the README, and symlinks planted to redirect us."""

import os
import pwd
import subprocess

import pytest

from s6py.accounts import fixattrs_owner
from s6py.init import fixattrs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")

DAEMON = pwd.getpwnam("daemon")
D = (DAEMON.pw_uid, DAEMON.pw_gid)


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def apply(text, hidden=False):
    messages = []
    failures = fixattrs.apply_lines(text.splitlines(), "test", hidden, messages.append)
    return failures, messages


@pytest.mark.parametrize(
    "account, expected",
    [
        ("daemon", D),
        ("daemon,3:4", D),
        ("%d:%d,3:4" % D, D),
        ("daemon:11111,3:4", (D[0], 11111)),
        ("11111:daemon,3:4", (11111, D[1])),
        ("daemon:daemon,3:4", D),
        ("daemon:unexisting,3:4", (D[0], 4)),
        ("unexisting:daemon,3:4", (3, D[1])),
        ("11111:11111,3:4", (11111, 11111)),
        ("nobody-not-here,32768:32768", (32768, 32768)),
    ],
)
def test_account_column_follows_the_readme_table(account, expected):
    assert fixattrs_owner(account) == expected


@pytest.fixture
def tree(tmp_path):
    top = tmp_path / "data"
    (top / "sub" / "deeper").mkdir(parents=True)
    (top / "file").write_text("f")
    (top / "sub" / "file2").write_text("f")
    (top / "sub" / "deeper" / "file3").write_text("f")
    (top / ".hidden").write_text("h")
    (top / ".hiddendir").mkdir()
    (top / ".hiddendir" / "inside").write_text("h")
    return top


def test_recursive_rule_sets_owner_and_modes(tree):
    failures, messages = apply("%s true daemon 0640 0750" % tree)
    assert (failures, messages) == (0, [])
    for d in (tree, tree / "sub", tree / "sub" / "deeper"):
        assert owner_mode(d) == D + (0o750,)
    for f in (tree / "file", tree / "sub" / "file2", tree / "sub" / "deeper" / "file3"):
        assert owner_mode(f) == D + (0o640,)
    # dot entries are left alone unless S6_FIX_ATTRS_HIDDEN
    assert owner_mode(tree / ".hidden")[:2] == (0, 0)
    assert owner_mode(tree / ".hiddendir" / "inside")[:2] == (0, 0)


def test_hidden_entries_with_fix_attrs_hidden(tree):
    failures, _ = apply("%s true daemon 0600 0700" % tree, hidden=True)
    assert failures == 0
    assert owner_mode(tree / ".hidden") == D + (0o600,)
    assert owner_mode(tree / ".hiddendir") == D + (0o700,)
    assert owner_mode(tree / ".hiddendir" / "inside") == D + (0o600,)


def test_non_recursive_rule_touches_only_the_path(tree):
    failures, _ = apply("%s false daemon 0600 2700" % tree)
    assert failures == 0
    assert owner_mode(tree) == D + (0o2700,)
    assert owner_mode(tree / "file")[:2] == (0, 0)


def test_glob_and_dash_modes(tree):
    os.chmod(tree / "file", 0o604)
    failures, _ = apply("%s/* false 7:8 - 0711" % tree)
    assert failures == 0
    assert owner_mode(tree / "file") == (7, 8, 0o604)  # "-": mode unchanged
    assert owner_mode(tree / "sub") == (7, 8, 0o711)
    assert owner_mode(tree / ".hidden")[:2] == (0, 0)  # * does not match dot files


def test_a_symlink_planted_in_the_tree_is_never_followed(tree, tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("secret")
    os.chmod(victim, 0o600)
    victim_dir = tmp_path / "etc"
    victim_dir.mkdir()
    (victim_dir / "inside").write_text("x")
    os.symlink(victim, tree / "sub" / "evil")
    os.symlink(victim_dir, tree / "sub" / "evildir")
    failures, _ = apply("%s true daemon 0666 0777" % tree)
    assert failures == 0
    assert owner_mode(victim) == (0, 0, 0o600)
    assert owner_mode(victim_dir)[:2] == (0, 0)
    assert owner_mode(victim_dir / "inside")[:2] == (0, 0)
    # the link itself changes owner, as chown -R does
    assert os.lstat(tree / "sub" / "evil").st_uid == D[0]


def test_a_symlink_matched_by_a_wildcard_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("v")
    os.chmod(victim, 0o600)
    vol = tmp_path / "vol"
    vol.mkdir()
    os.symlink(victim, vol / "planted")
    failures, _ = apply("%s/* true daemon 0666 0777" % vol)
    assert failures == 0
    assert owner_mode(victim) == (0, 0, 0o600)


def test_a_literal_symlink_is_followed(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "f").write_text("x")
    os.symlink(real, tmp_path / "link")
    failures, _ = apply("%s true daemon 0640 0750" % (tmp_path / "link"))
    assert failures == 0
    assert owner_mode(real) == D + (0o750,)
    assert owner_mode(real / "f") == D + (0o640,)


def test_bad_lines_are_reported_and_the_rest_applies(tree):
    text = "\n".join(
        [
            "# a comment",
            "",
            "%s/file maybe daemon 0600 0700" % tree,
            "%s/file false nosuchuser 0600 0700" % tree,
            "%s/file false daemon 0999 0700" % tree,
            "%s/file false daemon 0600" % tree,
            "%s/file false daemon,x:y 0600 0700" % tree,
            "%s/sub false daemon 0600 0701" % tree,
        ]
    )
    failures, messages = apply(text)
    assert failures == 5
    assert len(messages) == 5
    assert messages[0].startswith("test line 3: recurse must be true or false")
    assert "unknown user: nosuchuser" in messages[1]
    assert "fmode '0999'" in messages[2]
    assert "expected 5 fields" in messages[3]
    assert owner_mode(tree / "sub") == D + (0o701,)
    assert owner_mode(tree / "file")[:2] == (0, 0)


def test_a_pattern_matching_nothing_is_a_warning_not_a_failure(tmp_path):
    failures, messages = apply("%s/nothing* true daemon 0600 0700\n%s/missing false daemon 0600 0700" % (tmp_path, tmp_path))
    assert failures == 0
    assert len(messages) == 2 and all("nothing to do" in m for m in messages)


def test_deep_trees_do_not_exhaust_the_stack(tmp_path):
    d = tmp_path / "deep"
    path = str(d)
    for _ in range(300):
        path = os.path.join(path, "d")
    os.makedirs(path)
    failures, _ = apply("%s true daemon 0600 0700" % d)
    assert failures == 0
    assert owner_mode(path) == D + (0o700,)


# ---------------------------------------------------------------- the command


def test_command_reads_stdin_files_and_directories(ours, tree, tmp_path):
    env = {"PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(ours / "fix-attrs")], input=("%s false daemon 0600 0701\n" % tree).encode(), env=env, capture_output=True)
    assert (r.returncode, r.stderr) == (0, b"")
    assert owner_mode(tree) == D + (0o701,)

    fixd = tmp_path / "fix-attrs.d"
    fixd.mkdir()
    (fixd / "01-sub").write_text("%s/sub true 5:6 0600 0700\n" % tree)
    (fixd / "02-bad").write_text("garbage line\n")
    r = subprocess.run([str(ours / "fix-attrs"), "-d", str(fixd)], env=env, capture_output=True)
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[0] == "fix-attrs: info: applying %s/01-sub" % fixd
    assert lines[1] == "fix-attrs: info: applying %s/02-bad" % fixd
    assert lines[2].startswith("fix-attrs: warning: %s/02-bad line 1: expected 5 fields" % fixd)
    assert len(lines) == 3
    assert owner_mode(tree / "sub" / "file2") == (5, 6, 0o600)

    r = subprocess.run([str(ours / "fix-attrs"), str(fixd / "01-sub")], env=dict(env, S6_VERBOSITY="0"), capture_output=True)
    assert (r.returncode, r.stderr) == (0, b"")


def test_command_default_directory_and_profile(ours, tree, tmp_path):
    root = tmp_path / "root"
    (root / "etc" / "fix-attrs.d").mkdir(parents=True)
    (root / "etc" / "fix-attrs.d" / "x").write_text("%s false 9:9 0600 0700\n" % tree)
    prof = root / "etc" / "cont-profile.d" / "dev" / "fix-attrs.d"
    prof.mkdir(parents=True)
    (prof / "y").write_text("%s false 8:8 0600 0700\n" % tree)
    env = {"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root)}
    r = subprocess.run([str(ours / "fix-attrs"), "-d"], env=env, capture_output=True)
    assert r.returncode == 0
    assert owner_mode(tree)[:2] == (9, 9)
    r = subprocess.run([str(ours / "fix-attrs"), "-d"], env=dict(env, S6_RUNTIME_PROFILE="dev"), capture_output=True)
    assert r.returncode == 0
    assert owner_mode(tree)[:2] == (8, 8)
    assert subprocess.run([str(ours / "fix-attrs"), "-x"], capture_output=True).returncode == 100

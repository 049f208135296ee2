"""fix-attrs and symlinks planted to redirect it, on real trees (as root), and out-of-range
ids in the account column.

What is checked (docs/fix-attrs.md, "Symlinks"):

- nothing a wildcard finds is followed, at any component of the pattern: a link matched by
  the last component only gets its own owner (chown -h), a link matched by a middle
  component (or found below one) is not entered;
- recursion never follows a link, below a wildcard match or below a literal path;
- a literal path (no wildcard anywhere) is followed, one level only;
- a directory component swapped for a link while the rule runs, over and over, never makes
  us change the tree the link points to;
- `4294967296:0` and friends are one clear message for that line, the other lines and the
  boot go on (no OverflowError from os.chown).

Each "decoy" is a tree of files made here standing for /etc or /root: its owners and modes
must come out of every test exactly as they went in.
"""

import glob
import os
import subprocess
import sys
import time

import pytest

from s6py.accounts import fixattrs_owner
from s6py.init import fixattrs
from test_init_support import box_fixture
from test_fixattrs import apply, owner_mode

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")

box = box_fixture()

OWNER = (1000, 1000)


def make_decoy(path):
    """A small tree standing for /etc: root-owned, private modes.  Returns PATH."""
    os.makedirs(os.path.join(path, "sub"))
    for rel in ("shadow", "sub/inner"):
        with open(os.path.join(path, rel), "w") as f:
            f.write("secret\n")
        os.chmod(os.path.join(path, rel), 0o600)
    os.makedirs(os.path.join(path, ".ssh"))
    with open(os.path.join(path, ".ssh", "authorized_keys"), "w") as f:
        f.write("key\n")
    os.chmod(os.path.join(path, ".ssh", "authorized_keys"), 0o600)
    os.makedirs(os.path.join(path, "conf"))
    with open(os.path.join(path, "conf", "app.ini"), "w") as f:
        f.write("x\n")
    os.chmod(os.path.join(path, "conf", "app.ini"), 0o600)
    os.makedirs(os.path.join(path, "app", "lib"))
    with open(os.path.join(path, "app", "lib", "x"), "w") as f:
        f.write("x\n")
    os.chmod(os.path.join(path, "app", "lib", "x"), 0o600)
    for d in ("app/lib", "app"):
        os.chmod(os.path.join(path, d), 0o700)
    os.chmod(os.path.join(path, ".ssh"), 0o700)
    os.chmod(os.path.join(path, "sub"), 0o700)
    os.chmod(os.path.join(path, "conf"), 0o700)
    os.chmod(path, 0o700)
    return path


def snapshot(top):
    """{relative path: (uid, gid, mode)} of everything under TOP, TOP included (lstat)."""
    result = {".": owner_mode(top)}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            result[os.path.relpath(path, top)] = owner_mode(path)
    return result


BEFORE = {}


def assert_untouched(decoy):
    assert snapshot(decoy) == BEFORE[decoy], "the decoy tree was changed through a link"


@pytest.fixture
def decoy(tmp_path):
    path = make_decoy(str(tmp_path / "decoy"))
    BEFORE[path] = snapshot(path)
    yield path
    del BEFORE[path]


# ------------------------------------------------------------ the reported layouts


def test_data_star_shadow_does_not_go_through_a_linked_directory(tmp_path, decoy):
    data = tmp_path / "data"
    (data / "app").mkdir(parents=True)
    (data / "app" / "shadow").write_text("mine\n")
    os.symlink(decoy, data / "etc")  # data/etc -> "/etc"
    failures, messages = apply("%s/*/shadow false 1000:1000 0666 0777" % data)
    assert (failures, messages) == (0, [])
    assert owner_mode(data / "app" / "shadow") == OWNER + (0o666,)
    # the link itself is not what the pattern names (data/etc/shadow): left alone
    assert owner_mode(data / "etc")[:2] == (0, 0)
    assert_untouched(decoy)


def test_home_star_ssh_with_a_home_directory_that_is_a_link(tmp_path, decoy):
    home = tmp_path / "home"
    (home / "alice" / ".ssh").mkdir(parents=True)
    (home / "alice" / ".ssh" / "authorized_keys").write_text("k\n")
    os.symlink(decoy, home / "mallory")  # home/mallory -> "/root"
    failures, _ = apply("%s/*/.ssh true 1000:1000 0600 0700" % home)
    assert failures == 0
    assert owner_mode(home / "alice" / ".ssh") == OWNER + (0o700,)
    assert owner_mode(home / "alice" / ".ssh" / "authorized_keys") == OWNER + (0o600,)
    assert_untouched(decoy)


def test_home_star_ssh_with_a_link_planted_in_a_home_directory(tmp_path, decoy):
    home = tmp_path / "home"
    (home / "alice").mkdir(parents=True)
    (home / "bob" / ".ssh").mkdir(parents=True)
    (home / "bob" / ".ssh" / "authorized_keys").write_text("k\n")
    os.symlink(os.path.join(decoy, ".ssh"), home / "alice" / ".ssh")  # alice's .ssh -> /root/.ssh
    failures, _ = apply(
        "%s/*/.ssh true 1000:1000 0600 0700\n%s/*/.ssh/authorized_keys false 1000:1000 0666 0777"
        % (home, home)
    )
    assert failures == 0
    assert owner_mode(home / "bob" / ".ssh" / "authorized_keys") == OWNER + (0o666,)
    # the planted link matched by the last component: its own owner only (chown -h)
    assert owner_mode(home / "alice" / ".ssh")[:2] == OWNER
    assert_untouched(decoy)


# ------------------------------------------------------------ where the wildcard is


def test_a_wildcard_in_a_middle_component(tmp_path, decoy):
    srv = tmp_path / "srv"
    (srv / "one" / "conf").mkdir(parents=True)
    (srv / "one" / "conf" / "app.ini").write_text("x\n")
    os.symlink(decoy, srv / "two")                      # matched by the middle '*'
    (srv / "three").mkdir()
    os.symlink(os.path.join(decoy, "conf"), srv / "three" / "conf")  # literal part after it
    failures, _ = apply("%s/*/conf/*.ini false 1000:1000 0666 0777" % srv)
    assert failures == 0
    assert owner_mode(srv / "one" / "conf" / "app.ini") == OWNER + (0o666,)
    assert_untouched(decoy)


def test_a_wildcard_with_a_trailing_slash(tmp_path, decoy):
    vol = tmp_path / "vol"
    (vol / "real").mkdir(parents=True)
    (vol / "real" / "f").write_text("x\n")
    os.symlink(decoy, vol / "evil")
    failures, _ = apply("%s/*/ true 1000:1000 0666 0777" % vol)
    assert failures == 0
    assert owner_mode(vol / "real") == OWNER + (0o777,)
    assert owner_mode(vol / "real" / "f") == OWNER + (0o666,)
    assert_untouched(decoy)


def test_recursion_meets_a_directory_link_and_a_file_link(tmp_path, decoy):
    vol = tmp_path / "vol"
    app = vol / "a" / "app"
    (app / "lib").mkdir(parents=True)
    (app / "lib" / "x").write_text("x\n")
    os.symlink(decoy, app / "lib" / "etc")                       # a directory link
    os.symlink(os.path.join(decoy, "shadow"), app / "shadow")    # a file link
    os.symlink(decoy, vol / "b")                                 # b/app is decoy/app: not entered
    failures, _ = apply("%s/*/app true 1000:1000 0666 0777" % vol)
    assert failures == 0
    assert owner_mode(app) == OWNER + (0o777,)
    assert owner_mode(app / "lib" / "x") == OWNER + (0o666,)
    # the links found while recursing: their own owner only
    assert owner_mode(app / "lib" / "etc")[:2] == OWNER
    assert owner_mode(app / "shadow")[:2] == OWNER
    assert_untouched(decoy)


def test_a_literal_path_that_is_a_link_is_followed_one_level_only(tmp_path, decoy):
    real = tmp_path / "real"
    (real / "d").mkdir(parents=True)
    (real / "d" / "f").write_text("x\n")
    os.symlink(decoy, real / "d" / "etc")
    os.symlink(os.path.join(decoy, "shadow"), real / "shadow")
    os.symlink(real, tmp_path / "link")
    failures, _ = apply("%s true 1000:1000 0640 0750" % (tmp_path / "link"))
    assert failures == 0
    assert owner_mode(real) == OWNER + (0o750,)        # the named link is followed
    assert owner_mode(real / "d" / "f") == OWNER + (0o640,)
    assert owner_mode(real / "d" / "etc")[:2] == OWNER  # links below it are not
    assert owner_mode(real / "shadow")[:2] == OWNER
    assert_untouched(decoy)


def test_the_literal_part_before_the_first_wildcard_is_followed(tmp_path):
    """`/var/run/*` with /var/run -> /run: the author wrote that prefix (as glob does)."""
    real = tmp_path / "run"
    (real / "x").mkdir(parents=True)
    os.symlink(real, tmp_path / "varrun")
    failures, _ = apply("%s/* false 1000:1000 0600 0711" % (tmp_path / "varrun"))
    assert failures == 0
    assert owner_mode(real / "x") == OWNER + (0o711,)


def test_matching_is_glob_s_without_links(tmp_path):
    """Same matches, same order as glob.glob on a tree without links (dot files, [...], ?)."""
    top = tmp_path / "t"
    names = ["a", "b", "a-c", "a.d", ".hid", "[x]", "x", "ab", "b0", "b9", "ba"]
    for n in names:
        for m in ("y", ".z", "a-b"):
            os.makedirs(top / n / m)
    patterns = ["*", "*/*", ".*", "*/.*", "a*", "b[0-9]", "?", "?/y", "[[]x]", "*/a-b", "a*/y/",
                "[!a]*", "*-*", "nomatch*", "*/nomatch"]
    for p in patterns:
        full = "%s/%s" % (top, p)
        expected = sorted(glob.glob(full))
        assert [path for path, _ in fixattrs.expand(full)] == expected, p
    os.chdir(top)  # relative patterns (pytest puts the working directory back)
    for p in patterns + ["./*", "a/../b*"]:
        assert [path for path, _ in fixattrs.expand(p)] == sorted(glob.glob(p)), p


# ------------------------------------------------------------ a link swapped in


SWAPPER = r"""
import os, sys, time
vol, decoy, deadline = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
pairs = [(os.path.join(vol, "x"), os.path.join(vol, ".x-real")),
         (os.path.join(vol, "y", "sub"), os.path.join(vol, "y", ".sub-real"))]
links = [os.path.join(vol, ".x-link"), os.path.join(vol, "y", ".sub-link")]
os.symlink(decoy, links[0])
os.symlink(os.path.join(decoy, "sub"), links[1])
sys.stdout.write("ready\n"); sys.stdout.flush()
while time.time() < deadline:
    for (name, saved), link in zip(pairs, links):
        os.rename(name, saved)      # the real directory steps aside...
        os.rename(link, name)       # ...a link to the decoy takes its name...
        os.rename(name, link)       # ...and goes away again
        os.rename(saved, name)
"""


def test_a_directory_swapped_for_a_link_while_the_rules_run(tmp_path, decoy):
    vol = tmp_path / "vol"
    for d in ("x/sub", "y/sub/deeper"):
        (vol / d).mkdir(parents=True)
    (vol / "x" / "shadow").write_text("x\n")
    (vol / "y" / "sub" / "deeper" / "f").write_text("x\n")
    rules = "\n".join([
        "%s/*/shadow false 1000:1000 0666 0777" % vol,
        "%s/*/sub true 1000:1000 0666 0777" % vol,
        "%s/* true 1000:1000 0666 0777" % vol,
        "%s/y/*/deeper true 1000:1000 0666 0777" % vol,
    ])
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(vol), decoy, "2"],
                               stdout=subprocess.PIPE)
    try:
        assert swapper.stdout.readline() == b"ready\n"
        runs = 0
        while swapper.poll() is None:
            apply(rules)
            runs += 1
    finally:
        if swapper.poll() is None:
            swapper.kill()
        swapper.wait()
    assert swapper.returncode == 0
    assert runs > 10
    assert_untouched(decoy)


# ------------------------------------------------------------ out-of-range ids


@pytest.mark.parametrize(
    "account, why",
    [
        ("4294967296:0", "uid 4294967296 is out of range"),
        ("99999999999999999999:0", "uid 99999999999999999999 is out of range"),
        ("4294967295:0", "uid 4294967295 is out of range"),
        ("0:4294967296", "gid 4294967296 is out of range"),
        ("root:4294967295", "gid 4294967295 is out of range"),
        ("-1:0", "uid -1 is out of range"),
        ("0:-5", "gid -5 is out of range"),
        ("nosuchuser,4294967296:0", "fallback uid 4294967296 is out of range"),
        ("root,0:99999999999999999999", "fallback gid 99999999999999999999 is out of range"),
    ],
)
def test_out_of_range_ids_are_a_clear_line_error(account, why):
    with pytest.raises(ValueError) as info:
        fixattrs_owner(account)
    assert why in str(info.value)
    with pytest.raises(fixattrs.LineError) as info:
        fixattrs.parse_line("/x false %s 0600 0700" % account)
    assert why in str(info.value)


def test_the_largest_ids_are_accepted():
    assert fixattrs_owner("4294967294:4294967294") == (4294967294, 4294967294)
    assert fixattrs_owner("nosuchuser,4294967294:0") == (4294967294, 0)


def test_a_bad_id_line_is_skipped_and_the_next_lines_apply(tmp_path):
    f = tmp_path / "f"
    f.write_text("x\n")
    failures, messages = apply("%s false 4294967296:0 0600 0700\n%s false 7:8 0604 0700" % (f, f))
    assert failures == 1
    assert messages == ["test line 1: account '4294967296:0': uid 4294967296 is out of range"
                        " (0 to 4294967294): line skipped"]
    assert owner_mode(f) == (7, 8, 0o604)


def test_a_nul_byte_in_the_path_is_a_line_error(tmp_path):
    f = tmp_path / "f"
    f.write_text("x\n")
    failures, messages = apply("%s/x\0y* false 0:0 0600 0700\n%s false 7:8 0604 0700" % (tmp_path, f))
    assert failures == 1
    assert messages == ["test line 1: path contains a NUL byte: line skipped"]
    assert owner_mode(f) == (7, 8, 0o604)


def test_a_rule_made_by_hand_with_a_huge_id_is_a_failure_not_an_exception(tmp_path):
    f = tmp_path / "f"
    f.write_text("x\n")
    messages = []
    rule = fixattrs.Rule(str(f), False, 2 ** 32, 0, 0o600, None)
    assert fixattrs.apply_rule(rule, report=messages.append) == 1
    assert len(messages) == 1 and messages[0].startswith("%s: unable to chown" % f), messages
    assert owner_mode(f) == (0, 0, 0o600)


# ------------------------------------------------------------ through /init


def test_init_bad_id_line_then_the_boot_goes_on(box):
    box.file("data/f", "x\n", 0o644)
    box.file("data/g", "x\n", 0o644)
    box.file("etc/fix-attrs.d/00-bad",
             "%s false 4294967296:0 0600 0700\n%s false 7:8 0600 0700\n"
             % (box.path("data/f"), box.path("data/f")))
    box.file("etc/fix-attrs.d/01-next", "%s false 9:9 0640 0700\n" % box.path("data/g"))
    box.script("etc/cont-init.d/00", "echo cont-init-ran\n")
    r = box.run(["sh", "-c", "echo cmd-ran"])
    assert r.code == 0, r
    assert r.out.splitlines() == ["cont-init-ran", "cmd-ran"], r
    assert "internal error" not in r.err, r
    bad = [line for line in r.err.splitlines() if "4294967296" in line]
    assert len(bad) == 1, r.err
    assert "00-bad line 1" in bad[0] and "uid 4294967296 is out of range" in bad[0], bad
    assert owner_mode(box.path("data/f")) == (7, 8, 0o600)
    assert owner_mode(box.path("data/g")) == (9, 9, 0o640)


def test_init_data_star_shadow_with_a_linked_etc(box):
    decoy = make_decoy(os.path.join(box.dir, "etc-decoy"))
    before = snapshot(decoy)
    box.file("data/app/shadow", "mine\n", 0o600)
    os.symlink(decoy, box.path("data/etc"))
    box.file("etc/fix-attrs.d/00", "%s/*/shadow false 1000:1000 0666 0777\n" % box.path("data"))
    r = box.run(["true"])
    assert r.code == 0, r
    assert snapshot(decoy) == before
    assert owner_mode(box.path("data/app/shadow")) == OWNER + (0o666,)

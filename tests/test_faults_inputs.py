"""Fault injection: bad inputs of every kind, each boot run for real by /init as PID 1.

Every test is ONE boot (test_init_support.Box) that holds a whole group of independent bad
inputs side by side (so the module stays fast: several bad inputs share a boot when none can
change what another one does), next to a good cont-init script, a good service and a CMD
that waits (bounded) for the good service (faults_support.plant_good / GOOD_CMD).  For each
boot we check:

- PID 1 survives: it exits with the expected code, no hang (bounded wait);
- the good cont-init script, the good service and the CMD all ran;
- no traceback and no `internal error` line anywhere on stderr;
- each bad input gives AT MOST ONE line on stderr (lines naming its case id; every case id
  is an upper-case token like `K07`, which never appears in the box's lower-case temporary
  path).

The cases are generated from tables; the counts (cases tried / survived / clear messages)
are in every assertion message and printed by teardown_module (visible with `pytest -s`).
"""

import os
import re

import pytest

from faults_support import (GOOD_CMD, Tally, bad_lines, boot, good_ran, lines_with,
                            plant_good, short)
from test_init_support import box_fixture

box = box_fixture()

TALLY = Tally("test_faults_inputs")


def teardown_module():
    print("\n" + TALLY.summary())


def judge(box, r, cases, expect_code=0, good=True, tokens=None):
    """Record each case of one boot; assert at the end of the boot.

    CASES: list of (case id, description).  TOKENS: optional {case id: [tokens]} naming
    what else identifies a case's lines (default: the case id itself)."""
    missing = good_ran(box) if good else []
    survived = r.code == expect_code and not missing
    clean = not bad_lines(r.err)
    failures = []
    for cid, what in cases:
        toks = (tokens or {}).get(cid, [cid])
        said = lines_with(r.err, *toks)
        clear = clean and len(said) <= 1
        TALLY.case("%s (%s)" % (cid, what), survived, clear, "%d line(s): %r" % (len(said), short(said)))
        if not clear:
            failures.append((cid, what, said))
    detail = "%s\ncode=%r (want %r), good things missing: %s\nbad lines: %r\nstderr:\n%s" % (
        TALLY, r.code, expect_code, missing, bad_lines(r.err), r.err[-6000:])
    assert survived, detail
    assert clean, detail
    assert not failures, "more than one line for: %r\n%s" % (
        [(cid, what, short(said)) for cid, what, said in failures], detail)


# ------------------------------------------------------------------ service directories

SERVICE_FILE_VALUES = {
    "notification-fd": ["garbage", "-1", "99999999999", "1", "2", "", "DIR", "FIFO"],
    "down-signal": ["garbage", "0", "65", "99999999999", "DIR"],
    "timeout-kill": ["garbage", "99999999999999999999", "-5"],
    "timeout-finish": ["garbage", "99999999999999999999", "-5"],
    "max-death-tally": ["garbage", "99999999999999999999", "-5"],
    "lock-fd": ["garbage", "99999999999999999999", "-5", "DIR"],
}


def _plant_service_file(box, cid, filename, value, finish=False):
    base = "etc/services.d/%s" % cid
    box.service(cid, "exec sleep 1000\n", finish="exit 0\n" if finish else None)
    path = box.path(base + "/" + filename)
    if value == "DIR":
        os.mkdir(path)
    elif value == "FIFO":
        os.mkfifo(path)
    else:
        box.file(base + "/" + filename, value + ("\n" if value else ""))


def test_malformed_service_directory_files(box):
    """All malformed control files in one boot (one service per bad file: independent)."""
    plant_good(box)
    cases = []
    n = 0
    for filename, values in SERVICE_FILE_VALUES.items():
        for value in values:
            n += 1
            cid = "S%02d" % n
            _plant_service_file(box, cid, filename, value, finish=(filename == "timeout-finish"))
            cases.append((cid, "%s=%r" % (filename, value)))
    r = boot(box)
    judge(box, r, cases)
    assert "good-cmd-ran" in r.out, r


def _raw_service(box, name, make_run):
    d = os.path.join(os.fsencode(box.path("etc/services.d")), os.fsencode(name))
    os.makedirs(d)
    make_run(os.path.join(d, b"run"))
    return d


def _write(path, data, mode=0o755):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def test_broken_run_files_and_odd_service_names(box):
    """Broken `run` files, `log/` without run and odd names, all in one boot."""
    plant_good(box)
    good_run = b"#!/bin/sh\nexec sleep 1000\n"
    garbage = bytes(b for b in range(1, 256)) * 4
    runs = [
        ("R01", "run is a directory", lambda p: os.mkdir(p)),
        ("R02", "run is a dangling symlink", lambda p: os.symlink(b"/nonexistent/run", p)),
        ("R03", "run is a fifo", lambda p: os.mkfifo(p)),
        ("R04", "run is empty", lambda p: _write(p, b"")),
        ("R05", "run is binary garbage", lambda p: _write(p, garbage)),
        ("R06", "run has no #! line", lambda p: _write(p, b"exec sleep 1000\n")),
        ("R07", "run is not executable", lambda p: _write(p, good_run, 0o644)),
        ("R08", "run is a symlink loop", lambda p: os.symlink(b"run", p)),
    ]
    cases = []
    for cid, what, make in runs:
        _raw_service(box, cid, make)
        cases.append((cid, what))
    d = _raw_service(box, "R09", lambda p: _write(p, good_run))
    os.mkdir(os.path.join(d, b"log"))
    cases.append(("R09", "log/ without run"))
    d = _raw_service(box, "R10", lambda p: _write(p, good_run))
    os.mkdir(os.path.join(d, b"log"))
    os.symlink(b"/nonexistent", os.path.join(d, b"log", b"run"))
    cases.append(("R10", "log/run dangling"))
    names = [
        ("N01", "N01 with spaces"),
        ("N02", "N02\nwith-a-newline"),
        ("N03", ".N03-leading-dot"),
        ("N04", "N04" + "x" * 252),  # 255 bytes: NAME_MAX
        ("N05", os.fsdecode(b"N05-\xff\xfe-not-utf8")),
        ("N06", "N06-\u00e9\u4e2d"),
        ("N07", "N07\ttab"),
        ("N08", "-N08-leading-dash"),
    ]
    for cid, name in names:
        _raw_service(box, name, lambda p: _write(p, good_run))
        cases.append((cid, "name %r" % name[:20]))
    r = boot(box)
    judge(box, r, cases)


# ------------------------------------------------------------------ S6_* variables

# every knob of docs/init.md "The S6_* knobs" whose value is parsed (numbers, flags,
# choices); the string-valued ones (S6_CMD_ARG0, S6_STAGE2_HOOK, S6_RUNTIME_PROFILE,
# S6_LOGGING_SCRIPT, S6_CATCHALL_USER) change what runs, and get boots of their own below.
PARSED_KNOBS = [
    "S6_KEEP_ENV", "S6_BEHAVIOUR_IF_STAGE2_FAILS", "S6_KILL_FINISH_MAXTIME", "S6_KILL_GRACETIME",
    "S6_SERVICES_GRACETIME", "S6_CMD_WAIT_FOR_SERVICES", "S6_CMD_WAIT_FOR_SERVICES_MAXTIME",
    "S6_CMD_USE_TERMINAL", "S6_CMD_RECEIVE_SIGNALS", "S6_FIX_ATTRS_HIDDEN", "S6_READ_ONLY_ROOT",
    "S6_SYNC_DISKS", "S6_VERBOSITY", "S6_WAIT_FOR_CLOSING_FD", "S6_LOGGING",
    "S6_SERVICES_READYTIME", "S6_YES_I_WANT_A_WORLD_WRITABLE_RUN_BECAUSE_KUBERNETES",
]
STRING_KNOBS = ["S6_CMD_ARG0", "S6_STAGE2_HOOK", "S6_RUNTIME_PROFILE", "S6_LOGGING_SCRIPT",
                "S6_CATCHALL_USER"]

BAD_VALUES = {
    "garbage": "x!@#garbage",
    "empty": "",
    "blank": "  ",
    "negative": "-1",
    "huge32": "4294967295",
    "huge": "99999999999999999999",
    "nonascii": "\u0663\u0664\u2460",  # Arabic-Indic digits and a circled one: isdigit() is True
    "nonascii-word": "\u00e9t\u00e9",
}


def _knob_re(name):
    return re.compile(r"(?<![A-Z0-9_])%s(?![A-Z0-9_])" % re.escape(name))


def _knob_lines(err, name):
    pat = _knob_re(name)
    return [line for line in err.splitlines() if pat.search(line)]


def test_docs_table_is_covered():
    """The two lists above are exactly the docs' table of knobs."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "docs", "init.md"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("## The `S6_*` knobs", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(S6_[A-Z0-9_]+)` \|", table, re.M))
    assert documented == set(PARSED_KNOBS) | set(STRING_KNOBS), documented ^ (set(PARSED_KNOBS) | set(STRING_KNOBS))


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_every_parsed_knob_with_a_bad_value(box, kind):
    """One boot per kind of bad value, with EVERY parsed knob set to it at once (each knob
    falls back to its default, or takes the value when it is a valid one, independently)."""
    value = BAD_VALUES[kind]
    plant_good(box)
    env = {name: value for name in PARSED_KNOBS}
    r = boot(box, env=env)
    missing = good_ran(box)
    survived = r.code == 0 and not missing
    clean = not bad_lines(r.err)
    over = {}
    for name in PARSED_KNOBS:
        said = _knob_lines(r.err, name)
        TALLY.case("%s=%r" % (name, value), survived, clean and len(said) <= 1, repr(short(said)))
        if len(said) > 1:
            over[name] = said
    detail = "%s\nvalue %r: code=%r missing=%s\nstderr:\n%s" % (TALLY, value, r.code, missing, r.err[-6000:])
    assert survived and clean, detail
    assert not over, "%r\n%s" % (over, detail)
    assert "good-cmd-ran" in r.out, detail


def _arg0_shims(box, value):
    """A program named after each word of VALUE on PATH, which runs the rest: the CMD then
    runs through them (S6_CMD_ARG0 is taken literally)."""
    for word in value.split():
        path = os.path.join(box.bin, word)
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec "$@"\n')
        os.chmod(path, 0o755)


@pytest.mark.parametrize("kind", ["garbage", "negative", "huge", "nonascii"])
def test_string_knobs_with_bad_values(box, kind):
    """S6_STAGE2_HOOK, S6_RUNTIME_PROFILE, S6_LOGGING(=1)_SCRIPT, S6_CATCHALL_USER set to the
    bad value in one boot; S6_CMD_ARG0 too, with a program of that name on PATH so the CMD
    can still run (and a second boot below where it cannot).

    The hook cannot start (one error line, and the boot carries on, S6_BEHAVIOUR 0); the
    profile's directories hold the good things; the catch-all logger is given a bad script
    and a bad user: everything must still run."""
    value = BAD_VALUES[kind]
    profile = "etc/cont-profile.d/%s" % value
    box.script(profile + "/cont-init.d/50-good-init", 'touch "$S6PY_ROOT/data/good-init"\n')
    box.service("good-svc", 'touch "$S6PY_ROOT/data/good-svc"; exec sleep 1000\n', profile=value)
    _arg0_shims(box, value)
    env = {"S6_STAGE2_HOOK": value, "S6_RUNTIME_PROFILE": value, "S6_LOGGING": "1",
           "S6_LOGGING_SCRIPT": value, "S6_CATCHALL_USER": value, "S6_CMD_ARG0": value}
    r = boot(box, env=env)
    missing = good_ran(box)
    survived = r.code == 0 and not missing
    clean = not bad_lines(r.err)
    over = {}
    for name in STRING_KNOBS:
        toks = {"S6_STAGE2_HOOK": ["hook"], "S6_CATCHALL_USER": ["S6_CATCHALL_USER"],
                "S6_LOGGING_SCRIPT": ["S6_LOGGING_SCRIPT", "s6-log"]}.get(name, [name])
        said = lines_with(r.err, *toks)
        if name == "S6_STAGE2_HOOK":
            said = [line for line in said if "exited" not in line or "hook" not in line] or said
        TALLY.case("%s=%r" % (name, value), survived, clean and len(said) <= 1, repr(short(said)))
        if len(said) > 1:
            over[name] = said
    detail = "%s\nvalue %r: code=%r missing=%s\nstdout:%s\nstderr:\n%s" % (
        TALLY, value, r.code, missing, r.out, r.err[-6000:])
    assert survived and clean, detail
    assert not over, "%r\n%s" % (over, detail)


@pytest.mark.parametrize("kind", ["garbage", "negative", "huge", "nonascii-word"])
def test_cmd_arg0_naming_no_program(box, kind):
    """S6_CMD_ARG0 naming no program: the CMD cannot start; one `[cmd]` line, exit 127, the
    cont-init script ran, PID 1 stops cleanly (documented: services.d is then never spawned)."""
    value = BAD_VALUES[kind]
    plant_good(box)
    r = boot(box, env={"S6_CMD_ARG0": value})
    said = lines_with(r.err, value.split()[0])
    ok = r.code == 127 and os.path.exists(box.path("data/good-init"))
    clear = not bad_lines(r.err) and len(said) == 1 and "command not found" in said[0]
    TALLY.case("S6_CMD_ARG0=%r (no such program)" % value, ok, clear, repr(said))
    assert ok and clear, "%s\n%r" % (TALLY, r)


# ------------------------------------------------------------------ fix-attrs.d

def _fixattrs_lines(box):
    d = box.path("data/fa")
    os.makedirs(d)
    loop = os.path.join(d, "loop")
    os.makedirs(os.path.join(loop, "sub"))
    os.symlink("..", os.path.join(loop, "sub", "up"))  # recursion must not follow it
    os.symlink("self", os.path.join(d, "self"))  # a literal path that is a symlink loop
    os.symlink("l2", os.path.join(d, "l1"))
    os.symlink("l1", os.path.join(d, "l2"))
    # no byte that ends a line: \n \r, and \v \f \x1c \x1d \x1e \x85, which Python's
    # str.splitlines() also takes for line ends
    garbage = bytes(b for b in range(1, 256) if b not in (10, 11, 12, 13, 28, 29, 30, 133)).decode("latin-1")
    return [
        ("too few fields", "%s true root" % d),
        ("one field", "%s" % d),
        ("too many fields", "%s true root 0644 0755 extra more" % d),
        ("mode 0999", "%s false root 0999 0755" % d),
        ("mode abc", "%s false root abc 0755" % d),
        ("dmode 77777777", "%s false root 0644 77777777" % d),
        ("negative mode", "%s false root -644 0755" % d),
        ("recurse maybe", "%s maybe root 0644 0755" % d),
        ("huge uid", "%s false 99999999999999999999:0 0644 0755" % d),
        ("uid 2^32", "%s false 4294967296:0 0644 0755" % d),
        ("uid -1", "%s false -1:0 0644 0755" % d),
        ("unknown user", "%s false no-such-user-xyz 0644 0755" % d),
        ("unknown group", "%s false root:no-such-group-xyz 0644 0755" % d),
        ("huge fallback", "%s false nosuch,0:99999999999 0644 0755" % d),
        ("bad fallback", "%s false nosuch,garbage 0644 0755" % d),
        ("binary garbage", garbage),
        ("binary garbage 5 fields", "%s %s %s %s %s" % ((garbage[:40],) * 5)),
        ("very long line", "%s/%s false root 0644 0755" % (d, "y" * 100000)),
        ("very long path component", "%s/%s false root 0644 0755" % (d, "z" * 300)),
        ("wildcard matching nothing", "%s/nothing-*/x* true root 0644 0755" % d),
        ("missing path", "%s/does-not-exist false root 0644 0755" % d),
        ("relative path", "relative/path false root 0644 0755"),
        ("recursion with a symlink to ..", "%s true root 0644 0755" % loop),
        ("literal symlink loop", "%s false root 0644 0755" % os.path.join(d, "self")),
        ("symlink loop l1<->l2", "%s/l1 true root 0644 0755" % d),
        ("wildcard over symlink loops", "%s/l* true root 0644 0755" % d),
        ("only blanks and tabs", " \t \t "),
        ("carriage return", "%s false root 0644 0755\r" % d),
    ]


def test_bad_fix_attrs_lines(box):
    """Each bad line in its own fix-attrs.d file (named after its case id), followed by a
    good line (a canary made 0600): the bad line gives at most one line, the good line of the
    same file and every other file are still applied; all in one boot."""
    plant_good(box)
    cases = []
    canaries = []
    for i, (what, line) in enumerate(_fixattrs_lines(box), 1):
        cid = "F%02d" % i
        canary = box.file("data/canary-%02d" % i, "", 0o644)
        canaries.append(canary)
        with open(box.path("etc/fix-attrs.d/%s" % cid), "w", encoding="latin-1") as f:
            f.write(line + "\n" + "%s false root 0600 0700\n" % canary)
        cases.append((cid, what))
    r = boot(box, timeout=40)
    judge(box, r, cases)
    unchanged = [c for c in canaries if os.stat(c).st_mode & 0o777 != 0o600]
    assert not unchanged, "good lines after a bad one not applied: %r\n%s" % (unchanged, r.err[-4000:])
    # recursion never followed data/fa/loop/sub/up -> .. (data/fa itself is 0755 still)
    assert os.stat(box.path("data")).st_mode & 0o777 == 0o755


# ------------------------------------------------------------------ container environment

def test_odd_environment_names_and_values(box):
    """Names that cannot be file names (`.`, `..`, `A/B`, very long), odd values (128 KB,
    non-UTF-8, newlines), all in one boot: the normal variables still reach the CMD."""
    plant_good(box)
    long_value = "v" * (128 * 1024 - 20)
    env = {
        "FOO": "ok",
        ".": "E01",
        "..": "E02",
        "A/B": "E03",
        ".HIDDEN": "E04",
        "E05" + "N" * 300: "long-name",
        "E06_LONG": long_value,
        b"E07_BYTES": b"\xff\xfe\x80",
        "E08_NL": "line1\nline2\n",
        b"E09\xff": b"bad-name-bytes",
        "E10 SPACE": "x",
        "E11_EMPTY": "",
    }
    cmd = ["sh", "-c", GOOD_CMD[2] + '; echo "FOO=$FOO"; printf %s "$E06_LONG" | wc -c; '
           'printf %s "$E07_BYTES" | od -An -tx1']
    r = boot(box, cmd=cmd, env=env)
    tokens = {"E01": ["'.'", '"."', " . ", "/.:", "/. "], "E02": ["'..'", '".."', "..:", "/.."],
              "E03": ["A/B"], "E04": [".HIDDEN"], "E05": ["E05"], "E06": ["E06"],
              "E07": ["E07"], "E08": ["E08"], "E09": ["E09"], "E10": ["E10"], "E11": ["E11"]}
    cases = [(cid, "env %s" % cid) for cid in sorted(tokens)]
    judge(box, r, cases, tokens=tokens)
    assert "FOO=ok" in r.out, r
    assert str(len(long_value)) in r.out.split(), r
    assert "ff fe 80" in r.out, r


def test_cont_init_plants_garbage_in_container_environment(box):
    """A cont-init script puts a directory, a fifo, a symlink to a decoy secret, a dangling
    symlink, a socket-like special file and a file with NUL bytes into
    /run/s6/container_environment before the CMD starts; the CMD still starts, with the
    normal variables, and PID 1 never blocks on the fifo."""
    plant_good(box)
    decoy = box.file("data/shadow-decoy", "root:SECRET:19000:0:99999:7:::\n", 0o600)
    box.script("etc/cont-init.d/10-garbage", r'''
ce="$S6PY_ROOT/run/s6/container_environment"
mkdir "$ce/G01DIR"
mkdir "$ce/G01DIR/inner"
mkfifo "$ce/G02FIFO"
ln -s "%s" "$ce/G03LINK"
ln -s /nonexistent/x "$ce/G04DANGLING"
ln -s G05LOOP "$ce/G05LOOP"
printf 'a\000b' > "$ce/G06NUL"
printf 'plain' > "$ce/GOODVAR"
''' % decoy)
    cmd = ["sh", "-c", GOOD_CMD[2] + '; echo "FOO=$FOO GOODVAR=$GOODVAR"']
    r = boot(box, cmd=cmd, env={"FOO": "ok"})
    cases = [("G0%d" % i, "container_environment entry %d" % i) for i in range(1, 7)]
    judge(box, r, cases)
    assert "FOO=ok GOODVAR=plain" in r.out, r


# ------------------------------------------------------------------ symlink layouts

def test_symlink_layouts(box):
    """services.d entries that are symlinks (to a service directory, to a file, dangling, a
    loop, to services.d itself), a cont-init.d that is itself a symlink, cont-init.d entries
    that are symlinks (to a script, dangling, a loop, to a directory): one boot."""
    plant_good(box, init_name="50-good-init")
    # cont-init.d itself a symlink to another directory holding the scripts
    real = box.path("etc/cont-init.real")
    os.rename(box.path("etc/cont-init.d"), real)
    os.symlink("cont-init.real", box.path("etc/cont-init.d"))
    box.script("data/L-script", 'touch "$S6PY_ROOT/data/linked-init"\n')
    os.symlink(box.path("data/L-script"), os.path.join(real, "60-L01-link-to-script"))
    os.symlink("/nonexistent/script", os.path.join(real, "61-L02-dangling"))
    os.symlink("62-L03-loop", os.path.join(real, "62-L03-loop"))
    os.makedirs(box.path("data/L-dir"))
    os.symlink(box.path("data/L-dir"), os.path.join(real, "63-L04-link-to-dir"))
    sd = box.path("etc/services.d")
    box.script("data/svc-real/run", 'touch "$S6PY_ROOT/data/linked-svc"; exec sleep 1000\n')
    os.symlink(box.path("data/svc-real"), os.path.join(sd, "L05-link-to-service"))
    os.symlink("/nonexistent/svc", os.path.join(sd, "L07-dangling"))
    os.symlink("L08-loop", os.path.join(sd, "L08-loop"))
    os.symlink(".", os.path.join(sd, "L09-dot"))
    os.symlink(sd, os.path.join(sd, "L10-to-services.d"))
    cases = [("L%02d" % i, "symlink case %d" % i) for i in range(1, 11) if i != 6]
    r = boot(box)
    judge(box, r, cases)
    assert os.path.exists(box.path("data/linked-init")), r
    assert os.path.exists(box.path("data/linked-svc")), r  # a link to a service directory is a service


# ---- cases the matrix found wrong, fixed since: each asserted exactly

def test_a_comment_with_a_form_feed_and_a_vertical_tab_is_one_line(box):
    """fix-attrs lines end at "\\n" only: str.splitlines() also cut at \\f and \\v, so a
    comment gave two bogus errors and renumbered the lines after it."""
    box.file("etc/fix-attrs.d/01", "# a comment with a form feed \x0c and a vertical tab \x0b in it\n"
             "%s false root 0999 0755\n" % box.path("data"))
    r = box.run(["true"])
    assert r.code == 0, r
    lines = [line for line in r.err.splitlines() if "01:" in line and "line" in line]
    assert len(lines) == 1 and "line 2" in lines[0] and "0999" in lines[0], r.err


def test_a_services_d_entry_linking_to_a_file_is_one_line(box):
    box.file("data/somefile", "x\n")
    os.symlink(box.path("data/somefile"), box.path("etc/services.d/linkfile"))
    r = box.run(["true"])
    assert r.code == 0, r
    assert [line for line in r.err.splitlines() if "linkfile" in line] == [
        "[services.d] linkfile: not a directory, ignored"], r.err


def test_a_dangling_cont_init_link_says_so(box):
    os.symlink("/nonexistent/script", box.path("etc/cont-init.d/00-dangling"))
    r = box.run(["true"])
    assert r.code == 0, r
    lines = [line for line in r.err.splitlines() if "00-dangling: unable" in line]
    assert len(lines) == 1 and "a symlink to nothing" in lines[0], r.err
    assert "bad interpreter" not in r.err


def test_a_service_named_with_255_bytes_is_supervised(box):
    name = "n" * 255
    box.service(name, 'touch "$S6PY_ROOT/data/long-ran"; exec sleep 100\n')
    r = box.run(["sh", "-c", 'while ! test -e "$S6PY_ROOT/data/long-ran"; do sleep 0.01; done'])
    assert r.code == 0, r
    assert "File name too long" not in r.err, r.err

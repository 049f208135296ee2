"""s6-rc (v3) scenarios in real containers: run one under an image, get what a user observes.

    scenarios()                          -> sorted scenario names (tests/rc_scenarios/NAME)
    load(name)                           -> its scenario.json, defaults filled in
    variants(name)                       -> the variant names of a scenario ("default" if none)
    reference_image()                    -> the real s6-overlay 3.2.3.2 image (bookworm rootfs,
                                            both tarballs, /usr/bin/NAME -> ../../command/NAME)
    s6py_image()                         -> the same rootfs with this project's overlay tarball
    scenario_image(base, name)           -> BASE + tests/rc_scenarios/_common/root + NAME/root
    observe(base, name, variant=None)    -> Observation (a dict: lines, exit, records, events)
    expected(name)                       -> {variant: expected observation} (expected-v3.json)
    differences(expected, observation)   -> [] when the observation matches, else what differs

A scenario is a folder holding `root/` (laid over `/` of the image, modes kept), and a
`scenario.json`:

    {"description": "...",
     "env": {"VAR": "value"},           # podman run -e VAR=value
     "cmd": ["sh", "-c", "..."],        # the container's CMD (after the ENTRYPOINT /init)
     "steps": [...],                    # what the harness does once the container runs
     "variants": {"NAME": {"env": {...}, "cmd": [...], "steps": [...]}}}   # optional overrides

Steps, in order (every `timeout` is in seconds):

    {"wait_log": "TEXT", "timeout": 20}     poll `podman logs` until a line contains TEXT
    {"wait_exec": [ARGV], "timeout": 20}    poll `podman exec C ARGV` until it exits 0
    {"exec": [ARGV], "record": "LABEL"}     `podman exec C ARGV`: records[LABEL] = {"rc", "out"}
                                            (out: its stdout+stderr lines, normalised)
    {"sleep": SECONDS}
    {"stop": T}                             `podman stop -t T C`
    {"wait_exit": T}                        `podman wait C` (the container ends on its own)

After the steps the container is stopped if it still runs (`podman stop -t 10`; recorded as
"auto_stop": true).  The Observation:

    lines    the container's output (`podman logs`, stdout and stderr through one pipe, so in
             the order written), normalised: pids, TAI64N stamps, durations, container ids
    exit     the container's exit code (`podman inspect .State.ExitCode`)
    records  {LABEL: {"rc": int, "out": [lines]}} of the exec steps
    events   the lines of /var/tmp/rc-events (written by `rc-event NAME WHAT`, see _common),
             timestamps dropped: "NAME WHAT"
    events_raw  [(NAME WHAT, seconds since the first event)] for timing checks (not compared)
    auto_stop   True when the harness had to stop the container itself

Expected observations (`expected-v3.json` of a scenario: {variant: {...}}) hold the same keys
(events_raw and timing excluded).  A key missing from the expected observation is not checked.
Where the reference itself is not deterministic (services s6-rc runs in parallel, their output
racing with its own messages) an expected observation says so:
    "order_slack": {"lines": K, "events": K, "records": K}   the same lines, each at most K
                                                                places from its expected place
    "order_slack": {..., "line": {LINE: K2}}                 LINE (of "lines") may sit K2 places
                                                                off: one line seen to float
                                                                further than the rest (say why
                                                                in the scenario's description)
    in "lines"/"events"/"out": {"any_order": [...]}          those lines, consecutive, any order
    a list of expected observations instead of one           any one of them (a real race,
                                                                e.g. two timeouts of 1 s)

The scenario images are tagged with a hash of the base image's id and of the trees (paths,
modes, contents), so an unchanged scenario is built once and reused by later runs.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import e2e_support
from e2e_support import REPO, podman

SCENARIOS = os.path.join(REPO, "tests", "rc_scenarios")
COMMON = os.path.join(SCENARIOS, "_common")
EVENTS = "/var/tmp/rc-events"


# ---------------------------------------------------------------------------------- scenarios

def scenarios():
    return sorted(d for d in os.listdir(SCENARIOS)
                  if os.path.isfile(os.path.join(SCENARIOS, d, "scenario.json")))


def _raw(name):
    with open(os.path.join(SCENARIOS, name, "scenario.json"), encoding="utf-8") as f:
        return json.load(f)


def variants(name):
    return sorted(_raw(name).get("variants") or {"default": {}})


def load(name, variant=None):
    """The scenario's spec with the variant's overrides applied (env is merged, rest replaced)."""
    spec = _raw(name)
    over = (spec.get("variants") or {}).get(variant or "default", {})
    if variant and variant != "default" and not over and variant not in (spec.get("variants") or {}):
        raise KeyError("scenario %s has no variant %s" % (name, variant))
    out = {"env": {}, "cmd": [], "opts": [], "steps": []}
    for k in out:
        if k in spec:
            out[k] = spec[k]
    for k, v in over.items():
        out[k] = dict(out["env"], **v) if k == "env" else v
    out["description"] = spec.get("description", "")
    return out


def expected(name):
    path = os.path.join(SCENARIOS, name, "expected-v3.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------------- images

def reference_image():
    """The real s6-overlay v3.2.3.2 on the bookworm rootfs (built once, cached by content hash).

    The same image the corpus tests use for their "v3" flavour: both tarballs extracted at /,
    ENTRYPOINT /init, and a /usr/bin/NAME -> ../../command/NAME link for every /command entry.
    """
    import corpus_support
    why = corpus_support.flavours_available()["v3"]
    if why:
        raise RuntimeError(why)
    return corpus_support.flavour_base("v3")


def reference_unavailable():
    """None when the reference image can be made here, else why not."""
    import corpus_support
    return corpus_support.flavours_available()["v3"]


def s6py_image():
    """The bookworm rootfs with this project's overlay tarball (e2e_support.image)."""
    return e2e_support.image("bookworm")


def _image_id(tag):
    r = podman("image", "inspect", "-f", "{{.Id}}", tag)
    if r.returncode != 0:
        raise RuntimeError("no image %s: %s" % (tag, r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()


_built = {}


def scenario_image(base, name):
    """BASE with _common/root then NAME/root copied over / (cp -a: the checkout's modes)."""
    key = (base, name)
    if key in _built:
        return _built[key]
    h = hashlib.sha256(_image_id(base).encode())
    for src in (COMMON, os.path.join(SCENARIOS, name)):
        e2e_support.hash_tree(h, os.path.join(src, "root"))
    tag = "localhost/s6py-rc:%s-%s" % (re.sub(r"[^a-z0-9.-]", "-", name.lower()), h.hexdigest()[:12])
    with e2e_support._Lock("rc-image"):
        if podman("image", "exists", tag).returncode != 0:
            ctx = tempfile.mkdtemp(prefix="s6py-rc-ctx-")
            try:
                tree = os.path.join(ctx, "root")
                os.makedirs(tree)
                for src in (COMMON, os.path.join(SCENARIOS, name)):
                    if os.path.isdir(os.path.join(src, "root")):
                        e2e_support._run(["cp", "-a", os.path.join(src, "root") + "/.", tree])
                with open(os.path.join(ctx, "Containerfile"), "w") as f:
                    f.write("FROM %s\nCOPY root/ /\n" % base)
                r = podman("build", "-q", "-t", tag, ctx, timeout=600)
                if r.returncode != 0:
                    raise RuntimeError("podman build of %s failed:\n%s"
                                       % (name, (r.stdout + r.stderr).decode(errors="replace")[-3000:]))
            finally:
                shutil.rmtree(ctx, ignore_errors=True)
    _built[key] = tag
    return tag


# ---------------------------------------------------------------------------------- normalising

_NORMALISE = [
    (re.compile(r"@[0-9a-f]{24}"), "@TAI"),                       # TAI64N stamps (s6-log -t)
    (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?"), "DATETIME"),
    (re.compile(r"\bpid \d+"), "pid N"),
    (re.compile(r"\bpgid \d+"), "pgid N"),
    (re.compile(r"\b\d+ seconds?\b"), "N seconds"),
    (re.compile(r"\b\d+(\.\d+)? ?(ms|milliseconds)\b"), "N ms"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "ID"),
]


def normalise(line):
    for rx, repl in _NORMALISE:
        line = rx.sub(repl, line)
    return line.rstrip()


def _lines(text):
    return [normalise(ln) for ln in text.splitlines()]


# ---------------------------------------------------------------------------------- running

def _logs(cid):
    r = subprocess.run(e2e_support.PODMAN + ["logs", cid], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return r.stdout.decode(errors="replace")


def _running(cid):
    r = podman("inspect", "-f", "{{.State.Running}}", cid, timeout=30)
    return r.stdout.decode().strip() == "true"


def _events(cid):
    """Lines of EVENTS: podman cp works on a stopped container too."""
    d = tempfile.mkdtemp(prefix="s6py-rc-ev-")
    try:
        r = podman("cp", "%s:%s" % (cid, EVENTS), os.path.join(d, "ev"), timeout=60)
        if r.returncode != 0:
            return []
        with open(os.path.join(d, "ev"), encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    finally:
        shutil.rmtree(d, ignore_errors=True)


class StepFailed(AssertionError):
    pass


def observe(base, name, variant=None, keep_logs=False):
    """Run scenario NAME (VARIANT) on an image built from BASE; return its Observation dict."""
    spec = load(name, variant)
    img = scenario_image(base, name)
    opts = []
    for k, v in sorted(spec["env"].items()):
        opts += ["-e", "%s=%s" % (k, v)]
    opts += spec["opts"]
    r = podman("run", "-d", *opts, img, *spec["cmd"], timeout=120)
    if r.returncode != 0:
        raise RuntimeError("podman run -d failed: %s" % r.stderr.decode(errors="replace"))
    cid = r.stdout.decode().strip()
    obs = {"records": {}, "auto_stop": False, "timing": {}}
    t0 = time.monotonic()
    try:
        for step in spec["steps"]:
            _step(cid, step, obs, t0)
        if _running(cid):
            obs["auto_stop"] = True
            podman("stop", "-t", "10", cid, timeout=90)
        podman("wait", cid, timeout=60)
        code = podman("inspect", "-f", "{{.State.ExitCode}}", cid, timeout=30).stdout.decode().strip()
        obs["exit"] = int(code) if code.lstrip("-").isdigit() else code
        logs = _logs(cid)
        obs["lines"] = _lines(logs)
        if keep_logs:
            obs["raw_logs"] = logs
        raw = _events(cid)
        obs["events"], obs["events_raw"] = [], []
        first = None
        for ln in raw:
            parts = ln.rsplit(" ", 1)
            try:
                stamp = float(parts[1])
            except (IndexError, ValueError):
                obs["events"].append(ln)
                obs["events_raw"].append((ln, None))
                continue
            first = stamp if first is None else first
            obs["events"].append(parts[0])
            obs["events_raw"].append((parts[0], round(stamp - first, 3)))
    finally:
        podman("rm", "-f", "-t", "0", cid, timeout=60)
    return obs


def _step(cid, step, obs, t0):
    timeout = step.get("timeout", 20)
    if "wait_log" in step:
        deadline = time.monotonic() + timeout
        while step["wait_log"] not in _logs(cid):
            if time.monotonic() > deadline:
                raise StepFailed("no log line with %r after %ss:\n%s" % (step["wait_log"], timeout, _logs(cid)))
            if not _running(cid) and step["wait_log"] not in _logs(cid):
                raise StepFailed("container ended before %r:\n%s" % (step["wait_log"], _logs(cid)))
            time.sleep(0.1)
        obs["timing"]["wait_log:" + step["wait_log"]] = round(time.monotonic() - t0, 2)
    elif "wait_exec" in step:
        deadline = time.monotonic() + timeout
        while podman("exec", cid, *step["wait_exec"], timeout=30).returncode != 0:
            if time.monotonic() > deadline or not _running(cid):
                raise StepFailed("%r never exited 0:\n%s" % (step["wait_exec"], _logs(cid)))
            time.sleep(0.1)
    elif "exec" in step:
        r = subprocess.run(e2e_support.PODMAN + ["exec", cid] + step["exec"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        obs["records"][step.get("record", " ".join(step["exec"]))] = {
            "rc": r.returncode, "out": _lines(r.stdout.decode(errors="replace"))}
    elif "sleep" in step:
        time.sleep(step["sleep"])
    elif "stop" in step:
        t = time.monotonic()
        podman("stop", "-t", str(step["stop"]), cid, timeout=step["stop"] + 60)
        obs["timing"]["stop"] = round(time.monotonic() - t, 2)
    elif "wait_exit" in step:
        r = podman("wait", cid, timeout=step["wait_exit"])
        if r.returncode != 0:
            raise StepFailed("podman wait: %s" % r.stderr.decode(errors="replace"))
        obs["timing"]["exited"] = round(time.monotonic() - t0, 2)
    else:
        raise ValueError("unknown step %r" % (step,))


# ---------------------------------------------------------------------------------- comparing

def _match_seq(expected, observed, what):
    """Expected items (strings or {"any_order": [...]}) against observed lines; [] if equal."""
    flat = []
    for item in expected:
        if isinstance(item, dict):
            flat.append(sorted(item["any_order"]))
        else:
            flat.append(item)
    out = []
    i = 0
    for item in flat:
        if isinstance(item, list):
            got = sorted(observed[i:i + len(item)])
            if got != item:
                out.append("%s[%d:%d]: expected in any order %r, got %r"
                           % (what, i, i + len(item), item, observed[i:i + len(item)]))
                return out
            i += len(item)
        else:
            if i >= len(observed) or observed[i] != item:
                out.append("%s[%d]: expected %r, got %r" % (what, i, item,
                                                            observed[i] if i < len(observed) else None))
                return out
            i += 1
    if i < len(observed):
        out.append("%s: unexpected extra lines from %d: %r" % (what, i, observed[i:]))
    return out


#: lines the real v3 prints now and then, in no fixed place: s6-ftrigrd (the helper that
#: s6-svwait and s6-rc wait through) outliving its client while legacy-services stops.
#: Seen once in CI (04-user2-and-legacy); dropped from the REFERENCE's observations only
#: (see without_reference_noise), never from s6py's
REFERENCE_NOISE = ("s6-ftrigrd: fatal: unable to flush asyncout: Broken pipe",)


def without_reference_noise(obs):
    """OBS (a v3 observation) minus REFERENCE_NOISE lines, and how many were dropped."""
    lines = obs.get("lines", [])
    kept = [line for line in lines if line not in REFERENCE_NOISE]
    return dict(obs, lines=kept), len(lines) - len(kept)


def _match_slack(expected, observed, slack, what, slack_of_line=None):
    """Same lines (as a multiset), each at most SLACK places from where it is expected.

    SLACK_OF_LINE ({line: K}) gives a line seen to float further its own, larger allowance.
    """
    slack_of_line = slack_of_line or {}
    if sorted(expected) != sorted(observed):
        missing = [x for x in expected if expected.count(x) > observed.count(x)]
        extra = [x for x in observed if observed.count(x) > expected.count(x)]
        return ["%s: not the same lines; missing %r, unexpected %r" % (what, missing, extra)]
    seen = {}
    positions = {}
    for i, x in enumerate(observed):
        positions.setdefault(x, []).append(i)
    out = []
    for i, x in enumerate(expected):
        k = seen.get(x, 0)
        seen[x] = k + 1
        j = positions[x][k]
        allowed = slack_of_line.get(x, slack)
        if abs(i - j) > allowed:
            out.append("%s: %r expected at %d, seen at %d (slack %d)" % (what, x, i, j, allowed))
    return out


def _differences(exp, obs):
    out = []
    slack = exp.get("order_slack", {})
    for key in ("lines", "events"):
        if key in exp:
            if slack.get(key):
                out += _match_slack(exp[key], obs.get(key, []), slack[key], key,
                                    slack.get("line") if key == "lines" else None)
            else:
                out += _match_seq(exp[key], obs.get(key, []), key)
    for key in ("exit", "auto_stop"):
        if key in exp and exp[key] != obs.get(key):
            out.append("%s: expected %r, got %r" % (key, exp[key], obs.get(key)))
    for label, rec in exp.get("records", {}).items():
        got = obs.get("records", {}).get(label)
        if got is None:
            out.append("records[%s]: missing" % label)
            continue
        if "rc" in rec and rec["rc"] != got["rc"]:
            out.append("records[%s].rc: expected %r, got %r" % (label, rec["rc"], got["rc"]))
        if "out" in rec:
            if slack.get("records"):
                out += _match_slack(rec["out"], got["out"], slack["records"], "records[%s].out" % label)
            else:
                out += _match_seq(rec["out"], got["out"], "records[%s].out" % label)
    return out


def differences(exp, obs):
    """What differs between an expected observation and an observed one ([] if they match).

    EXP may be a list of alternatives (a race the reference itself loses either way): the
    observation matches if it matches one of them; else the differences from the closest.
    """
    if isinstance(exp, list):
        tries = [_differences(e, obs) for e in exp]
        return [] if any(not t for t in tries) else min(tries, key=len)
    return _differences(exp, obs)


def dump(obs):
    """An observation as pretty JSON (minus the raw timing), to write an expected file from."""
    return json.dumps({k: v for k, v in obs.items() if k not in ("events_raw", "timing", "raw_logs")},
                      indent=2)


def record(name, observations):
    """Write expected-v3.json from {variant: observation}, keeping each variant's order_slack."""
    path = os.path.join(SCENARIOS, name, "expected-v3.json")
    try:
        old = expected(name)
    except OSError:
        old = {}
    out = {}
    for var, obs in observations.items():
        e = {k: obs[k] for k in ("exit", "lines", "events", "records", "auto_stop")}
        prev = old.get(var)
        if isinstance(prev, dict) and "order_slack" in prev:
            e = dict(order_slack=prev["order_slack"], **e)
        out[var] = e
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    # python3 tests/e2e_rc_support.py [--record] [NAME [VARIANT]] [v3|s6py]: print observations;
    # --record writes them as the scenario's expected-v3.json (from the real v3 only)
    import sys
    args = sys.argv[1:]
    rec = "--record" in args
    args = [a for a in args if a != "--record"]
    flav = "v3"
    if args and args[-1] in ("s6py", "v3"):
        flav = args.pop()
    base = reference_image() if flav == "v3" else s6py_image()
    for n in args[:1] or scenarios():
        got = {}
        for var in ([args[1]] if len(args) > 1 else variants(n)):
            o = observe(base, n, var)
            got[var] = o
            print("== %s / %s" % (n, var))
            print(dump(o))
            print("events_raw", o["events_raw"], "timing", o["timing"])
            try:
                exp = expected(n).get(var)
            except OSError:
                exp = None
            if exp is not None:
                print("differences from expected-v3.json:", differences(exp, o) or "none")
        if rec and flav == "v3":
            record(n, got)

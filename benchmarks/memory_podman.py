"""The --podman mode of bench_memory.py: s6py against the real s6-overlay, in real containers.

Four images on the same Debian bookworm root filesystem (the e2e base image, python3-minimal),
run by podman + runc:

    s6py          the noarch tarball of the current sources extracted at / (Debian's python3)
    s6py bundle   the self-contained tarball (its own static python3) ADDed at /
    v3.2.3.2      the real s6-overlay 3.2.3.2 (tests/corpus_support.py's reference image)
    v2.2.0.3      the real s6-overlay 2.2.0.3 (same, the old layout)

Our two images are tagged localhost/s6py-benchmem-*; the base and reference images are
reused as they are (built by e2e_support / corpus_support when missing).

Memory: a container per cell, `podman run -d` with N services bind-mounted read-only at
/etc/services.d (`echo up; exec sleep 100000`, and in the logged rows a log/run of
`exec logutil-service /var/log/sI`: v2 has the command too, in /usr/bin), an empty host
directory of mode 1777 bind-mounted at /var/log (the loggers drop to nobody and make their
own directories; podman 4.3 gives a --tmpfs there the image's 0755) and CMD `sleep 100000`.
Once N + 1 `sleep` run in the container, every /var/log/sI/current is non-empty and SETTLE
seconds more have passed, the PSS (/proc/PID/smaps_rollup, host side) of every process
descending from the container's PID 1 is summed, the payload (exe named `sleep`) left out.
A cell whose container logs EMFILE ("Too many open files"; musl, the bundle's python3:
"No file descriptors available") without coming up is run again with
`--ulimit nofile=4096:4096` (the default is 1024:1024, as in tests/e2e_support.py) and
marked.

Helpers: a container per image with no services, all up at once; in each of R rounds, one
`podman exec` per image and command runs a sh loop of K calls of it between two
`date +%s%N` (three calls first, unmeasured: the noarch tarball writes its bytecode on the
first run), so podman's own cost is not measured; the table shows the median round.
"""

import collections
import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "src"))
sys.path.insert(0, HERE)

import corpus_support  # noqa: E402
import e2e_support  # noqa: E402
from e2e_support import podman  # noqa: E402
from bench_memory import tree  # noqa: E402
from bench_supervisor import pss_kb  # noqa: E402

ROOTFS = "bookworm"
TAG = "localhost/s6py-benchmem-%s:" + ROOTFS
NOFILE_DEFAULT, NOFILE_RAISED = 1024, 4096
#: EMFILE as glibc (Debian's python3, the C programs) and musl (the bundle's python3) word it
EMFILE = ("Too many open files", "No file descriptors available")
DEBIAN_PYTHON = "/usr/bin/python3"
BUNDLE_PYTHON = "/package/admin/s6py/python/bin/python3"

#: one column: its label, how its image is made, PATH inside it, its bare interpreter
Flavour = collections.namedtuple("Flavour", "label build path python")

#: what one memory cell measured
Cell = collections.namedtuple("Cell", "mb processes pid1_mb raised_nofile")


class TooManyOpenFiles(RuntimeError):
    pass


# ------------------------------------------------------------------------------ images

def _tarball_image(tarball, containerfile, name):
    """TAG % NAME: CONTAINERFILE (with {base}) built in a context holding TARBALL."""
    ctx = tempfile.mkdtemp(prefix="s6py-benchmem-ctx-")
    shutil.copy(tarball, ctx)
    tag = TAG % name
    e2e_support._build(ctx, containerfile.format(base=e2e_support.base_image(ROOTFS)), tag)
    return tag


def noarch_image():
    """The base image with the noarch tarball extracted at / (what e2e_support.image gives)."""
    from s6py.build import overlay
    tmp = tempfile.mkdtemp(prefix="s6py-benchmem-")
    try:
        tarball = os.path.join(tmp, "s6py-overlay.tar.gz")
        overlay.build(tarball)
        return _tarball_image(tarball, e2e_support.CONTAINERFILE.replace("{extra}", ""), "s6py")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bundle_image():
    """The base image with the self-contained tarball ADDed at / (as e2e_support.bundle_image)."""
    why = e2e_support.bundle_unavailable()
    if why:
        raise RuntimeError(why)
    containerfile = e2e_support.BUNDLE_CONTAINERFILE.replace("{tarball}", e2e_support.BUNDLE_NAME)
    return _tarball_image(e2e_support.bundle_tarball(), containerfile.replace("{copy}", ""), "bundle")


FLAVOURS = (
    Flavour("s6py", noarch_image, "/command:/usr/bin:/bin", DEBIAN_PYTHON),
    Flavour("s6py bundle", bundle_image, "/command:/usr/bin:/bin", BUNDLE_PYTHON),
    Flavour("v3.2.3.2", lambda: corpus_support.flavour_base("v3"), "/command:/usr/bin:/bin", None),
    Flavour("v2.2.0.3", lambda: corpus_support.flavour_base("v2"), "/usr/bin:/bin", None),
)


def build_images():
    """({label: image}, [notes]): a flavour whose image cannot be made is left out, noted."""
    images, notes = {}, []
    for flavour in FLAVOURS:
        try:
            images[flavour.label] = flavour.build()
        except Exception as e:  # noqa: BLE001  (a missing column is reported, not fatal)
            notes.append("%s: column skipped, its image could not be made: %s"
                         % (flavour.label, str(e).strip().splitlines()[-1][:300]))
    return images, notes


# ------------------------------------------------------------------------------ containers

_serial = itertools.count(1)


class Running:
    """A detached container (`podman run -d`), removed on leaving the with block."""

    def __init__(self, img, args, opts=(), nofile=NOFILE_DEFAULT):
        limits = ["--ulimit", "nofile=%d:%d" % (nofile, nofile), "--ulimit", "nproc=4096:4096"]
        self.id = "s6py-benchmem-%d-%d" % (os.getpid(), next(_serial))
        r = podman_raw("run", "-d", "--name", self.id, *limits, *opts, img, *args)
        if r.returncode != 0:
            self.remove()
            raise RuntimeError("podman run -d %s: %s" % (img, r.stderr.decode(errors="replace")))
        try:
            self.pid1 = int(self.inspect("{{.State.Pid}}"))
        except ValueError:
            self.remove()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def remove(self):
        podman("rm", "-f", "-t", "0", self.id, timeout=120)

    def inspect(self, field):
        return podman("inspect", "-f", field, self.id).stdout.decode().strip()

    def running(self):
        return self.inspect("{{.State.Running}}") == "true"

    def logs(self):
        r = podman("logs", self.id)
        return (r.stdout + r.stderr).decode(errors="replace")

    def path(self, inside):
        """INSIDE (an absolute path in the container) as the host sees it."""
        return "/proc/%d/root%s" % (self.pid1, inside)


def podman_raw(*args, timeout=120):
    """podman with runc and cgroupfs but none of e2e_support's ulimits (ours are given)."""
    return subprocess.run(e2e_support.PODMAN + list(args), capture_output=True, timeout=timeout)


# ------------------------------------------------------------------------------ memory

SERVICE_RUN = "#!/bin/sh\necho up\nexec sleep 100000\n"
LOGGER_RUN = "#!/bin/sh\nexec logutil-service /var/log/s%d\n"


def write_script(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def services_tree(n, logged):
    """A host directory of N services (each with a logger when LOGGED), world-readable."""
    top = tempfile.mkdtemp(prefix="s6py-benchmem-svc-")
    os.chmod(top, 0o755)
    for i in range(n):
        write_script(os.path.join(top, "s%d" % i, "run"), SERVICE_RUN)
        if logged:
            write_script(os.path.join(top, "s%d" % i, "log", "run"), LOGGER_RUN % i)
    for dirpath, _, _ in os.walk(top):
        os.chmod(dirpath, 0o755)
    return top


def is_payload(exe):
    return os.path.basename(exe) == "sleep"


def tree_is_up(c, n, logged):
    sleeps = sum(1 for exe in tree(c.pid1).values() if is_payload(exe))
    if sleeps < n + 1:
        return False
    return not logged or all(nonempty(c.path("/var/log/s%d/current" % i)) for i in range(n))


def nonempty(path):
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def wait_up(c, n, logged):
    """Until the tree is up; TooManyOpenFiles or RuntimeError if it does not come up."""
    deadline = time.monotonic() + 60 + n
    next_look = time.monotonic() + 3
    while not tree_is_up(c, n, logged):
        now = time.monotonic()
        if now > next_look:  # an fd shortage shows in the logs long before the deadline
            logs = c.logs()
            if any(text in logs for text in EMFILE):
                raise TooManyOpenFiles(logs[-300:])
            if not c.running():
                raise RuntimeError("the container ended: " + c.logs()[-500:])
            next_look = now + 3
        if now > deadline:
            raise RuntimeError("the tree did not come up in %d s: %s" % (60 + n, c.logs()[-500:]))
        time.sleep(0.1)


def measure_tree(c):
    """(MB, processes, PID 1's MB) of the container's processes but the payload."""
    counted = [pid for pid, exe in tree(c.pid1).items() if not is_payload(exe)]
    total = sum(pss_kb(pid) for pid in counted)
    return total / 1024.0, len(counted), pss_kb(c.pid1) / 1024.0


def memory_cell(img, n, logged, settle):
    """Cell of IMG with N services; retried with more fds when the first run lacked them."""
    services = services_tree(n, logged)
    logs = tempfile.mkdtemp(prefix="s6py-benchmem-log-")
    os.chmod(logs, 0o1777)
    opts = ["-v", "%s:/etc/services.d:ro" % services, "-v", "%s:/var/log" % logs]
    try:
        for nofile in (NOFILE_DEFAULT, NOFILE_RAISED):
            with Running(img, ["sleep", "100000"], opts, nofile) as c:
                try:
                    wait_up(c, n, logged)
                except TooManyOpenFiles:
                    if nofile == NOFILE_RAISED:
                        raise
                    continue
                time.sleep(settle)
                return Cell(*measure_tree(c), raised_nofile=nofile != NOFILE_DEFAULT)
    finally:
        shutil.rmtree(services, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)


def bare_interpreter_mb(img):
    """PSS of `python3 -I -S -c 'import time; time.sleep(5)'`, 1 s after it started in IMG."""
    with Running(img, ["-I", "-S", "-c", "import time; time.sleep(5)"],
                 ["--entrypoint", DEBIAN_PYTHON]) as c:
        time.sleep(1.0)
        return pss_kb(c.pid1) / 1024.0


# ------------------------------------------------------------------------------ helpers

BARE = "bare interpreter `python3 -I -S -c pass` (bundle: its own python3)"
#: (row, command line); BARE's command is the flavour's own interpreter
HELPERS = (("`with-contenv true`", "with-contenv true"),
           ("`s6-setuidgid nobody true`", "s6-setuidgid nobody true"),
           ("`execlineb -Pc true`", "execlineb -Pc true"),
           ("`s6-echo hi`", "s6-echo hi"),
           ("`/bin/true` (the loop's fork + exec alone)", "/bin/true"))

#: $1 calls of the rest of the line, after three unmeasured ones: ns per call, or "fail"
TIMING_LOOP = r"""
k=$1; shift
for w in 1 2 3; do "$@" >/dev/null 2>&1 || { echo fail; exit 0; }; done
i=0; t0=$(date +%s%N)
while [ $i -lt $k ]; do "$@" >/dev/null 2>&1 || { echo fail; exit 0; }; i=$((i + 1)); done
t1=$(date +%s%N)
echo $(( (t1 - t0) / k ))
"""


def per_call_ms(c, path, command, calls):
    r = podman("exec", "-e", "PATH=" + path, c.id, "sh", "-c", TIMING_LOOP, "sh", str(calls),
               *command.split(), timeout=600)
    out = r.stdout.decode().strip()
    return int(out) / 1e6 if r.returncode == 0 and out.isdigit() else None


def helper_commands(flavour):
    """(row, command line) of FLAVOUR's helper table, its bare interpreter's if it has one."""
    return list(HELPERS) + ([(BARE, flavour.python + " -I -S -c pass")] if flavour.python else [])


def median_or_none(values):
    return None if None in values else statistics.median(values)


def helper_columns(flavours, images, calls, rounds):
    """{label: {row: ms per call}}: the median of ROUNDS loops of CALLS calls, one container
    per flavour, all up at once and the rounds interleaved (a noisy moment hits every column)."""
    samples = {f.label: collections.defaultdict(list) for f in flavours}
    with contextlib.ExitStack() as stack:
        containers = {}
        for f in flavours:
            containers[f.label] = stack.enter_context(Running(images[f.label], ["sleep", "100000"]))
            wait_up(containers[f.label], 0, False)
        for _ in range(rounds):
            for f in flavours:
                for row, cmd in helper_commands(f):
                    samples[f.label][row].append(per_call_ms(containers[f.label], f.path, cmd, calls))
    return {label: {row: median_or_none(values) for row, values in rows.items()}
            for label, rows in samples.items()}


# ------------------------------------------------------------------------------ printing

def fmt_cell(cell, footnotes):
    if isinstance(cell, str):
        footnotes.append(cell)
        return "failed [%d]" % len(footnotes)
    return "%.1f MB (%d)%s" % (cell.mb, cell.processes, " [nofile]" if cell.raised_nofile else "")


def print_memory(rows, labels, settle):
    print("whole-tree PSS of the init's processes, payload (`sleep`) excluded: MB "
          "(processes); settle %.1f s" % settle)
    print("| services | loggers | " + " | ".join(labels) + " |")
    print("|---:|---|" + "---:|" * len(labels))
    footnotes = []
    for (n, logged), cells in rows:
        print("| %d | %s | %s |" % (n, "logutil-service each" if logged else "none",
                                    " | ".join(fmt_cell(cells[label], footnotes) for label in labels)))
    if any(not isinstance(cell, str) and cell.raised_nofile
           for _, cells in rows for cell in cells.values()):
        print("\n[nofile]: with `--ulimit nofile=%d:%d` the container logged EMFILE (\"%s\") and "
              "did not come up; measured again with nofile=%d:%d"
              % (NOFILE_DEFAULT, NOFILE_DEFAULT, "\" or \"".join(EMFILE), NOFILE_RAISED, NOFILE_RAISED))
    for i, why in enumerate(footnotes, 1):
        print("[%d]: %s" % (i, why))


def fmt_ms(value):
    return "fail" if value is None else "%.2f" % value


def print_helpers(columns, calls, rounds):
    """COLUMNS: {flavour: {row: ms}}; a flavour with a BARE row gets a ratio column."""
    print("one call, ms: median of %d rounds, each the mean of %d calls in one `podman exec` (a sh "
          "loop); x bare: to the bare interpreter of the same image" % (rounds, calls))
    header, rule = "| command |", "|---|"
    for label, column in columns.items():
        header += " %s |" % label + (" %s x bare |" % label if BARE in column else "")
        rule += "---:|" + ("---:|" if BARE in column else "")
    print(header)
    print(rule)
    for row in [name for name, _ in HELPERS] + [BARE]:
        line = "| %s |" % row
        for column in columns.values():
            line += " %s |" % (fmt_ms(column[row]) if row in column else "")
            bare = column.get(BARE)
            if BARE in column:
                value = column[row]
                line += " %s |" % ("%.2fx" % (value / bare) if value and bare and row != BARE else "")
        print(line)


# ------------------------------------------------------------------------------ main

def run(sizes, settle, calls, rounds):
    why = e2e_support.unavailable()
    if why:
        sys.exit("bench_memory --podman: " + why)
    print("podman %s + runc, %s rootfs; building the images..." % (
        podman("version", "-f", "{{.Client.Version}}").stdout.decode().strip(), ROOTFS),
        file=sys.stderr)
    images, notes = build_images()
    for note in notes:
        print(note)
    labels = [f.label for f in FLAVOURS if f.label in images]
    rows = []
    for n in sizes:
        for logged in (False, True):
            cells = {}
            for label in labels:
                try:
                    cells[label] = memory_cell(images[label], n, logged, settle)
                except Exception as e:  # noqa: BLE001  (one failed cell is reported in the table)
                    cells[label] = "%s, N=%d%s: %s" % (label, n, " logged" if logged else "",
                                                       str(e).strip()[:400])
            rows.append(((n, logged), cells))
            print("measured N=%d%s" % (n, " logged" if logged else ""), file=sys.stderr)
    print_memory(rows, labels, settle)
    print()
    print_pid1_line(images, dict(rows), settle)
    print()
    flavours = [f for f in FLAVOURS if f.label in images]
    print_helpers(helper_columns(flavours, images, calls, rounds), calls, rounds)


def print_pid1_line(images, cells_by_row, settle):
    if "s6py" not in images:
        return
    cell = cells_by_row.get((10, False), {}).get("s6py")
    if cell is None:
        cell = memory_cell(images["s6py"], 10, False, settle)
    bare = bare_interpreter_mb(images["s6py"])
    if isinstance(cell, str):
        print("bare interpreter (python3 -I -S): %.1f MB PSS; PID 1 of s6py: %s" % (bare, cell))
        return
    print("bare interpreter `python3 -I -S` in the s6py image: %.1f MB PSS; s6py's PID 1, 10 "
          "services, no loggers: %.1f MB; ratio %.2fx (target <= 1.3x)"
          % (bare, cell.pid1_mb, cell.pid1_mb / bare))

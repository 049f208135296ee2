"""The self-contained tarball (`build-overlay --bundle`) in images that have no Python.

Four images, each the base plus `ADD s6py-overlay-x86_64.tar.gz /` (nothing runs while
the image is built) and ENTRYPOINT /init:

    busybox         a static busybox and its applet links, nothing else
    musl            the same plus musl's loader at /lib/ld-musl-x86_64.so.1 (an Alpine base)
    bookworm-slim   debootstrap --variant=minbase (debian:bookworm-slim): glibc, no python3
    scratch         FROM scratch: no /bin/sh, no libc; the scripts are execline and the CMD
                    a static program compiled here with musl-gcc

In each, for real: the README's CMD (its exit code becomes the container's, 0 and not 0), a
cont-init.d script reading the container's environment through with-contenv, a services.d
service whose log/ writes to a directory, `podman exec` of s6-svc and s6-svstat, and
`podman stop` ending with exit code 0 after the cont-finish.d script ran.  Every process of
the container is checked to be the bundled interpreter (or the image's own programs), and
the image's tree to hold no other Python.  In an image that does have one (bookworm's
python3-minimal), PYTHON* variables pointing at poisoned modules must reach neither /init
nor the commands, while the user's programs still see them.
"""

import io
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from e2e_support import (MUSL_LOADER, Container, bundle_image, bundle_unavailable, fixture_tree, podman,
                         run, unavailable)

pytestmark = [pytest.mark.skipif(unavailable() is not None, reason=str(unavailable())),
              pytest.mark.skipif(bundle_unavailable() is not None, reason=str(bundle_unavailable()))]

IMAGES = ("busybox", "musl", "bookworm-slim", "scratch")
SHELL_IMAGES = ("busybox", "musl", "bookworm-slim")
INTERPRETER = re.compile(r"^/package/admin/s6py-[^/]+/python/bin/python3$")
SVC = "/run/service/svc"
NO_MUSL_GCC = "musl-gcc is not installed (apt-get install musl-tools; ./run-tests installs it)"

#: payload CODE WORD...: prints "payload WORD..." and exits CODE
PAYLOAD_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    fputs("payload", stdout);
    for (int i = 2; i < argc; i++)
        printf(" %s", argv[i]);
    putchar('\n');
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""

#: the images with a shell: sh scripts, as an image author writes them
SH_TREE = {
    "etc/cont-init.d/10-greet": "#!/command/with-contenv sh\necho \"cont-init ran: $GREETING\"\n",
    "etc/cont-finish.d/10-bye": "#!/bin/sh\necho cont-finish ran\n",
    "etc/services.d/svc/run": "#!/bin/sh\necho svc-started\nexec sleep 1000\n",
    "etc/services.d/svc/log/run": "#!/bin/sh\nmkdir -p /var/log/svc\nexec s6-log n3 /var/log/svc\n",
}

#: FROM scratch: no /bin/sh, so execline, and only our own commands
EXECLINE_TREE = {
    "etc/cont-init.d/10-greet": "#!/command/execlineb -P\nwith-contenv\n"
                                "importas -D unset GREETING GREETING\n"
                                "s6-echo \"cont-init ran: ${GREETING}\"\n",
    "etc/cont-finish.d/10-bye": "#!/command/execlineb -P\ns6-echo cont-finish ran\n",
    "etc/services.d/svc/run": "#!/command/execlineb -P\nforeground { s6-echo svc-started }\ns6-pause\n",
    "etc/services.d/svc/log/run": "#!/command/execlineb -P\nif { s6-mkdir -p /var/log/svc }\n"
                                  "s6-log n3 /var/log/svc\n",
}


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    """{"payload": static, "payload-dyn": linked against musl's loader} or None (no musl-gcc)."""
    if shutil.which("musl-gcc") is None:
        return None
    d = tmp_path_factory.mktemp("payload")
    src = d / "payload.c"
    src.write_text(PAYLOAD_C)
    out = {}
    for name, flags in (("payload", ["-static"]), ("payload-dyn", [])):
        subprocess.run(["musl-gcc", "-Os"] + flags + ["-o", str(d / name), str(src)], check=True,
                       capture_output=True, timeout=60)
        out[name] = str(d / name)
    return out


_trees = {}


def image_of(name, payloads, tmp_path_factory):
    """bundle_image(NAME) with the image's scripts (SH_TREE or EXECLINE_TREE) and the
    payloads in /usr/local/bin, built once per module."""
    if name not in _trees:
        if name == "scratch" and payloads is None:
            pytest.skip("the scratch image's CMD and payload are static programs: " + NO_MUSL_GCC)
        tree = fixture_tree(tmp_path_factory.mktemp("tree-" + name),
                            EXECLINE_TREE if name == "scratch" else SH_TREE)
        if payloads:
            os.makedirs(os.path.join(tree, "usr/local/bin"))
            for n, path in payloads.items():
                shutil.copy(path, os.path.join(tree, "usr/local/bin", n))
        _trees[name] = bundle_image(name, files=tree)
    return _trees[name]


@pytest.fixture(scope="module", params=IMAGES)
def img(request, payloads, tmp_path_factory):
    return request.param, image_of(request.param, payloads, tmp_path_factory)


def cmd(name, code):
    """A CMD printing one line and exiting CODE: sh where there is one, else the payload."""
    if name == "scratch":
        return ["/usr/local/bin/payload", str(code), "cmd-ran"], "payload cmd-ran"
    return ["sh", "-c", "echo cmd-ran; exit %d" % code], "cmd-ran"


def read_file(c, path):
    """PATH's content in container C ("" if absent), by `podman cp` (no cat in scratch)."""
    r = podman("cp", "%s:%s" % (c.id, path), "-", timeout=30)
    if r.returncode != 0:
        return ""
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
        member = t.next()
        return t.extractfile(member).read().decode(errors="replace")


def exes(c):
    """{pid in the container: its /proc/PID/exe}, read from the host (scratch has no readlink)."""
    out = {}
    rows = podman("top", c.id, "hpid", "pid").stdout.decode().split("\n")[1:]
    for row in rows:
        if row.split():
            hpid, pid = row.split()
            try:
                out[int(pid)] = os.readlink("/proc/%s/exe" % hpid)
            except OSError:  # gone meanwhile
                pass
    return out


def svstat(c, *args):
    r = c.exec("s6-svstat", *args, SVC)
    return r.stdout.strip() if r.returncode == 0 else "rc %d: %s" % (r.returncode, r.stderr)


@pytest.mark.parametrize("code", [3, 0])
def test_cmd_exit_code_cont_init_and_finish(img, code):
    """The README's first example: the CMD's exit code is the container's; cont-init.d
    (with the container's environment) runs before it, cont-finish.d after it."""
    name, tag = img
    argv, line = cmd(name, code)
    r = run(tag, *argv, opts=["-e", "GREETING=hi"])
    assert r.returncode == code, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["cont-init ran: hi", line, "cont-finish ran"], r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "fatal" not in r.stderr, r.stderr


def test_service_log_exec_and_stop(img):
    """A services.d service with a logger, driven by `podman exec s6-svc`/`s6-svstat`;
    `podman stop` ends it with exit code 0 after cont-finish.d; every process is the
    bundled interpreter or the image's own program (sleep)."""
    name, tag = img
    with Container(tag, opts=["-e", "GREETING=hi"]) as c:
        assert c.wait_for(lambda: svstat(c, "-u") == "true"), c.logs()
        assert c.wait_for(lambda: read_file(c, "/var/log/svc/current") == "svc-started\n"), (
            read_file(c, "/var/log/svc/current"), c.logs())
        r = c.exec("s6-svc", "-wd", "-d", SVC)
        assert r.returncode == 0, r.stderr
        assert svstat(c).startswith("down "), svstat(c)
        assert svstat(c, "-o", "up,wantedup") == "false false"
        r = c.exec("s6-svc", "-wu", "-u", SVC)
        assert r.returncode == 0, r.stderr
        assert svstat(c).startswith("up "), svstat(c)
        assert c.wait_for(lambda: read_file(c, "/var/log/svc/current") == "svc-started\n" * 2), (
            read_file(c, "/var/log/svc/current"))

        procs = exes(c)
        assert INTERPRETER.match(procs[1]), procs
        others = {exe for exe in procs.values() if not INTERPRETER.match(exe)}
        # the service's sleep (coreutils or busybox's), nothing else: no other Python
        assert others <= {"/bin/busybox", "/usr/bin/sleep"}, procs
        ours = [pid for pid, exe in procs.items() if INTERPRETER.match(exe)]
        # /init (the supervision tree), s6-log, and the service: sleep or s6-pause
        assert len(ours) == (3 if name == "scratch" else 2) and len(procs) == 3, procs

        took = c.stop()
        assert c.exit_code() == 0
        logs = c.logs()
    assert took < 5, took
    # (logs: the container's stdout, then its stderr: no order between the two)
    assert "cont-init ran: hi" in logs and "cont-finish ran" in logs, logs
    assert "[cont-finish.d] 10-bye: exited 0." in logs, logs
    assert "Traceback" not in logs, logs


def test_no_other_python_in_the_image(img):
    """The image's tree: no python but the bundle's (minbase has none: debian:*-slim), and
    in scratch nothing of a distribution (no /bin/sh, no libc)."""
    name, tag = img
    r = podman("image", "mount", tag, timeout=60)
    assert r.returncode == 0, r.stderr
    root = r.stdout.decode().strip()
    try:
        pythons = []  # interpreters, libpython, stdlib zips (not gcc's python/ of gdb scripts)
        for dirpath, dirnames, filenames in os.walk(root):
            for f in filenames:
                if re.match(r"(lib)?python[0-9.]*(\.so.*|\.zip)?$", f):
                    pythons.append("/" + os.path.relpath(os.path.join(dirpath, f), root))
        has_sh = os.path.lexists(os.path.join(root, "bin/sh"))
        libc = [p for p in ("lib/x86_64-linux-gnu/libc.so.6", MUSL_LOADER[1:])
                if os.path.lexists(os.path.join(root, p))]
    finally:
        podman("image", "unmount", tag, timeout=60)
    outside = [p for p in pythons if not p.startswith("/package/admin/s6py-")]
    assert outside == [], outside
    assert any(INTERPRETER.match(p) for p in pythons), pythons
    assert has_sh == (name != "scratch")
    assert libc == {"busybox": [], "musl": [MUSL_LOADER[1:]], "scratch": [],
                    "bookworm-slim": ["lib/x86_64-linux-gnu/libc.so.6"]}[name]


def test_musl_loader_runs_a_dynamic_payload(payloads, tmp_path_factory):
    """The musl image is an Alpine base to a program: one linked against musl's loader runs
    as the CMD (and, for contrast, cannot start in the busybox image, which has no loader)."""
    if payloads is None:
        pytest.skip(NO_MUSL_GCC)
    with open(payloads["payload-dyn"], "rb") as f:
        assert MUSL_LOADER.encode() in f.read()  # its PT_INTERP
    r = run(image_of("musl", payloads, tmp_path_factory), "/usr/local/bin/payload-dyn", "5", "dyn")
    assert (r.returncode, r.stdout) == (5, "cont-init ran: \npayload dyn\ncont-finish ran\n"), (
        r.stdout + r.stderr)
    r = run(image_of("busybox", payloads, tmp_path_factory), "sh", "-c",
            "/usr/local/bin/payload-dyn 0 dyn; echo rc=$?; /usr/local/bin/payload 0 static")
    assert r.stdout.splitlines()[1:] == ["rc=127", "payload static", "cont-finish ran"], r.stdout + r.stderr


#: posix, not open(): a poisoned encodings runs before the builtins are complete
POISON = ("import posix\n"
          "fd = posix.open('/tmp/poisoned', posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND, 0o644)\n"
          "posix.write(fd, (__name__ + ' from ' + __file__ + '\\n').encode())\n"
          "raise SystemExit('poisoned: ' + __name__)\n")

#: modules the bundled interpreter would find on PYTHONPATH first if it honoured it (the
#: frozen and built-in ones aside: those always win)
POISONED = ("encodings/__init__", "sitecustomize", "usercustomize", "signal", "selectors",
            "subprocess", "socket", "s6py/__init__", "startup")

POISON_ENV = ["-e", "PYTHONPATH=/poison", "-e", "PYTHONSTARTUP=/poison/startup.py",
              "-e", "PYTHONHOME=/nonexistent", "-e", "PYTHONVERBOSE=1",
              "-e", "PYTHONUSERBASE=/poison"]


def test_isolated_from_the_images_python_and_environment(tmp_path_factory):
    """bookworm has python3-minimal, same version as the bundle's: with PYTHON* variables
    naming poisoned modules on the container, /init and the commands (s6-echo, with-contenv)
    still work and load none of them, PID 1 is the bundled interpreter, and the user's
    programs still get the variables (with-contenv, the CMD).  The controls: the bundled
    interpreter run without -IS, and the image's own python3, do load the poison."""
    tree = fixture_tree(tmp_path_factory.mktemp("poison"),
                        {"poison/%s.py" % m: (POISON, 0o644) for m in POISONED})
    tag = bundle_image("bookworm", files=tree)
    script = ("with-contenv sh -c 'echo \"contenv PYTHONPATH=$PYTHONPATH\"'; s6-echo s6-echo-ok;"
              " echo \"pid1 $(readlink /proc/1/exe)\"; echo \"marks [$(cat /tmp/poisoned 2>&1)]\";"
              " /package/admin/s6py/python/bin/python3 -c pass 2>/dev/null;"
              " echo \"bundled without -IS $(cut -d' ' -f1 /tmp/poisoned)\"; rm /tmp/poisoned;"
              " python3 -c pass 2>/dev/null; echo \"control $(cut -d' ' -f1 /tmp/poisoned)\"; exit 7")
    r = run(tag, "sh", "-c", script, opts=POISON_ENV)
    assert r.returncode == 7, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "contenv PYTHONPATH=/poison", r.stdout
    assert lines[1] == "s6-echo-ok", r.stdout + r.stderr
    assert INTERPRETER.match(lines[2].split(" ", 1)[1]), lines[2]
    assert lines[3] == "marks [cat: /tmp/poisoned: No such file or directory]", r.stdout
    # the poison is live: the same interpreter without the launcher's -IS loads it (its
    # sitecustomize: its encodings is frozen, bundle.FROZEN_EXTRA), and so does the image's
    # own python3 (its encodings first)
    assert lines[4:] == ["bundled without -IS sitecustomize", "control encodings"], r.stdout
    # PYTHONVERBOSE=1 honoured would print every import ("import 'x' # ...") on stderr
    assert "import " not in r.stderr and "poisoned" not in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr

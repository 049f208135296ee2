"""What images written for s6-overlay 1/2 rely on, in real containers (podman + runc).

The namespace tests (test_init_real_images.py) cover each behaviour; these show it where
the runtime's own choices matter: podman's root-owned `--tmpfs /run` for `--user`, the
signal dispositions runc hands to PID 1, a read-only root with git's 0644 modes, the
overlay's links renamed or copied in the image.
"""

import pytest

from e2e_support import Container, fixture_tree, image, run, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture(scope="module")
def img():
    return image("bookworm")


def test_user_1000_with_podmans_root_owned_tmpfs_run_boots(img, tmp_path):
    """`podman run --user 1000 --tmpfs /run:rw,exec`: s6-overlay 2 and 3 boot (their
    setuid helper chowns /run); we boot in the fallback tree, as uid 1000 throughout."""
    tree = fixture_tree(tmp_path, {
        "etc/cont-init.d/10-who": ("#!/bin/sh\necho \"cont-init as $(id -u)\"\n", 0o644),
        "etc/services.d/app/run": ("#!/bin/sh\nexec sleep 1000\n", 0o644),
    })
    opts = ["--user", "1000", "--tmpfs", "/run:rw,exec", "-e", "S6_CMD_WAIT_FOR_SERVICES=1",
            "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree,
            "-v", "%s/etc/services.d:/etc/services.d:ro" % tree]
    r = run(img, "sh", "-c", 'id -u; s6-svstat -o up "$S6PY_RUN/service/app"; ps -o user= -p 1',
            opts=opts)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "cont-init as 1000\n1000\ntrue\n1000\n", (r.stdout, r.stderr)
    assert "fatal" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "the run-time tree is in /tmp/s6py-run-1000 instead" in r.stderr


def test_services_see_no_signal_ignored(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/services.d/app/run": "#!/bin/sh\ngrep SigIgn /proc/self/status > /run/sigign\n"
                                  "exec sleep 1000\n"})
    r = run(img, "sh", "-c", "while ! test -s /run/sigign; do sleep 0.05; done; cat /run/sigign",
            opts=["-v", "%s/etc/services.d:/etc/services.d:ro" % tree])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["SigIgn:", "0000000000000000"]


def test_read_only_root_with_0644_scripts_still_runs_them(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/cont-init.d/10-hello": ("#!/bin/sh\necho hello-from-init\n", 0o644),
        "etc/services.d/app/run": ("#!/bin/sh\ntouch /run/app-up\nexec sleep 1000\n", 0o644),
    })
    opts = ["--read-only", "--tmpfs", "/run:exec",
            "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree,
            "-v", "%s/etc/services.d:/etc/services.d:ro" % tree]
    r = run(img, "sh", "-c", "while ! test -e /run/app-up; do sleep 0.05; done; echo cmd-ok",
            opts=opts)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello-from-init\ncmd-ok\n", r.stderr
    assert "could not be made executable (Read-only file system)" in r.stderr


def test_renamed_with_contenv_behind_a_bash_wrapper(tmp_path):
    """linuxserver's base images: `mv /usr/bin/with-contenv /usr/bin/with-contenvb` and a
    bash `with-contenv` of their own that execs it; services use `#!/usr/bin/with-contenv bash`."""
    img = image("bookworm", extra_run="mv /usr/bin/with-contenv /usr/bin/with-contenvb && "
                "printf '#!/bin/bash\\nexec /usr/bin/with-contenvb \"$@\"\\n' > /usr/bin/with-contenv && "
                "chmod 755 /usr/bin/with-contenv")
    tree = fixture_tree(tmp_path, {
        "etc/cont-init.d/10-env": ("#!/usr/bin/with-contenv bash\necho \"TZ is $TZ\"\n", 0o644)})
    r = run(img, "true", opts=["-e", "TZ=Europe/Paris",
                               "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "TZ is Europe/Paris\n", r.stderr
    assert "unknown command" not in r.stderr


def test_a_copied_launcher_says_what_it_is(tmp_path):
    img = image("bookworm", extra_run="cp /usr/bin/with-contenv /usr/bin/with-contenvb")
    r = run(img, "/usr/bin/with-contenvb", "true")
    assert r.returncode == 100, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("s6py:")]
    assert lines == ["s6py: fatal: unknown command: with-contenvb (/usr/bin/with-contenvb is not a"
                     " link to any command): name a link or copy after a command, or link it to"
                     " /command/NAME"], r.stderr
    assert "Traceback" not in r.stderr

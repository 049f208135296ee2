"""What images written for s6-overlay 1/2 rely on, written the way real images write it.

Scripts checked out of git as 0644; `#!/usr/bin/with-contenv bash`-style wrappers that look
at `pwd`; cont-finish.d scripts under `set -u` reading S6_STAGE2_EXITED; read-only roots.
Each test is /init as PID 1 of a private namespace (test_init_support.Box).
"""

import os
import stat

from test_init_support import box_fixture, read

box = box_fixture()

PERMS_LINES = [
    "[s6-init] making user provided files available at /var/run/s6/etc...exited 0.",
    "[s6-init] ensuring user provided files have correct perms...exited 0.",
]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def git_checkout_tree(box, out="data"):
    """A v2 image's user files as git checks them out: every script 0644.  The service
    and the CMD leave their traces in OUT (run/ when the root is read-only)."""
    box.file("etc/cont-init.d/10-adduser", "#!/bin/sh\necho init-ran\n", 0o644)
    box.file("etc/cont-finish.d/90-bye", "#!/bin/sh\necho finish-ran\n", 0o644)
    if out == "data":
        box.file("etc/fix-attrs.d/01-app", "%s false root 0600 0700\n" % box.path("data/f"), 0o600)
        box.file("data/f", "x", 0o644)
    box.file("etc/services.d/app/run",
             '#!/bin/sh\ntouch "$S6PY_ROOT/%s/app-ran"\nexec sleep 100\n' % out, 0o644)
    box.file("etc/services.d/app/finish", "#!/bin/sh\nexit 0\n", 0o644)
    box.file("etc/services.d/app/log/run", '#!/bin/sh\nexec cat > "$S6PY_ROOT/%s/app-log"\n' % out,
             0o644)
    box.file("etc/services.d/app/data/check", "#!/bin/sh\nexit 0\n", 0o644)
    return ["sh", "-c", 'while ! test -e "$S6PY_ROOT/%s/app-ran"; do sleep 0.01; done; echo cmd-ran' % out]


def test_0644_scripts_are_made_executable_and_run_as_v2_did(box):
    cmd = git_checkout_tree(box)
    r = box.run(cmd)
    assert r.code == 0, r
    assert r.out.split() == ["init-ran", "cmd-ran", "finish-ran"], r
    assert r.err.splitlines()[:2] == PERMS_LINES, r.err
    assert "Permission denied" not in r.err and "info" not in r.err, r.err
    for rel in ("etc/cont-init.d/10-adduser", "etc/cont-finish.d/90-bye", "etc/services.d/app/run",
                "etc/services.d/app/finish", "etc/services.d/app/log/run",
                "etc/services.d/app/data/check"):
        assert mode(box.path(rel)) == 0o755, rel
        assert os.lstat(box.path(rel)).st_uid == 0, rel
    assert mode(box.path("etc/fix-attrs.d/01-app")) == 0o644
    assert mode(box.path("data/f")) == 0o600  # the fix-attrs.d file itself still applied


def test_a_symlink_among_the_user_files_is_never_followed(box):
    box.file("data/precious", "keep my mode\n", 0o600)
    os.symlink(box.path("data/precious"), box.path("etc/cont-init.d/00-link"))
    os.makedirs(box.path("etc/services.d/svc"))
    os.symlink(box.path("data/precious"), box.path("etc/services.d/svc/finish"))
    box.script("etc/services.d/svc/run", "exec sleep 100\n")
    r = box.run(["true"])
    assert r.code == 0, r
    assert mode(box.path("data/precious")) == 0o600


def test_on_a_read_only_root_0644_scripts_still_run_and_say_how(box):
    cmd = git_checkout_tree(box, out="run")
    r = box.run(cmd, ro_root=True)
    assert r.code == 0, r
    assert r.out.split() == ["init-ran", "cmd-ran", "finish-ran"], r
    info = [line for line in r.err.splitlines() if line.startswith("init: info:")]
    assert len(info) == 1, r.err
    assert "could not be made executable (Read-only file system)" in info[0]
    assert "etc/cont-init.d/10-adduser" in info[0] and "etc/services.d/app/run" in info[0]
    assert mode(box.path("etc/cont-init.d/10-adduser")) == 0o644  # untouched
    assert mode(box.path("etc/services.d/app/run")) == 0o644


def test_with_s6_read_only_root_nothing_is_chmoded_and_everything_runs(box):
    cmd = git_checkout_tree(box)
    r = box.run(cmd, env={"S6_READ_ONLY_ROOT": "1"})
    assert r.code == 0, r
    assert r.out.split() == ["init-ran", "cmd-ran", "finish-ran"], r
    assert mode(box.path("etc/cont-init.d/10-adduser")) == 0o644
    assert mode(box.path("etc/services.d/app/log/run")) == 0o644
    assert os.path.exists(box.path("data/app-log"))


def test_non_root_0644_scripts_it_cannot_change_still_run(box):
    cmd = git_checkout_tree(box)
    os.chmod(box.path("data"), 0o777)
    r = box.run(cmd, user=(65534, 65534), run_opts="mode=0755,uid=65534,gid=65534")
    assert r.code == 0, r
    assert r.out.split() == ["init-ran", "cmd-ran", "finish-ran"], r
    assert "Operation not permitted" in r.err and "Traceback" not in r.err, r.err


def test_a_0644_script_without_shebang_on_a_read_only_root_fails_as_exec_would(box):
    box.file("etc/cont-init.d/00-noshebang", "echo hi\n", 0o644)
    r = box.run(["true"], ro_root=True)
    assert r.code == 0, r
    assert "[cont-init.d] 00-noshebang: unable to exec" in r.err and "Exec format error" in r.err, r.err


def test_a_0644_binary_on_a_read_only_root_runs_from_an_executable_copy(box):
    with open("/bin/echo", "rb") as f:
        box.file("etc/cont-init.d/00-binary", "", 0o644)
        with open(box.path("etc/cont-init.d/00-binary"), "wb") as out:
            out.write(f.read())
    r = box.run(["true"], ro_root=True)
    assert r.code == 0, r
    assert "[cont-init.d] 00-binary: exited 0." in r.err, r.err
    assert mode(box.path("etc/cont-init.d/00-binary")) == 0o644


def test_user_directories_are_named_under_var_run_s6_etc(box):
    box.script("etc/cont-init.d/00", 'ls "$S6PY_ROOT/var/run/s6/etc/cont-init.d"\n')
    r = box.run(["true"])
    assert r.code == 0 and r.out.split() == ["00"], r


# ------------------------------------------------------ the services' directory

def test_a_legacy_service_runs_in_v2s_real_directory(box):
    """`pwd -P` is /run/s6/services/NAME, v2's /var/run/s6/services/NAME through
    /var/run -> /run; /run/service/NAME (v3's name) and /run/s6/legacy-services/NAME name it."""
    box.service("web", 'pwd -P > "$S6PY_ROOT/data/cwd"; exec sleep 100\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/cwd"; do sleep 0.01; done; '
                 'readlink -f "$S6PY_ROOT/run/service/web"; readlink -f "$S6PY_ROOT/run/s6/legacy-services/web"; '
                 'for d in run/service var/run/s6/services run/s6/legacy-services; do '
                 's6-svstat -o up "$S6PY_ROOT/$d/web"; done'])
    assert r.code == 0, r
    real = box.path("run/s6/services/web")
    assert read(box.path("data/cwd")).strip() == real
    assert r.out.split() == [real, real, "true", "true", "true"], r


def test_a_service_made_at_run_time_in_var_run_s6_services_is_supervised(box):
    """v2's scandir is /var/run/s6/services: images copy a service there, then `s6-svscanctl -a`."""
    box.script("etc/cont-init.d/00", 'echo nothing yet\n')
    r = box.run(["sh", "-c", 'd="$S6PY_ROOT/var/run/s6/services/late"; mkdir "$d"; '
                 'printf "#!/bin/sh\\nexec sleep 100\\n" > "$d/run"; chmod 755 "$d/run"; '
                 's6-svscanctl -a "$S6PY_ROOT/var/run/s6/services"; '
                 's6-svwait -u -t 5000 "$S6PY_ROOT/run/service/late" && echo late-up'])
    assert r.code == 0 and "late-up" in r.out, r


def test_a_with_contenv_wrapper_testing_pwdx_applies_umask(box):
    """linuxserver's base images wrap with-contenv in bash and apply UMASK only when the
    process's real directory (`pwdx $$`) is under /run/s6/services/ (2021) or also
    /run/s6/legacy-services/ (2022)."""
    wrapper = box.file("data/with-contenv", """#!/bin/bash
if [[ -f $S6PY_ROOT/var/run/s6/container_environment/UMASK ]] && [[ "$(pwdx $$)" =~ "/run/s6/services/" ]]; then
  umask "$(cat "$S6PY_ROOT/var/run/s6/container_environment/UMASK")"
fi
exec with-contenv "$@"
""", 0o755)
    box.service("app", 'touch "$S6PY_ROOT/data/made"; exec sleep 100\n')
    os.rename(box.path("etc/services.d/app/run"), box.path("etc/services.d/app/real-run"))
    box.file("etc/services.d/app/run", "#!%s sh\nexec ./real-run\n" % wrapper, 0o644)
    r = box.run(["sh", "-c", 'while ! test -e "$S6PY_ROOT/data/made"; do sleep 0.01; done'],
                env={"UMASK": "077"})
    assert r.code == 0, r
    assert mode(box.path("data/made")) == 0o600  # 0666 & ~077


# ------------------------------------------------------- cont-finish.d's environment

SET_U_FINISH = '#!/bin/bash\nset -u\necho "finish sees S6_STAGE2_EXITED=$S6_STAGE2_EXITED"\n'


def test_cont_finish_set_u_script_sees_the_cmds_code(box):
    box.file("etc/cont-finish.d/00-report", SET_U_FINISH, 0o644)
    r = box.run(["sh", "-c", "exit 3"])
    assert r.code == 3, r
    assert "finish sees S6_STAGE2_EXITED=3" in r.out, r
    assert "unbound variable" not in r.err, r.err


def test_cont_finish_sees_stage2_exited_when_the_behaviour_is_not_0(box):
    """v2 writes the boot's result (0 here) to S6_STAGE2_EXITED when
    S6_BEHAVIOUR_IF_STAGE2_FAILS != 0, even with no CMD: Home Assistant add-ons' finish
    scripts read it under `set -u`."""
    box.file("etc/cont-finish.d/00-report", SET_U_FINISH, 0o644)
    box.service("stopper", 'sleep 0.1; "$S6PY_ROOT/run/s6/basedir/bin/halt"; exec sleep 100\n')
    r = box.run([], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": "2"})
    assert r.code == 0, r
    assert "finish sees S6_STAGE2_EXITED=0" in r.out, r


def test_a_failed_boot_gives_cont_finish_its_code(box):
    box.file("etc/cont-finish.d/00-report", SET_U_FINISH, 0o644)
    box.script("etc/cont-init.d/00", "exit 5\n")
    r = box.run(["echo", "never"], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": "2"})
    assert r.code == 5, r
    assert "finish sees S6_STAGE2_EXITED=5" in r.out and "never" not in r.out, r


def test_a_finish_script_writing_stage2_exited_still_sets_the_code(box):
    box.script("etc/cont-finish.d/00", 'echo 42 > "$S6PY_ROOT/var/run/s6/env-stage3/S6_STAGE2_EXITED"\n')
    r = box.run(["sh", "-c", "exit 3"])
    assert r.code == 42, r


# ----------------------------------------------------------------- v3 trees, signals

def test_a_v3_tree_with_its_user_bundle_in_s6_rc_d_runs_with_v3s_warning(box):
    """linuxserver's layout: the user bundle's contents.d in s6-rc.d/user (v3 warns that
    this is deprecated, and runs it)."""
    box.file("etc/s6-overlay/s6-rc.d/myapp/type", "longrun\n")
    box.file("etc/s6-overlay/s6-rc.d/myapp/run", "#!/bin/sh\nexec sleep 100\n", 0o755)
    box.file("etc/s6-overlay/s6-rc.d/user/contents.d/myapp", "")
    box.file("etc/s6-overlay/s6-rc.d/user/type", "bundle\n")
    r = box.run(["sh", "-c", 's6-svstat "$S6PY_ROOT/run/service/myapp"'])
    assert r.code == 0, r
    assert r.out.startswith("up (pid "), r
    warnings = [line for line in r.err.splitlines() if "deprecated" in line]
    assert len(warnings) == 1 and "defining user bundles in" in warnings[0], r.err


def test_the_overlays_own_empty_v3_bundles_give_no_warning(box):
    box.file("etc/s6-overlay/s6-rc.d/user/type", "bundle\n")
    os.makedirs(box.path("etc/s6-overlay/s6-rc.d/user/contents.d"))
    os.makedirs(box.path("etc/s6-overlay/s6-rc.d/user2/contents.d"))
    box.file("etc/s6-overlay/s6-rc.d/user2/type", "bundle\n")
    r = box.run(["true"])
    assert r.code == 0 and "s6-rc" not in r.err, r


def test_services_and_scripts_start_with_no_signal_ignored(box):
    box.service("svc", 'grep SigIgn /proc/self/status > "$S6PY_ROOT/data/svc"; exec sleep 100\n')
    box.script("etc/cont-init.d/00", 'grep SigIgn /proc/self/status > "$S6PY_ROOT/data/init"\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svc"; do sleep 0.01; done'])
    assert r.code == 0, r
    for name in ("svc", "init"):
        assert read(box.path("data/" + name)).split() == ["SigIgn:", "0000000000000000"], name


def test_a_service_file_named_like_a_siblings_temporary_is_copied_whole(box):
    box.service("svc", 'cat ./run.tmp > "$S6PY_ROOT/data/copied"; exec sleep 100\n',
                files={"run.tmp": "sibling\n", "x" * 255: "long name\n"})
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/copied"; do sleep 0.01; done'])
    assert r.code == 0, r
    assert read(box.path("data/copied")) == "sibling\n"

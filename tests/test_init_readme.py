"""The s6-overlay v1 README's examples, run under our /init as PID 1 (paths made absolute
to the test's private tree; real programs like nginx/confd replaced by small stand-ins)."""

import os
import time

from test_init_support import box_fixture, read

box = box_fixture()


def test_cont_init_execline_with_s6_envuidgid_and_import(box):
    # README "Executing initialization And/Or finalization tasks" (confd replaced by echo)
    box.file("etc/cont-init.d/00-confd",
             "#!%s/execlineb -P\n"
             "s6-envuidgid daemon\n"
             "  import -u -D0 UID\n"
             "  import -u -D0 GID\n"
             "  import -u CONFD_PREFIX\n"
             "  define CONFD_CHECK_CMD \"/usr/sbin/nginx -t -c {{ .src }}\"\n"
             "echo --prefix=${CONFD_PREFIX} --tmpl-uid=${UID} --tmpl-gid=${GID} --tmpl-check-cmd=${CONFD_CHECK_CMD}\n"
             % box.bin, 0o755)
    # s6-envuidgid runs with PATH only: CONFD_PREFIX comes from with-contenv in the original
    # README's images; here we keep the environment to show import -u reading it.
    r = box.run(["true"], env={"CONFD_PREFIX": "/app", "S6_KEEP_ENV": "1"})
    assert r.code == 0, r
    assert ("--prefix=/app --tmpl-uid=1 --tmpl-gid=1 "
            "--tmpl-check-cmd=/usr/sbin/nginx -t -c {{ .src }}") in r.out, r


def test_execline_run_script(box):
    # README "Writing a service script": #!/usr/bin/execlineb -P + one command line
    box.file("etc/services.d/web/run",
             "#!%s/execlineb -P\nsh -c \"touch %s; exec sleep 100\"\n" % (box.bin, box.path("data/web-ran")),
             0o755)
    r = box.run(["sh", "-c", "sleep 0.3"])
    assert r.code == 0 and os.path.exists(box.path("data/web-ran")), r


def test_finish_script_that_stops_the_container_only_on_a_crash(box):
    # README: "here's a script from @smebberson that only brings down the service when it crashes"
    finish = ("#!%s/execlineb -S1\n"
              "if { s6-test ${1} -ne 0 }\n"
              "if { s6-test ${1} -ne 256 }\n"
              "s6-svscanctl -t %s/var/run/s6/services\n" % (box.bin, box.root))
    box.script("etc/services.d/app/run", "sleep 0.2; exit 3\n")
    box.file("etc/services.d/app/finish", finish, 0o755)
    t = time.monotonic()
    r = box.run([])
    assert r.code == 0 and time.monotonic() - t < 3, r
    # killed by a signal (256): the container keeps running, the service is restarted
    box.script("etc/services.d/app/run", 'echo run >> "$S6PY_ROOT/data/runs"; kill -KILL $$\n')
    r = box.run(["sh", "-c", 'while [ "$(wc -l < "$S6PY_ROOT/data/runs" 2>/dev/null || echo 0)" -lt 2 ]; do sleep 0.05; done; echo restarted'],
                timeout=10)
    assert r.code == 0 and "restarted" in r.out, r


def test_dropping_privileges_in_a_run_script(box):
    # README "Dropping privileges": exec s6-setuidgid daemon myservice
    os.chmod(box.path("data"), 0o777)
    box.service("svc", 'exec s6-setuidgid daemon sh -c \'id -u > "$S6PY_ROOT/data/uid"; exec sleep 100\'\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/uid"; do sleep 0.01; done'])
    assert r.code == 0 and read(box.path("data/uid")).strip() == "1", r


def test_with_contenv_shebang(box):
    # README "Container environment": #!/usr/bin/with-contenv sh + echo $MYENV
    box.file("etc/cont-init.d/00", "#!%s/with-contenv sh\necho $MYENV\n" % box.bin, 0o755)
    r = box.run(["true"], env={"MYENV": "from-the-container"})
    assert "from-the-container" in r.out, r


def test_readme_usage_a_cmd_with_services_exits_with_the_cmd(box):
    # README "Using CMD": when the CMD exits, the container exits
    box.service("side", "exec sleep 100\n")
    r = box.run(["sh", "-c", "echo hello; exit 0"])
    assert r.code == 0 and r.out == "hello\n", r
    assert "[cmd] sh exited 0" in r.err

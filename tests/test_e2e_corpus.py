"""Images written by other people for s6-overlay v1/v2 (tests/corpus/NAME, one real public
image each, named in its fixture.json) boot unchanged under s6py: every listed service is up,
the stand-in application answers, `podman stop` ends the container with 0 within a few
seconds, and nothing in the log is a Python traceback.

The same fixtures under the real s6-overlay 2.2.0.3 show that they are realistic: real v2
runs every one of them (skipped when ../shared/oracles has no tarballs).
"""

import pytest

import corpus_support
from e2e_support import unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

FIXTURES = corpus_support.fixtures()
# s6py exits as soon as everything is gone; real v2 sleeps S6_KILL_GRACETIME (3 s) and more.
MAX_STOP = {"s6py": 5.0, "v2": 9.0}


def check(flavour, name):
    r = corpus_support.run_fixture(flavour, name)
    where = "%s\n--- container log ---\n%s\n--- probe ---\n%s" % (r.summary(), r.logs[-6000:], r.probe_output[-2000:])
    assert r.error is None, where
    assert r.booted, where
    assert r.services_up, where
    assert r.probe_ok, where
    assert r.stop_exit == 0, where
    assert r.stop_time <= MAX_STOP[flavour], where
    assert not r.traceback, where
    assert not r.missing_logs, where


@pytest.mark.parametrize("name", FIXTURES)
def test_real_image_boots_under_s6py(name):
    check("s6py", name)


v2_missing = corpus_support.flavours_available()["v2"] if unavailable() is None else None


@pytest.mark.skipif(v2_missing is not None, reason=str(v2_missing))
@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_is_realistic_real_v2_runs_it(name):
    check("v2", name)

"""The s6-rc (v3) scenarios of tests/rc_scenarios under the REAL s6-overlay 3.2.3.2.

Each scenario variant is run once in podman and its observation (normalised output lines,
exit code, exec'd commands' answers, the order of the scripts' events) must be the one its
expected-v3.json documents (docs/s6-rc-v3-reference.md explains them).  This proves the
harness and pins the reference; s6py is compared against the same files by
`e2e_rc_support.observe(e2e_rc_support.s6py_image(), NAME, VARIANT)` once it runs s6-rc
services.  A few timing facts the expected files cannot say are checked here too.
"""

import pytest

import e2e_rc_support as rc
from e2e_support import unavailable

_why = unavailable() or rc.reference_unavailable()
pytestmark = pytest.mark.skipif(_why is not None, reason=str(_why))

CASES = [(n, v) for n in rc.scenarios() for v in rc.variants(n)]
_seen = {}


@pytest.fixture(scope="module")
def ref():
    return rc.reference_image()


def observed(ref, name, variant):
    if (name, variant) not in _seen:
        _seen[(name, variant)] = rc.observe(ref, name, variant)
    return _seen[(name, variant)]


@pytest.mark.parametrize("name,variant", CASES, ids=["%s/%s" % c for c in CASES])
def test_reference_matches_its_documented_observation(ref, name, variant):
    obs, noise = rc.without_reference_noise(observed(ref, name, variant))
    assert noise <= 1, "v3's known stray line, but %d times" % noise
    exp = rc.expected(name)[variant]
    diffs = rc.differences(exp, obs)
    assert not diffs, "\n".join(diffs) + "\n\nobserved:\n" + rc.dump(obs)


def _at(obs, event):
    return [t for e, t in obs["events_raw"] if e == event]


def test_readiness_gates_the_dependent_oneshot(ref):
    """after-ready starts only once slowready has written its readiness line (0.5 s in)."""
    obs = observed(ref, "03-readiness", "default")
    spawned, ready, after = _at(obs, "slowready spawned")[0], _at(obs, "slowready ready")[0], \
        _at(obs, "after-ready up")[0]
    assert ready - spawned >= 0.45, obs["events_raw"]
    assert after >= ready, obs["events_raw"]


def test_timeout_gives_up_after_about_the_maxtime(ref):
    """S6_CMD_WAIT_FOR_SERVICES_MAXTIME=1000: s6-rc gives up about 1 s after it began."""
    obs = observed(ref, "10-wait-maxtime", "b2")
    assert obs["exit"] in (1, 2)
    assert 1.0 <= obs["timing"]["exited"] < 15, obs["timing"]


def test_stops_take_the_reference_grace_time(ref):
    """v3 always sleeps S6_KILL_GRACETIME (3 s) at the end of a stop: document, do not race."""
    obs = observed(ref, "01-oneshot-longrun-bundle", "stop")
    assert 2.5 <= obs["timing"]["stop"] < 10, obs["timing"]

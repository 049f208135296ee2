"""The s6-rc (v3) scenarios of tests/rc_scenarios under s6py, compared with what the REAL
s6-overlay 3.2.3.2 does (their expected-v3.json, pinned by tests/test_e2e_rc_reference.py).

Every output line, its order (within the slack the reference itself needs), the exit code,
the answers of `s6-rc`, `s6-rc-db`, `s6-svstat` run with `podman exec`, and the order of the
scripts' events must be v3's, but for the differences s6py makes on purpose
(docs/s6-rc.md, "Differences from s6-overlay 3"), applied to the expected observation here:

  * v3's two `libexec/preinit: info:` lines at boot are not printed;
  * `s6-svstat` says `up (pid N)` (s6 2.11's format), not `up (pid N pgid N)`;
  * an invalid graph stops the container at once, exit 1 (v3 stays up with nothing
    running, and `podman stop` gives 0): only the output lines are compared;
  * with S6_VERBOSITY=3, the built-in sources' directory is ours, and /init's own debug
    lines are there;
  * s6-rc-compile's line for a dependency cycle ends with the cycle itself, and names
    /run/s6/rc/builtin where v3's names its package's sources.
"""

import copy
import re

import pytest

import e2e_rc_support as rc
from e2e_support import unavailable

_why = unavailable() or rc.reference_unavailable()
pytestmark = pytest.mark.skipif(_why is not None, reason=str(_why))

CASES = [(n, v) for n in rc.scenarios() for v in rc.variants(n)]


@pytest.fixture(scope="module")
def s6py():
    return rc.s6py_image()


def _ours(line):
    """Lines s6py prints where v3 prints none, or its own (S6_VERBOSITY=3)."""
    return line.startswith("init: debug: ") or line.startswith("s6-rc-compile: info: adding sources from /run/s6/rc/builtin")


def _theirs_only(line):
    return "libexec/preinit: info:" in line or \
        "adding sources from /package/admin/s6-overlay-" in line


def _svstat(text):
    return re.sub(r"^up \(pid N pgid N\)", "up (pid N)", text)


def adjusted(expected, name):
    """EXPECTED (one observation, or a list of alternatives) with s6py's documented
    differences applied."""
    if isinstance(expected, list):
        return [adjusted(e, name) for e in expected]
    exp = copy.deepcopy(expected)
    exp["lines"] = [line for line in exp.get("lines", [])
                    if not (isinstance(line, str) and _theirs_only(line))]
    for record in exp.get("records", {}).values():
        record["out"] = [_svstat(o) if isinstance(o, str) else o for o in record.get("out", [])]
    if name.startswith("06-invalid"):
        exp["exit"] = 1
        exp.pop("records", None)
        exp.pop("auto_stop", None)
    return exp


#: where the overlay's own source definitions are: written at boot by s6py, shipped by v3
BUILTIN = "/run/s6/rc/builtin"
V3_BUILTIN = "/package/admin/s6-overlay-3.2.3.2/etc/s6-rc/sources"


def observed(image, name, variant):
    obs = rc.observe(image, name, variant)
    # s6-rc-compile's cycle line names the cycle here (an addition at its end)
    obs["lines"] = [re.sub(r" \(cycle: [^)]*\)$", "", line).replace(BUILTIN, V3_BUILTIN)
                    for line in obs["lines"] if not _ours(line)]
    return obs


#: the lines of the init and of s6-rc themselves: compared in order; the services' and
#: scripts' own output races with them (s6py is faster, so more of its lines come first):
#: compared as a multiset
FRAMEWORK = ("s6-rc:", "s6-rc-compile:", "/run/s6/basedir/scripts/rc.init:", "fix-attrs:",
             "cont-init:", "cont-finish:", "services-up:", "s6-svlisten:")


def _framework(line):
    return not isinstance(line, str) or line.startswith(FRAMEWORK)


def split(observation):
    """(framework lines kept in order, sorted payload lines) of one observation."""
    lines = observation.get("lines", [])
    payload = sorted(line for line in lines if not _framework(line))
    kept = dict(observation, lines=[line for line in lines if _framework(line)])
    return kept, payload


def _alternatives(expected):
    return expected if isinstance(expected, list) else [expected]


@pytest.mark.parametrize("name,variant", CASES, ids=["%s/%s" % c for c in CASES])
def test_s6py_does_what_v3_does(s6py, name, variant):
    obs, obs_payload = split(observed(s6py, name, variant))
    attempts = []
    for exp in _alternatives(adjusted(rc.expected(name)[variant], name)):
        exp, exp_payload = split(exp)
        diffs = rc.differences(exp, obs)
        if exp_payload != obs_payload:
            diffs.append("the services' own lines differ: expected %r, got %r"
                         % (exp_payload, obs_payload))
        if not diffs:
            return
        attempts.append(diffs)
    assert False, "\n--\n".join("\n".join(d) for d in attempts) + "\n\nobserved:\n" + rc.dump(obs)

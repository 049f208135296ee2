"""The matcher the v3 comparisons rely on (tests/e2e_rc_support.py), and the pipeline
scenario's own checker: both decide what counts as "the same as v3", so both must be able
to say no."""

import os
import subprocess

import pytest

import e2e_rc_support as rc

LINES = ["a", "b", "c", "d", "e", "f", "g", "h"]


def test_order_slack_allows_k_places_and_no_more():
    exp = {"lines": LINES, "order_slack": {"lines": 1}}
    assert rc.differences(exp, {"lines": ["b", "a"] + LINES[2:]}) == []
    moved = ["b", "c", "a"] + LINES[3:]
    assert rc.differences(exp, {"lines": moved}) == [
        "lines: 'a' expected at 0, seen at 2 (slack 1)"]


def test_a_line_of_its_own_slack_floats_further_and_only_that_line():
    exp = {"lines": LINES, "order_slack": {"lines": 1, "line": {"a": 4}}}
    assert rc.differences(exp, {"lines": ["b", "c", "d", "e", "a"] + LINES[5:]}) == []
    assert rc.differences(exp, {"lines": ["b", "c", "d", "e", "f", "a", "g", "h"]}) != []
    other = ["a", "c", "d", "e", "b"] + LINES[5:]
    assert rc.differences(exp, {"lines": other}) != []


def test_slack_never_forgives_a_missing_or_extra_line():
    exp = {"lines": LINES, "order_slack": {"lines": 3, "line": {"a": 8}}}
    assert rc.differences(exp, {"lines": LINES[1:]}) != []
    assert rc.differences(exp, {"lines": LINES + ["x"]}) != []


def test_alternatives_match_any_one():
    exp = [{"exit": 1}, {"exit": 2}]
    assert rc.differences(exp, {"exit": 2}) == []
    assert rc.differences(exp, {"exit": 3}) != []


CHECK_SINK = os.path.join(rc.SCENARIOS, "07-pipeline", "root", "usr", "bin", "check-sink")


def _check_sink(tmp_path, lines, *args):
    """Run the scenario's check-sink (its log path moved into TMP_PATH) on LINES."""
    log = tmp_path / "sink.log"
    log.write_text("".join(line + "\n" for line in lines))
    script = tmp_path / "check-sink"
    with open(CHECK_SINK) as f:
        script.write_text(f.read().replace("/var/tmp/sink.log", str(log)))
    out = subprocess.run(["sh", str(script), str(len(lines))] + list(args),
                         stdout=subprocess.PIPE, universal_newlines=True, timeout=30)
    return out.stdout.strip()


def _gen(*numbers):
    return ["filtered: gen %d" % n for n in numbers]


@pytest.mark.parametrize("lines,flag,verdict", [
    (_gen(1, 2, 3, 4), None, "first 4 lines in order"),
    (_gen(1, 2) + ["filtered: en 3"] + _gen(4), None, "line 3: filtered: en 3"),
    (_gen(1, 2) + ["filtered: en 3"] + _gen(4), "--one-in-flight", "first 4 lines in order"),
    (_gen(1, 2) + ["filtered: "] + _gen(4), "--one-in-flight", "first 4 lines in order"),
    (_gen(1, 2, 4, 5), "--one-in-flight", "first 4 lines in order"),
    (_gen(1, 2, 4, 6), "--one-in-flight", "line 4: filtered: gen 6"),
    (_gen(1) + ["filtered: en 2", "filtered: n 3"], "--one-in-flight", "line 3: filtered: n 3"),
    (_gen(1, 1, 2), "--one-in-flight", "line 2: filtered: gen 1"),
    (_gen(1) + ["gen 2"] + _gen(3), "--one-in-flight", "line 2: gen 2"),
    (_gen(1, 22, 3), "--one-in-flight", "line 2: filtered: gen 22"),
])
def test_check_sink_forgives_only_the_line_in_flight(tmp_path, lines, flag, verdict):
    assert _check_sink(tmp_path, lines, *([flag] if flag else [])) == verdict


def test_reference_noise_is_dropped_and_counted():
    line = rc.REFERENCE_NOISE[0]
    obs, dropped = rc.without_reference_noise({"lines": ["a", line, "b"], "exit": 0})
    assert obs == {"lines": ["a", "b"], "exit": 0} and dropped == 1
    assert rc.without_reference_noise({"lines": ["a"]}) == ({"lines": ["a"]}, 0)

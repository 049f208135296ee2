"""Unit tests of s6py.wire: the protocol pieces the clients and the engine share."""

import os

import pytest

from s6py.wire import control, events, status


# ------------------------------------------------------------------ events


def test_event_bytes_are_s6s():
    assert (events.STARTED + events.UP + events.READY + events.DOWN + events.FINISHED
            + events.FAILED + events.EXITING) == b"suUdDOx"
    assert sorted(events.WAITED) == sorted(b"uUdDOx")


@pytest.mark.parametrize("byte,bits", [(b"u", (True, False)), (b"U", (True, True)),
                                       (b"d", (False, False)), (b"D", (False, True))])
def test_transitions_set_the_bits(byte, bits):
    for before in ((False, False), (True, True)):
        assert events.apply(byte[0], *before, True, False) == bits + (False,)


def test_permanent_failure_counts_only_when_waiting_for_up():
    assert events.apply(ord("O"), False, True, True, True) == (True, True, True)
    assert events.apply(ord("O"), False, True, False, True) == (False, True, False)


def test_supervisor_exit_reaches_the_wait_and_fails_unless_already_there():
    assert events.apply(ord("x"), True, False, True, False) == (True, False, False)
    assert events.apply(ord("x"), False, False, True, True) == (True, True, True)


def test_reached():
    assert events.reached(True, False, True, False)
    assert not events.reached(True, False, True, True)
    assert events.reached(False, True, False, True)
    assert not events.reached(True, True, False, False)


def test_wait_modes():
    assert events.WAIT_MODES["U"] == (True, True, False)
    assert events.WAIT_MODES["r"] == (True, False, True)
    assert set(events.WAIT_MODES) == set("uUdDrR")


# ------------------------------------------------------------------ status


@pytest.mark.parametrize("pid,finishing,up", [(0, False, False), (12, False, True),
                                              (12, True, False)])
def test_is_up(pid, finishing, up):
    st = status.Status(pid=pid, finishing=finishing)
    assert st.is_up is up
    assert status.Status.unpack(st.pack()).is_up is up
    assert events.seed(st) == (up, st.ready)


# ------------------------------------------------------------------ control letters


def test_control_letters():
    assert control.SVC_LETTERS == "abqhkti12pcyroduDUxOQ"
    assert control.SUPERVISE_LETTERS == frozenset("abqhkti12pcyrPCKoduDUxOQ")
    assert control.SVSCAN_LETTERS == frozenset(control.SVSCANCTL_LETTERS) == frozenset("zabhitqnN")
    assert not set(control.SVSCANCTL_OLD_LETTERS) & control.SVSCAN_LETTERS

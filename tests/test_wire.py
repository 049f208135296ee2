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
    assert control.SUPERVISE_LETTERS == frozenset("abqhkti12pcyrlPCKoduDUxOQ")
    assert control.SVSCAN_LETTERS == frozenset(control.SVSCANCTL_LETTERS) == frozenset("zabhitqnN")
    assert not set(control.SVSCANCTL_OLD_LETTERS) & control.SVSCAN_LETTERS


# ------------------------------------------------------------------ death tally

from s6py.wire import deathtally, tai64n  # noqa: E402

EXITED_3 = 3 << 8          # wait status of exit(3)
KILLED_TERM = 15           # wait status of a death by SIGTERM


def _service(tmp_path):
    os.makedirs(tmp_path / "supervise")
    return str(tmp_path)


def test_append_writes_s6s_records_that_the_reader_reads_back(tmp_path):
    d = _service(tmp_path)
    deathtally.append(d, (tai64n.TAI_OFFSET + 10, 5), EXITED_3)
    deathtally.append(d, (tai64n.TAI_OFFSET + 11, 6), KILLED_TERM)
    data = (tmp_path / deathtally.FILENAME).read_bytes()
    assert data == (tai64n.pack((tai64n.TAI_OFFSET + 10, 5)) + b"\x03\x00"
                    + tai64n.pack((tai64n.TAI_OFFSET + 11, 6)) + bytes((128 + 15, 15)))
    assert deathtally.read_last(d, 10) == [((tai64n.TAI_OFFSET + 10, 5), 3, 0),
                                           ((tai64n.TAI_OFFSET + 11, 6), 143, 15)]
    assert not os.path.exists(str(tmp_path / deathtally.FILENAME) + ".new")


def test_append_keeps_the_last_limit_records(tmp_path):
    d = _service(tmp_path)
    for second in range(7):
        deathtally.append(d, (tai64n.TAI_OFFSET + second, 0), EXITED_3, limit=3)
    assert [r[0][0] - tai64n.TAI_OFFSET for r in deathtally.read_last(d, 100)] == [4, 5, 6]


def test_append_caps_the_limit_and_zero_records_nothing(tmp_path):
    d = _service(tmp_path)
    deathtally.append(d, tai64n.now(), EXITED_3, limit=0)
    assert not os.path.exists(tmp_path / deathtally.FILENAME)
    (tmp_path / deathtally.FILENAME).write_bytes(b"\0" * deathtally.RECORD_SIZE
                                                 * deathtally.MAX_MAX)
    deathtally.append(d, tai64n.now(), EXITED_3, limit=deathtally.MAX_MAX + 100)
    assert (os.path.getsize(tmp_path / deathtally.FILENAME)
            == deathtally.RECORD_SIZE * deathtally.MAX_MAX)


def test_append_drops_a_torn_record(tmp_path):
    d = _service(tmp_path)
    deathtally.append(d, (tai64n.TAI_OFFSET, 0), EXITED_3)
    with open(tmp_path / deathtally.FILENAME, "ab") as f:
        f.write(b"torn")
    deathtally.append(d, (tai64n.TAI_OFFSET + 1, 0), KILLED_TERM)
    assert [(code, sig) for _, code, sig in deathtally.read_last(d, 10)] == [(3, 0), (143, 15)]


def test_clear_empties_the_tally(tmp_path):
    d = _service(tmp_path)
    deathtally.append(d, tai64n.now(), EXITED_3)
    deathtally.clear(d)
    assert (tmp_path / deathtally.FILENAME).read_bytes() == b""
    assert deathtally.read_last(d, 10) == []


def test_clear_creates_nothing_and_the_first_death_creates_the_file(tmp_path):
    """On an overlay /run each file created costs ~0.5 ms: a service that never dies
    never gets a death_tally (s6-svdt reads a missing one as no deaths)."""
    d = _service(tmp_path)
    deathtally.clear(d)
    assert not os.path.exists(tmp_path / deathtally.FILENAME)
    assert deathtally.read_last(d, 10) == []
    deathtally.append(d, (tai64n.TAI_OFFSET, 0), EXITED_3)
    assert os.path.getsize(tmp_path / deathtally.FILENAME) == deathtally.RECORD_SIZE


def test_a_record_is_appended_in_place_unless_the_file_must_be_rewritten(tmp_path):
    """In place (same inode) while the file only grows within a page; a rename of a
    whole new file when it must be trimmed, or when a record would straddle a page."""
    d = _service(tmp_path)
    path = tmp_path / deathtally.FILENAME
    deathtally.append(d, (tai64n.TAI_OFFSET, 0), EXITED_3, limit=3)
    inode = os.stat(path).st_ino
    deathtally.append(d, (tai64n.TAI_OFFSET + 1, 0), EXITED_3, limit=3)
    deathtally.append(d, (tai64n.TAI_OFFSET + 2, 0), EXITED_3, limit=3)
    assert os.stat(path).st_ino == inode
    deathtally.append(d, (tai64n.TAI_OFFSET + 3, 0), EXITED_3, limit=3)  # trims: rewritten
    assert os.stat(path).st_ino != inode
    assert [r[0][0] - tai64n.TAI_OFFSET for r in deathtally.read_last(d, 10)] == [1, 2, 3]
    below_a_page = deathtally.PAGE // deathtally.RECORD_SIZE * deathtally.RECORD_SIZE
    path.write_bytes(b"\0" * below_a_page)      # the next record would cross into page 2
    inode = os.stat(path).st_ino
    deathtally.append(d, (tai64n.TAI_OFFSET + 4, 0), KILLED_TERM, limit=4096)
    assert os.stat(path).st_ino != inode
    assert os.path.getsize(path) == below_a_page + deathtally.RECORD_SIZE
    assert deathtally.read_last(d, 1)[0][1:] == (143, 15)


def test_append_says_which_step_failed(tmp_path):
    os.makedirs(tmp_path / deathtally.FILENAME)   # a directory where the file should be
    with pytest.raises(deathtally.TallyError) as info:
        deathtally.append(str(tmp_path), tai64n.now(), EXITED_3)
    assert info.value.action == "read"
    with pytest.raises(deathtally.TallyError) as info:
        deathtally.append(str(tmp_path / "nowhere"), tai64n.now(), EXITED_3)
    assert info.value.action == "write" and info.value.strerror == os.strerror(2)

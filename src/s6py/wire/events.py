"""The event bytes s6-supervise writes to a service's `event/` fifodir, and what they mean
to a waiter (s6-svwait, s6-svlisten1, s6-svlisten, `s6-svc -w?`).

The supervisor sends, in s6 2.11's order:

    s  STARTED     the supervision starts (`su` when ./run is spawned at once)
    u  UP          ./run was spawned
    U  READY       ./run wrote its readiness line on notification-fd
    d  DOWN        ./run died (./finish, if any, now runs)
    D  FINISHED    ./finish is done, or there was none (`dD`): down and "ready"
    O  FAILED      ./finish exited 125: permanent failure, the service stays down (`OD`)
    x  EXITING     the supervision of the service ends

A waiter keeps two bits per service, `up` and `ready`, seeded from `supervise/status`
(`seed()`) and then driven by the bytes (`apply()`): `u` up, `U` up and ready, `d` down,
`D` down and ready (finished).  `O` counts as reached, and as a failure, when waiting for
up; `x` counts as reached, and as a failure unless the service was already there.
"""

STARTED = b"s"
UP = b"u"
READY = b"U"
DOWN = b"d"
FINISHED = b"D"
FAILED = b"O"
EXITING = b"x"

#: the bytes a waiter acts on (`s` changes nothing it waits for)
WAITED = DOWN + UP + READY + FINISHED + FAILED + EXITING

#: a waiter's option letter (s6-svwait -u, s6-svlisten -U, s6-svc -wd ...) ->
#: (wantup, wantready, wantrestart); a restart is "down first, then the state"
WAIT_MODES = {
    "u": (True, False, False), "U": (True, True, False),
    "d": (False, False, False), "D": (False, True, False),
    "r": (True, False, True), "R": (True, True, True),
}

#: event byte -> the (up, ready) bits it sets
_BITS = {DOWN[0]: (False, False), FINISHED[0]: (False, True),
         UP[0]: (True, False), READY[0]: (True, True)}


def seed(st):
    """The (up, ready) bits of a waiter for status record ST, before any event."""
    return st.is_up, st.ready


def apply(byte, up, ready, wantup, wantready):
    """The waiter's bits after event BYTE (an int), for a wait on (WANTUP, WANTREADY).

    Returns (up, ready, failed); FAILED is True when BYTE reports that the service will
    not get there (permanent failure, or its supervisor leaving before it did)."""
    if byte == EXITING[0]:
        failed = up != bool(wantup) or ready != bool(wantready)
        return bool(wantup), bool(wantready), failed
    if byte == FAILED[0]:
        if wantup:
            return True, bool(wantready), True
        return up, ready, False
    up, ready = _BITS[byte]
    return up, ready, False


def reached(up, ready, wantup, wantready):
    """True when bits (UP, READY) are the state waited for (WANTUP, WANTREADY)."""
    return (up if wantup else not up) and (ready or not wantready)

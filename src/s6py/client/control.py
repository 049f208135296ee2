"""Sending control letters, with the exact diagnostics of s6-svc and s6-svscanctl."""

from s6py.client import ClientError
from s6py.diag import strerror
from s6py.wire import control


def send_letters(service, subdir, letters, bad_dir_suffix=""):
    """Write LETTERS to SERVICE/SUBDIR/control, or raise ClientError as s6 2.11 fails.

    Codes: 111 when SERVICE cannot be opened or the write fails, 100 when nothing
    listens or SUBDIR is broken.
    """
    try:
        if control.writectl(service, subdir, letters.encode("ascii")) == control.WRITTEN:
            return
    except control.BadControlDir as e:
        raise ClientError(100, "something is wrong with the %s/%s directory%s: %s"
                          % (service, subdir, bad_dir_suffix, strerror(e))) from None
    except OSError as e:
        raise ClientError(111, "unable to control %s: %s" % (service, strerror(e))) from None
    # skalibs 2.13 prints an empty first field here: "fatal: : unable to control ..."
    raise ClientError(100, ": unable to control %s: supervisor not listening" % service)

"""Sending control letters, with the exact diagnostics of s6-svc and s6-svscanctl."""

from s6py.diag import fatal, strerror
from s6py.wire import control


def send_letters(prog, service, subdir, letters, bad_dir_suffix=""):
    """Write LETTERS to SERVICE/SUBDIR/control or die as s6 2.11 does.

    Exit codes: 111 when SERVICE cannot be opened or the write fails, 100 when nothing
    listens or SUBDIR is broken.
    """
    try:
        if control.writectl(service, subdir, letters.encode("ascii")) == control.WRITTEN:
            return
    except control.BadControlDir as e:
        fatal(prog, 100, "something is wrong with the ", service, "/", subdir, " directory",
              bad_dir_suffix, ": ", strerror(e))
    except OSError as e:
        fatal(prog, 111, "unable to control ", service, ": ", strerror(e))
    # skalibs 2.13 prints an empty first field here: "fatal: : unable to control ..."
    fatal(prog, 100, ": unable to control ", service, ": supervisor not listening")

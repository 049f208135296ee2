"""Signal names and numbers as skalibs spells them (`SIGTERM`, accepting `TERM` and `15`)."""

import signal


def name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def number(text):
    """Parse a signal given by name (`TERM`, `SIGTERM`, any case) or number; ValueError if bad."""
    text = text.strip()
    if text.isdigit():
        num = int(text)
        if not 0 < num < signal.NSIG:  # os.kill would raise OverflowError or EINVAL
            raise ValueError("no such signal: %s" % text)
        return num
    upper = text.upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    sig = getattr(signal, upper, None)
    if not isinstance(sig, signal.Signals):
        raise ValueError("unknown signal: %s" % text)
    return int(sig)

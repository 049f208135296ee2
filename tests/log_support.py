"""What the logger tests under /init share: reading a logdir back, a logdir parent."""

import os
import re


def lines_of(logdir):
    """Every logged line body (a `T` stamp cut off), archives first, in order."""
    names = sorted(n for n in os.listdir(logdir) if n.startswith("@")) + ["current"]
    out = []
    for name in names:
        with open(os.path.join(logdir, name), "rb") as f:
            for line in f.read().decode().splitlines():
                out.append(line.split("  ", 1)[1] if re.match(r"\d{4}-\d\d-\d\d ", line) else line)
    return out


def logdir_parent(box):
    """BOX's var/log, writable by every user (sticky), for loggers that drop privileges."""
    parent = box.path("var/log")
    os.makedirs(parent, exist_ok=True)
    os.chmod(parent, 0o1777)
    return parent

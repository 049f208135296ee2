"""What an image written for s6-overlay 3 defines in /etc/s6-overlay: whether /init boots
it as an s6-rc image (stage2.Stage2.start; docs/s6-rc.md) or as a v1/v2 one.

The overlay's own tarballs ship `s6-rc.d/user` and `s6-rc.d/user2` (and
`user-bundles.d/user`, `user-bundles.d/user2`) as empty bundles: those alone define nothing.
"""

import os

__all__ = ["user_definitions"]

#: bundles the overlay itself ships, empty
OVERLAY_BUNDLES = ("user", "user2")


def _listing(path):
    try:
        return sorted(n for n in os.listdir(path) if not n.startswith("."))
    except OSError:
        return []


def _bundle_members(path):
    """Names a bundle directory lists (contents.d/ entries and lines of contents)."""
    members = _listing(os.path.join(path, "contents.d"))
    try:
        with open(os.path.join(path, "contents"), "rb") as f:
            members += [w.decode("utf-8", "replace") for w in f.read().split()
                        if not w.startswith(b"#")]
    except OSError:
        pass
    return members


def user_definitions(overlay_etc):
    """Sorted names the image defines under OVERLAY_ETC (/etc/s6-overlay): every
    s6-rc.d/NAME but the overlay's own empty bundles, and what those bundles (or
    user-bundles.d's) list.  [] for a v1/v2 image."""
    found = set()
    for top in ("s6-rc.d", "user-bundles.d"):
        base = os.path.join(overlay_etc, top)
        for name in _listing(base):
            path = os.path.join(base, name)
            if not os.path.isdir(path):
                continue
            if name in OVERLAY_BUNDLES or top == "user-bundles.d":
                found.update(_bundle_members(path))
            else:
                found.add(name)
    return sorted(found)

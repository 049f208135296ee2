"""Account lookups with the exact rules of s6-envuidgid (s6 2.11) and of fix-attrs.

`envuidgid()` is s6-envuidgid's logic without the exec: given the mode (account, user only,
group only, user:group), the numeric-fallback flag and optional defaults, it returns the
UID / GID / GIDLIST values to export, or raises UnknownAccount.

`fixattrs_owner()` is the account column of a fix-attrs.d line (`nobody,32768:32768`,
`daemon:unexisting,3:4`, `11111:daemon`, ...), resolved as s6-overlay resolves it.
"""

import grp
import pwd

__all__ = [
    "UnknownAccount",
    "supplementary_groups",
    "envuidgid",
    "parse_defaults",
    "parse_gidlist",
    "fixattrs_owner",
    "ACCOUNT",
    "USER",
    "GROUP",
    "BOTH",
]

# What s6-envuidgid exports: bit 1 UID, bit 2 GID, bit 4 GIDLIST.
USER, GROUP, BOTH, ACCOUNT = 1, 2, 3, 7


class UnknownAccount(LookupError):
    """`kind` is "user" or "group", `name` what was looked up (message: unknown user: NAME)."""

    def __init__(self, kind, name):
        super().__init__("unknown %s: %s" % (kind, name))
        self.kind = kind
        self.name = name


def _number(text):
    """A uid/gid written in decimal, or None (s6's uid_scan: digits only, no sign)."""
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def parse_gidlist(text):
    """Comma-separated gids, as skalibs' gid_scanlist: stops at the first non-number.

    Returns (gids, complete) where complete is False if garbage followed."""
    gids = []
    for part in text.split(","):
        n = _number(part)
        if n is None:
            return gids, False
        gids.append(n)
    return gids, True


def parse_defaults(text):
    """`uid[:gid[:gidlist]]` of s6-envuidgid -D; an empty part is 0.  ValueError if malformed."""
    if text == "":
        raise ValueError(text)
    parts = text.split(":", 2)
    values = []
    for part in parts[:2]:
        if part == "":
            values.append(0)
            continue
        n = _number(part)
        if n is None:
            raise ValueError(text)
        values.append(n)
    while len(values) < 2:
        values.append(0)
    gidlist = []
    if len(parts) == 3 and parts[2] != "":
        gidlist, complete = parse_gidlist(parts[2])
        if not gidlist:
            raise ValueError(text)
    return values[0], values[1], gidlist


def supplementary_groups(user):
    """Gids of the groups that list USER as a member (skalibs prot_readgroups)."""
    return [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]


def _entry_or_number(getbyname, kind, name, numeric, insist):
    """(the database entry GETBYNAME finds for NAME, or None; when there is none, the id
    NAME is as a number with NUMERIC, or None).  An unknown NAME raises UnknownAccount
    (KIND) with INSIST, unless taken as a number."""
    try:
        return getbyname(name), None
    except KeyError:
        number = _number(name) if numeric else None
        if number is None and insist:
            raise UnknownAccount(kind, name) from None
        return None, number


def envuidgid(account, what=ACCOUNT, numeric=False, defaults=None, insist=None):
    """s6-envuidgid's resolution.  Returns a dict among UID, GID, GIDLIST (str values).

    what: ACCOUNT (user name; its primary gid and supplementary groups), USER (-u), GROUP (-g),
    BOTH (-B, "user:group").  numeric: -n, unknown names that are numbers are taken as ids.
    defaults: (uid, gid, gidlist) of -D, used for what is unknown.  insist (default: no
    defaults given): an unknown name raises UnknownAccount.
    """
    uid, gid, gids = defaults if defaults is not None else (0, 0, [])
    if insist is None:
        insist = defaults is None
    user = group = None
    if what in (ACCOUNT, USER):
        user = account
    elif what == GROUP:
        group = account
    else:
        user, colon, group = account.partition(":")
        if not colon:
            group = None
        if user == "" and colon:
            user = None
        if group == "":
            group = None

    if group is not None:
        gr, number = _entry_or_number(grp.getgrnam, "group", group, numeric, insist)
        if gr is not None:
            gid = gr.gr_gid
        elif number is not None:
            gid = number

    if user is not None:
        pw, number = _entry_or_number(pwd.getpwnam, "user", user, numeric, insist)
        if pw is not None:
            uid = pw.pw_uid
            if what == ACCOUNT:
                gid = pw.pw_gid
                gids = supplementary_groups(account)
        elif number is not None:
            uid = number

    result = {}
    if what & 1:
        result["UID"] = str(uid)
    if what & 2:
        result["GID"] = str(gid)
    if what & 4:
        result["GIDLIST"] = ",".join(map(str, gids))
    return result


#: ids a fix-attrs line may give: 2^32-1 is (uid_t)-1, "leave unchanged" to chown(2)
MAX_ID = 2 ** 32 - 2


def _check_id(kind, text):
    """ValueError if TEXT is written as a number (sign allowed) outside 0..MAX_ID."""
    digits = text[1:] if text[:1] == "-" else text
    if digits and digits.isascii() and digits.isdigit():
        n = int(text)
        if not 0 <= n <= MAX_ID:
            raise ValueError("%s %s is out of range (0 to %d)" % (kind, text, MAX_ID))


def _known(lookup, name):
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def fixattrs_owner(spec):
    """(uid, gid) for the account column of a fix-attrs.d line.

    `name` is a user (its primary group); `a:b` is user:group where each part is a name or a
    number; `,uid:gid` after either gives the ids to use for the parts that are unknown.
    Without a fallback an unknown part raises UnknownAccount.  (s6-overlay runs
    `s6-envuidgid [-nB] [-D fallback | -i] account`.)  A number outside 0..MAX_ID, there or
    in the fallback (`4294967296:0`, `-1:0`, `x,0:99999999999`), raises ValueError."""
    account, comma, fallback = spec.partition(",")
    defaults = None
    if comma:
        parts = fallback.split(":", 2)
        for kind, part in zip(("fallback uid", "fallback gid"), parts):
            _check_id(kind, part)
        try:
            defaults = parse_defaults(fallback)
        except ValueError:
            raise ValueError("bad fallback %r (expected uid:gid)" % fallback) from None
    if ":" in account:
        user, _, group = account.partition(":")
        # a negative number is not a name unless the account database says so
        if user and not _known(pwd.getpwnam, user):
            _check_id("uid", user)
        if group and not _known(grp.getgrnam, group):
            _check_id("gid", group)
        ids = envuidgid(account, BOTH, numeric=True, defaults=defaults)
    else:
        ids = envuidgid(account, ACCOUNT, defaults=defaults)
    uid, gid = int(ids["UID"]), int(ids["GID"])
    _check_id("uid", str(uid))
    _check_id("gid", str(gid))
    return uid, gid

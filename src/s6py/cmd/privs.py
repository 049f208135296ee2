"""s6-envuidgid, s6-applyuidgid, s6-setuidgid: look an account up, drop privileges, exec.

s6-setuidgid is s6-envuidgid + s6-applyuidgid -Uz (or s6-applyuidgid -u -g -G "" for
uid:gid), done in one process; its messages carry the name of the step that failed, as
the real chain's do.
"""

import os

from s6py import original_environ
from s6py.cmd._exec import pathexec, subgetopt
from s6py.diag import fatal, strerror, usage

ENVUIDGID_USAGE = (
    "s6-envuidgid [ -i | -D defaultuid:defaultgid:defaultgidlist ] [ -u | -g | -B ] [ -n ] account prog..."
)
APPLY_USAGE = "s6-applyuidgid [ -z ] [ -u uid ] [ -g gid ] [ -G gidlist ] [ -U ] prog..."
SETUIDGID_USAGE = "s6-setuidgid username prog..."


def envuidgid(argv):
    prog = "s6-envuidgid"
    from s6py import accounts

    opts, args = subgetopt(prog, ENVUIDGID_USAGE, argv, "ugBniD:")
    what, numeric, defaults, insist = accounts.ACCOUNT, False, None, True
    for letter, arg in opts:
        if letter == "u":
            what = accounts.USER
        elif letter == "g":
            what = accounts.GROUP
        elif letter == "B":
            what = accounts.BOTH
        elif letter == "n":
            what &= 3  # kept from s6: -n alone means -nB
            numeric = True
        elif letter == "i":
            insist = True  # -D's values stay, as in s6, but unknown names fail again
        elif letter == "D":
            try:
                defaults = accounts.parse_defaults(arg)
            except ValueError:
                usage(prog, ENVUIDGID_USAGE)
            insist = False
    if len(args) < 2:
        usage(prog, ENVUIDGID_USAGE)
    values = account_values(args[0], what, numeric, defaults, insist)
    env = original_environ()
    for k, v in values.items():
        env[k.encode()] = v.encode()
    pathexec(prog, args[1:], env)


def account_values(account, what=None, numeric=False, defaults=None, insist=True):
    """s6-envuidgid's lookup: {"UID": ..., "GID": ..., "GIDLIST": ...} (str values) for
    ACCOUNT; its fatal lines (exit 1 for an unknown account) otherwise."""
    from s6py import accounts

    try:
        return accounts.envuidgid(account, accounts.ACCOUNT if what is None else what,
                                  numeric, defaults, insist)
    except accounts.UnknownAccount as e:
        fatal("s6-envuidgid", 1, str(e))
    except OSError as e:
        fatal("s6-envuidgid", 111, "unable to get supplementary groups for ", account, ": ",
              strerror(e))


def _ids(text):
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def apply_ids(prog, uid, gid, gids):
    """s6-applyuidgid's core: groups (GID first, then GIDS) if GIDS is not None, then gid, uid.

    A process that is not root may still "become" exactly what it already is: the group
    list step, which only root may do, is skipped when nothing would change."""
    if gids is not None:
        primary = gid if gid else os.getegid()
        want = [primary] + [g for g in gids if g != primary]
        try:
            os.setgroups(want)
        except OSError as e:
            same_ids = (not uid or uid == os.geteuid()) and (not gid or gid == os.getegid())
            if not (same_ids and os.geteuid() != 0 and set(want) <= set(os.getgroups()) | {os.getegid()}):
                fatal(prog, 111, "unable to set supplementary group list: ", strerror(e))
    if gid:
        try:
            os.setgid(gid)
        except OSError as e:
            fatal(prog, 111, "unable to setgid: ", strerror(e))
    if uid:
        try:
            os.setuid(uid)
        except OSError as e:
            fatal(prog, 111, "unable to setuid: ", strerror(e))


def ids_from_environ(prog):
    """s6-applyuidgid -U: (uid, gid, gids) from $UID, $GID and $GIDLIST, or its fatal line."""
    from s6py.accounts import parse_gidlist

    values = []
    for name in ("UID", "GID"):
        x = os.environ.get(name)
        if x is None:
            fatal(prog, 100, name, " not set")
        n = _ids(x)
        if n is None:
            fatal(prog, 100, "invalid $", name)
        values.append(n)
    x = os.environ.get("GIDLIST")
    if x is None:
        fatal(prog, 100, "GIDLIST not set")
    gids, _ = parse_gidlist(x)
    if not gids and x:
        fatal(prog, 100, "invalid $GIDLIST")
    return values[0], values[1], gids


def applyuidgid(argv):
    prog = "s6-applyuidgid"
    from s6py.accounts import parse_gidlist

    opts, args = subgetopt(prog, APPLY_USAGE, argv, "zUu:g:G:")
    uid = gid = 0
    gids = None
    unexport = False
    for letter, arg in opts:
        if letter == "z":
            unexport = True
        elif letter in "ug":
            n = _ids(arg)
            if n is None:
                usage(prog, APPLY_USAGE)
            if letter == "u":
                uid = n
            else:
                gid = n
        elif letter == "G":
            gids, _ = parse_gidlist(arg)
            if not gids and arg:
                usage(prog, APPLY_USAGE)
        elif letter == "U":
            uid, gid, gids = ids_from_environ(prog)
    if not args:
        usage(prog, APPLY_USAGE)
    apply_ids(prog, uid, gid, gids)
    env = None
    if unexport:
        env = original_environ()
        for k in (b"UID", b"GID", b"GIDLIST"):
            env.pop(k, None)
    pathexec(prog, args, env)


def setuidgid(argv):
    if len(argv) < 3:
        usage("s6-setuidgid", SETUIDGID_USAGE)
    account, args = argv[1], argv[2:]
    if account == "":
        pathexec("s6-setuidgid", args)
    become(account)
    pathexec("s6-applyuidgid", args)


def become(account):
    """s6-setuidgid ACCOUNT's work before its exec: become ACCOUNT (a name, or uid:gid);
    a failure prints the failing step's line and raises Exit, as s6-setuidgid does."""
    user, colon, group = account.partition(":")
    if colon:
        uid, gid = _ids(user), _ids(group)
        if uid is None or gid is None:
            usage("s6-applyuidgid", APPLY_USAGE)
        apply_ids("s6-applyuidgid", uid, gid, [])
        return
    from s6py import accounts

    try:
        values = accounts.envuidgid(account)
    except accounts.UnknownAccount as e:
        fatal("s6-envuidgid", 1, str(e))
    except OSError as e:
        fatal("s6-envuidgid", 111, "unable to get supplementary groups for ", account, ": ", strerror(e))
    gids, _ = accounts.parse_gidlist(values["GIDLIST"])
    apply_ids("s6-applyuidgid", int(values["UID"]), int(values["GID"]), gids)

"""The in-process chain-loader shared by execlineb and every execline command.

In real execline each command is a binary that execs into the rest of its argv.  Here a
command is a Python function  f(argv) -> int | list : an int is an exit code, a list is
the argv to chain into next.  chain() keeps calling our functions in this process while
argv[0] names one of our commands, and execve()s the first program that is not ours, so a
script of ten execline commands costs one interpreter start.  Children (the block of
`foreground`, `if`, ...) are forked, and run the same loop in the child.
"""

import os
import sys

from s6py import diag
from s6py.diag import Exit, write_all  # Exit: leaves the current chain with an exit code
from s6py import carry_pwd, is_launcher, lc_ctype_coerced, restore_python_ignored_signals, scan_options
# command name -> "module:function" (module relative to s6py.execline): the launcher's own
# table, so what the launcher reaches and what a chain runs in-process are one list
from s6py.cli import EXECLINE_FUNCTIONS as COMMANDS

PROG = "execlineb"  # the running command's name, set by each command for its messages
BLOCK_COUNT = [0]


def write(fd, s):
    """Write S (str or bytes) on FD completely; raises OSError (a command's output)."""
    write_all(fd, os.fsencode(s) if isinstance(s, str) else s)


def warn(msg):
    diag.warn(PROG, msg)


def die(code, msg):
    diag.fatal(PROG, code, msg)


def diesys(code, msg, err):
    die(code, "unable to %s: %s" % (msg, os.strerror(err.errno or 0)))


def dieusage(usage):
    diag.usage(PROG, usage)


def getopt(argv, optstring, usage):
    """skalibs subgetopt (s6py.scan_options): return ([(letter, arg)], index of the first
    non-option); a bad option is dieusage(USAGE)."""
    return scan_options(argv, optstring, lambda: dieusage(usage))


def operands(argv, optstring, usage, nmin):
    """getopt, then the words after the options: (options, operands), at least NMIN
    operands or dieusage(USAGE)."""
    opts, i = getopt(argv, optstring, usage)
    args = argv[i:]
    if len(args) < nmin:
        dieusage(usage)
    return opts, args


def settings(opts, table, **defaults):
    """The values the options OPTS (getopt's list) give to the settings named in DEFAULTS,
    as a tuple in DEFAULTS' order.  TABLE maps each letter to the {setting: value} it
    sets, in turn, the last option winning; a callable value is called with the option's
    argument for the value (it may dieusage)."""
    values = dict(defaults)
    for letter, arg in opts:
        for name, value in table[letter].items():
            values[name] = value(arg) if callable(value) else value
    return tuple(values.values())


def argument(arg):
    """In a settings() table: the option's argument itself."""
    return arg


def uint_or_usage(usage):
    """In a settings() table: the option's argument as uint0 reads it, or dieusage(USAGE)."""
    def convert(arg):
        v = uint0(arg)
        if v is None:
            dieusage(usage)
        return v
    return convert


#: settings() tables of the options several commands share
CHOMP_OPTIONS = {"N": {"chomp": False}, "n": {"chomp": True}}
CRUNCH_OPTIONS = {"C": {"crunch": True}, "c": {"crunch": False}}
IMPORT_OPTIONS = {"E": {"doimport": True}, "e": {"doimport": False}}


def uint0(s):
    """uint0_scan: the whole string must be a decimal number; else None."""
    if s and s.isdigit() and s.isascii():
        return int(s)
    return None


def uint_prefix(s):
    """uint_scan: value of the leading decimal digits, or None if there are none."""
    j = 0
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    return int(s[:j]) if j else None


def strict():
    x = os.environ.get("EXECLINE_STRICT")
    if x is None:
        return 0
    v = uint_prefix(x)
    return v if v is not None else 0


def complain(level, msg):
    """An EXECLINE_STRICT complaint (LEVEL not 0): a warning at 1, fatal from 2."""
    if level >= 2:
        die(100, msg)
    warn(msg)


def block(argv, start):
    """el_semicolon: read a block starting at argv[start].

    Return (words, end) where argv[end] is the terminating empty word, or
    (words, None) when the block is unterminated.
    """
    BLOCK_COUNT[0] += 1
    level = None
    words = []
    for i in range(start, len(argv)):
        a = argv[i]
        if not a:
            return words, i
        if a[0] == " ":
            words.append(a[1:])
        else:
            if level is None:
                level = strict()
            if level:
                complain(level, "unquoted argument %s at block %d position %d"
                         % (a, BLOCK_COUNT[0], i - start))
            words.append(a)
    return words, None


def whole_block(argv, start, what="block"):
    """block(ARGV, START), dying "unterminated WHAT" when it is."""
    words, end = block(argv, start)
    if end is None:
        die(100, "unterminated " + what)
    return words, end


def variable(name):
    """NAME, if it can name an environment variable; else the execline error."""
    if not name or "=" in name:
        die(100, "invalid variable name")
    return name


# --- process management -------------------------------------------------------------

def lookup(name):
    """The function implementing our command NAME (or a path to our launcher), or None."""
    if "/" in name:
        base = name.rsplit("/", 1)[1]
        if base not in COMMANDS or not is_launcher(name):
            return None
        name = base
    target = COMMANDS.get(name)
    if target is None:
        return None
    module_name, _, fname = target.partition(":")
    mod = __import__("s6py.execline." + module_name, fromlist=[fname])
    return getattr(mod, fname)


def _candidates(file):
    if "/" in file:
        return [file]
    path = os.environ.get("PATH")
    if path is None:
        path = "/usr/bin:/bin"
    return [os.path.join(d, file) if d else file for d in path.split(":")]


def try_exec(argv, argv0=None):
    """execve ARGV[0] along PATH; return the errno of the failure."""
    saved = 0
    args = list(argv)
    if argv0 is not None:
        args[0] = argv0
    if not argv[0]:
        return 2
    for p in _candidates(argv[0]):
        try:
            # (carry_pwd: our command, but no execline one, whose sh part would reset PWD)
            os.execve(p, args, carry_pwd(os.environb, p))
        except OSError as e:
            if e.errno != 2:
                saved = e.errno
    return saved or 2


def exec_external(argv, argv0=None):
    err = try_exec(argv, argv0)
    die(127 if err == 2 else 126, "unable to exec %s: %s" % (argv[0], os.strerror(err)))


def run_child(argv):
    """In a forked child: run ARGV through the chain and never return."""
    code = 111
    try:
        reset_signals()
        code = chain(argv)
    except Exit as e:
        code = e.code
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        try:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(111)
    os._exit(code & 0xFF)


def spawn(argv, setup=None):
    """Fork a child running ARGV (our command in-process, or an exec).

    SETUP, if given, runs in the child first (fd plumbing).  Return the pid, or raise
    OSError with the errno of the failed exec (like posix_spawn would report it).
    """
    ours = lookup(argv[0]) if argv else None
    if ours is None:
        r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if setup is not None:
                setup()
            if ours is not None:
                run_child(argv)
            os.close(r)
            reset_signals()
            err = try_exec(argv)
            os.write(w, err.to_bytes(4, "little"))
        except BaseException:
            pass
        os._exit(127)
    if ours is None:
        os.close(w)
        data = b""
        while True:
            try:
                chunk = os.read(r, 4)
            except InterruptedError:
                continue
            if not chunk:
                break
            data += chunk
        os.close(r)
        if data:
            os.waitpid(pid, 0)
            err = int.from_bytes(data[:4], "little")
            raise OSError(err, os.strerror(err))
    return pid


def waitpid(pid):
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def wait_status(ws):
    """skalibs wait_status: exit code, or 256 + signal."""
    if os.WIFSIGNALED(ws):
        return 256 + os.WTERMSIG(ws)
    return os.WEXITSTATUS(ws)


def wait_estatus(ws):
    """skalibs wait_estatus: exit code, or 128 + signal."""
    if os.WIFSIGNALED(ws):
        return 128 + os.WTERMSIG(ws)
    return os.WEXITSTATUS(ws)


_signals_touched = set()


def handle_signal(signum, handler):
    """Install HANDLER for SIGNUM, remembered so that reset_signals() can undo it before
    an exec.  Raises OSError or ValueError as signal.signal does."""
    import _signal as signal
    signal.signal(signum, handler)
    _signals_touched.add(signum)


def reset_signals():
    import _signal as signal
    for s in _signals_touched:
        signal.signal(s, signal.SIG_DFL)
    _signals_touched.clear()
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def init_process():
    """Undo what the Python runtime did to the process state at start-up, so exec'd
    programs inherit what they would from a C execline.

    * SIGPIPE and SIGXFSZ: Python sets them to SIG_IGN unconditionally; they go back to
      SIG_DFL (an ignored SIGPIPE/SIGXFSZ on entry cannot be told apart, see docs).
    * SIGINT: Python installs its handler only when SIGINT was SIG_DFL; an ignored SIGINT
      (a shell's background job) is left ignored.
    * LC_CTYPE: PEP 538 locale coercion puts LC_CTYPE=C.UTF-8 in the environment of an
      interpreter started in the C locale; it is dropped unless exec really gave it to us.
    """
    import _signal as signal
    restore_python_ignored_signals()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if "LC_ALL" not in os.environ and lc_ctype_coerced():  # any LC_ALL, even empty, keeps it
        del os.environ["LC_CTYPE"]


# --- environment frames (el_pushenv / el_popenv) ---------------------------------------

POSITIONALS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "#")


def _frame_split(name, prefixes):
    for p in prefixes:
        if name.startswith(p):
            rest = name[len(p):]
            colon = rest.find(":")
            if colon < 0:
                return name, None
            return name, (len(p) + colon, rest[colon + 1:])
    return None


def _digits(s):
    j = 0
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    return j


def _reframed(env, prefixes, rename):
    """ENV with each name starting with one of PREFIXES replaced by RENAME(name, frame),
    frame being None for NAME itself or (index of the colon, the text after it) for
    NAME:...; RENAME returns None for a variable to drop."""
    new = {}
    for k, v in env.items():
        sp = _frame_split(k, prefixes)
        name = k if sp is None else rename(k, sp[1])
        if name is not None:
            new[name] = v
    return new


def _pushed(name, frame):
    if frame is None:
        return name + ":1"
    colon, num = frame
    if _digits(num) != len(num):
        return name
    return name[:colon] + ":" + str((int(num) if num else 0) + 1)


def _popped(name, frame):
    if frame is None:
        return None
    colon, num = frame
    n = int(num) if num and _digits(num) == len(num) else 0
    if not n:
        return name
    return name[:colon] + (":" + str(n - 1) if n > 1 else "")


def pushenv(env, prefixes):
    """Rename NAME -> NAME:1, NAME:n -> NAME:n+1 for names starting with PREFIXES."""
    return _reframed(env, prefixes, _pushed)


def popenv(env, prefixes):
    """Drop NAME, rename NAME:1 -> NAME, NAME:n -> NAME:n-1 for names with PREFIXES."""
    return _reframed(env, prefixes, _popped)


def replace_environ(new):
    env = os.environ
    for k in list(env):
        if k not in new:
            del env[k]
    for k, v in new.items():
        if env.get(k) != v:
            env[k] = v


# --- the chain ------------------------------------------------------------------------

def chain(argv):
    """Run ARGV: interpret our commands in-process, exec the first foreign program.

    Returns an exit code when a command exits; raises Exit on fatal errors."""
    while True:
        if not argv:
            return 0
        f = lookup(argv[0])
        if f is None:
            exec_external(argv)
        r = f(argv)
        if isinstance(r, int):
            return r
        argv = r


def main(argv):
    """Entry point for every execline command reached by name (see cli.EXECLINE)."""
    init_process()
    try:
        return chain([os.path.basename(argv[0])] + list(argv[1:]))
    except Exit as e:
        return e.code

"""s6-rc-db [ -u | -d ] [ -l live ] [ -c compiled ] [ -b ] [ -E | -e ] command...

The queries of s6-rc 0.7's s6-rc-db on a database s6py's s6-rc-compile wrote, with the
same output, order and exit codes (3: unknown name, 4: bad database, 5: wrong kind of
service for the query, 100: usage, 111: system error).  s6-rc-db prints sets in reverse
database order and lists in database order; the Graph numbers services the same way.
"""

from s6py.cmd.rccompile import gol
from s6py.diag import Exit, fatal, strerror, usage, write_all

PROG = "s6-rc-db"
USAGE = ("s6-rc-db [ -u | -d ] [ -l live ] [ -c compiled ] [ -b ] [ -E | -e ] command..."
         " (use s6-rc-db help for more information)")
LIVEDIR = "/run/s6-rc"

HELP = """s6-rc-db help
s6-rc-db check
s6-rc-db list all|services|oneshots|longruns|bundles
s6-rc-db type servicename
s6-rc-db [ -u | -d ] timeout atomicname
s6-rc-db contents bundlename
s6-rc-db [ -u | -d ] dependencies servicename...
s6-rc-db pipeline longrunname
s6-rc-db [ -u | -d ] script oneshotname
s6-rc-db flags atomicname
s6-rc-db atomics servicename...
s6-rc-db [ -u | -d ] all-dependencies servicename...
"""

COMMANDS = ("all-dependencies", "atomics", "check", "contents", "dependencies", "flags",
            "help", "list", "pipeline", "script", "timeout", "type")
LONG_OPTIONS = {"up": "u", "down": "d", "block": "b", "with-essentials": "E",
                "without-essentials": "e", "livedir": "l", "compiled": "c"}
SUBCOMMANDS = ("all", "bundles", "longruns", "oneshots", "services")


class Query:
    """One s6-rc-db invocation: the graph, the options, the printing."""

    def __init__(self, graph, compiled, down, hide_essentials):
        self.graph = graph
        self.compiled = compiled
        self.down = down
        self.hide = hide_essentials
        self.out = []

    def emit(self, name):
        self.out.append(name + "\n")

    def shown(self, name):
        return not (self.hide and self.graph.essential(name))

    def check_known(self, name):
        if name not in self.graph:
            fatal(PROG, 3, name, " is not a valid identifier in ", self.compiled)

    def wrong(self, name, what):
        fatal(PROG, 5, "in database ", self.compiled, ": identifier ", name, " represents ",
              what)

    def atomic(self, name, what_if_bundle="a bundle"):
        self.check_known(name)
        if self.graph.kind(name) == "bundle":
            self.wrong(name, what_if_bundle)

    def list(self, sub):
        g = self.graph
        services = g.services
        if sub in ("all", "bundles"):
            names = [] if sub == "bundles" else list(reversed(services))
            names += reversed(g.bundle_order)
            self.out += [n + "\n" for n in names]  # (no -e filter there, as s6-rc-db)
            return
        if sub == "oneshots":
            services = services[g.nlong:]
        elif sub == "longruns":
            services = services[:g.nlong]
        for name in services:
            if self.shown(name):
                self.emit(name)

    def type(self, name):
        self.check_known(name)
        self.emit(self.graph.kind(name))

    def timeout(self, name):
        self.atomic(name)
        d = self.graph.definition(name)
        self.emit(str(d.timeout_down_ms if self.down else d.timeout_up_ms))

    def flags(self, name):
        self.atomic(name)
        self.emit("%08x" % self.graph.flags_of(name))

    def contents(self, name):
        self.check_known(name)
        if self.graph.kind(name) != "bundle":
            self.wrong(name, "an atomic service")
        for atom in self.graph.bundle_contents(name):
            if self.shown(atom):
                self.emit(atom)

    def script(self, name):
        self.atomic(name)
        if self.graph.kind(name) == "longrun":
            self.wrong(name, "a longrun service")
        d = self.graph.definition(name)
        self.out += [w + "\0" for w in (d.down_argv if self.down else d.up_argv)]

    def pipeline(self, name):
        self.check_known(name)
        if self.graph.kind(name) != "longrun":
            raise Exit(5)
        while self.graph.consumer_of(name) is not None:
            name = self.graph.consumer_of(name)
        self.producer_pairs(name)

    def producer_pairs(self, name):
        for prod in self.graph.producers_of(name):
            self.producer_pairs(prod)
            self.emit(prod + "/" + name)

    def union(self, names, deps, closure):
        g = self.graph
        for name in names:
            self.check_known(name)
        atoms = g.expand(names)
        if deps:
            edges = g.rdeps if self.down else g.deps
            atoms = set().union(*(edges[a] for a in atoms))
        if closure:
            atoms = g.closure_down(atoms) if self.down else g.closure_up(atoms)
        for name in reversed(g.in_db_order(atoms)):
            if self.shown(name):
                self.emit(name)

    def run(self, command, args):
        if command == "list":
            self.list(args[0])
        elif command == "dependencies":
            self.union(args, True, False)
        elif command == "atomics":
            self.union(args, False, False)
        elif command == "all-dependencies":
            self.union(args, False, True)
        elif command != "check":
            getattr(self, command)(args[0])


def load(compiled):
    from s6py.rc import compiled as db
    from s6py.rc.graph import CompileError
    import os

    if not os.path.exists(compiled + "/lock"):
        fatal(PROG, 111, "unable to take lock on ", compiled, ": ",
              strerror(FileNotFoundError(2, "")))
    try:
        return db.load(compiled)
    except db.FormatError as e:
        fatal(PROG, 4, "invalid service database in ", compiled, ": ", str(e))
    except CompileError as e:
        fatal(PROG, 4, "invalid service database in ", compiled, ": ", e.reasons[0])
    except OSError as e:
        fatal(PROG, 111, "unable to read ", getattr(e, "filename", None) or compiled, ": ",
              strerror(e))


def main(argv):
    opts, args = gol(PROG, USAGE, argv, "udbEel:c:", LONG_OPTIONS)
    down, hide, live, compiled = False, False, LIVEDIR, None
    for letter, arg in opts:
        if letter in "ud":
            down = letter == "d"
        elif letter in "Ee":
            hide = letter == "e"
        elif letter == "l":
            live = arg
        elif letter == "c":
            compiled = arg
    if not args:
        usage(PROG, USAGE)
    command = args[0]
    if command not in COMMANDS:
        fatal(PROG, 100, "unknown command: ", command)
    if command == "help":
        write_all(1, HELP.encode())
        return 0
    if command != "check" and len(args) < 2:
        usage(PROG, USAGE)
    if command == "list" and args[1] not in SUBCOMMANDS:
        fatal(PROG, 100, "unknown subcommand: ", args[1])
    if compiled is None:
        compiled = live + "/compiled"
    query = Query(load(compiled), compiled, down, hide)
    query.run(command, args[1:])
    try:
        write_all(1, "".join(query.out).encode("utf-8", "surrogateescape"))
    except OSError as e:
        fatal(PROG, 111, "unable to write to stdout: ", strerror(e))
    return 0

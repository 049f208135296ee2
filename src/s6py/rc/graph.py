"""The service graph of an s6-rc database: names resolved, bundles flattened, pipelines
tied, and everything s6-rc-compile 0.7 rejects found (all of it, not only the first).

    graph = compile_sources(["/etc/s6-overlay/s6-rc.d", ...])   # or Graph(definitions)

Graph(definitions) raises CompileError (see source.py) whose .problems are the lines
s6-rc-compile prints, the first being the one it would stop at.

Services are numbered as s6-rc-compile numbers them, because s6-rc-db prints in that
order: the longruns first (s6rc-oneshot-runner, s6rc-fdholder, then the sources' longruns
in the order read), then the oneshots.  The two s6rc-* longruns are part of the graph,
as in s6-rc: every oneshot depends on s6rc-oneshot-runner, every pipelined longrun on
s6rc-fdholder; Definition.internal tells them apart.  A producer depends on its consumer
(the consumer is started first, as s6-rc does).
"""

from s6py.rc.source import (CompileError, Definition, ESSENTIAL, INTERNALS, read_sources,
                            reserved, say)

__all__ = ["CompileError", "Graph", "compile_sources", "ONESHOT_RUNNER", "FDHOLDER"]

ONESHOT_RUNNER = "s6rc-oneshot-runner"
FDHOLDER = "s6rc-fdholder"


def compile_sources(srcdirs, reporter=None):
    """The Graph of the source directories SRCDIRS merged in order; CompileError with
    every problem, of the files and of the graph, if they do not compile."""
    definitions, problems = read_sources(srcdirs, reporter)
    return Graph(definitions, problems, reporter)


def internal_longrun(name):
    d = Definition(name, "longrun", None)
    d.internal = True
    d.flags = ESSENTIAL
    return d


def typestr(kind):
    return kind or "unknown"


def cycle_text(path):
    return " (cycle: %s)" % " -> ".join(path)


class Graph:
    """The validated graph.  Names are str; "atomic" means oneshot or longrun."""

    def __init__(self, definitions, problems=(), reporter=None):
        self.problems = list(problems)
        self.reporter = reporter
        self.defs = {}
        self.unknown_ok = set()   # names whose definition is broken beyond its type
        longruns = [internal_longrun(ONESHOT_RUNNER), internal_longrun(FDHOLDER)]
        oneshots, bundles = [], []
        for d in definitions:
            if d.kind is None:
                self.unknown_ok.add(d.name)
                continue
            self.defs[d.name] = d
            {"longrun": longruns, "oneshot": oneshots, "bundle": bundles}[d.kind].append(d)
        for d in longruns[:2]:
            self.defs[d.name] = d
        self.services = tuple(d.name for d in longruns + oneshots)  # s6-rc's numbering
        self.position = {name: i for i, name in enumerate(self.services)}
        self.nlong = len(longruns)
        self.bundle_order = [d.name for d in bundles]
        self.members = {d.name: list(d.contents) for d in bundles}
        self.listed_producers = {d.name: producer_list(d) for d in longruns}
        say(reporter, 2, "making bundles for pipelines")
        self.make_pipeline_bundles(longruns)
        say(reporter, 2, "resolving bundle names")
        self.resolve_bundles()
        self.consumer, self.producers, self.deps = {}, {}, {}
        say(reporter, 2, "resolving service names")
        self.resolve_services(longruns, oneshots)
        say(reporter, 3, "checking database correctness")
        self.check_cycles()
        if not self.prodcons_failed:
            self.check_pipelines()
        self.flags = self.effective_flags()
        self.late_warnings = []
        for d in longruns:
            self.problems.extend(d.late_problems)
            self.late_warnings.extend(d.late_warnings)
        self.rdeps = {name: set() for name in self.services}
        for name, deps in self.deps.items():
            for dep in deps:
                self.rdeps[dep].add(name)
        self.topo = None
        if self.problems:
            raise CompileError(unique(self.problems))

    # ------------------------------------------------------------ building

    def problem(self, text, code=1):
        self.problems.append((code, text))

    def type_of(self, name):
        d = self.defs.get(name)
        return None if d is None else d.kind

    def known_bad(self, name):
        """NAME's own definition already has a problem: do not report it undefined."""
        return name in self.unknown_ok

    def make_pipeline_bundles(self, longruns):
        """A bundle per last consumer with a pipeline-name: every longrun of its funnel."""
        for d in reversed(longruns):
            if d.pipeline_name is None:
                continue
            pname = d.pipeline_name
            if pname in self.defs:
                self.problem("duplicate service definition: %s defined in %s is already"
                             " defined and has type %s" % (pname, INTERNALS,
                                                           self.defs[pname].kind))
                continue
            if reserved(pname):
                continue  # already reported where the file was read
            bundle = Definition(pname, "bundle", None)
            bundle.internal = True
            self.defs[pname] = bundle
            members = []
            self.pipeline_members(pname, d.name, members)
            bundle.contents = tuple(members)
            self.bundle_order.append(pname)
            self.members[pname] = members

    def pipeline_members(self, pname, name, members):
        if len(members) >= self.nlong:
            self.problem("pipeline %s is too long: possible loop involving %s" % (pname, name))
            return False
        members.append(name)
        for prod in self.listed_producers.get(name, ()):
            kind = self.type_of(prod)
            if kind == "longrun":
                if not self.pipeline_members(pname, prod, members):
                    return False
            elif not self.known_bad(prod):
                self.problem("longrun %s declares a producer %s of type %s"
                             % (name, prod, typestr(kind)))
        return True

    def resolve_bundles(self):
        """self.contents: bundle -> frozenset of atomics, bundles of bundles flattened."""
        self.contents = {}
        for source in self.bundle_order:
            self.resolve_bundle(source, source, [])

    def resolve_bundle(self, source, name, path):
        if name in self.contents:
            return self.contents[name]
        if name in path:
            self.problem("cyclic bundle definition: resolution of %s encountered a cycle"
                         " involving %s%s" % (source, name,
                                              cycle_text(path[path.index(name):] + [name])))
            return frozenset()
        path.append(name)
        atoms = set()
        for member in self.members[name]:
            kind = self.type_of(member)
            if kind == "bundle":
                atoms |= self.resolve_bundle(source, member, path)
            elif kind is not None:
                atoms.add(member)
            elif not self.known_bad(member):
                self.problem("during resolution of bundle %s: undefined service name %s"
                             % (name, member))
        path.pop()
        self.contents[name] = frozenset(atoms)
        return self.contents[name]

    def resolve_services(self, longruns, oneshots):
        self.prodcons_failed = False
        for d in longruns:
            self.resolve_prodcons(d)
            self.resolve_deps(d, listed_dependencies(d))
        for d in oneshots:
            self.resolve_deps(d, d.dependencies + (ONESHOT_RUNNER,))

    def resolve_deps(self, d, listed):
        deps = set()
        for dep in listed:
            kind = self.type_of(dep)
            if kind == "bundle":
                deps |= self.contents.get(dep, frozenset())
            elif kind is not None:
                deps.add(dep)
            elif not self.known_bad(dep):
                self.problem("during dependency resolution for service %s: undefined service"
                             " name %s" % (d.name, dep))
        self.deps[d.name] = deps

    def resolve_prodcons(self, d):
        """Both ends of every pipe must name each other (s6-rc-compile's words kept,
        including their odd ones)."""
        name = d.name
        self.producers[name] = []
        self.consumer[name] = None
        failed = False
        cons = d.producer_for
        if cons is not None:
            kind = self.type_of(cons)
            if kind != "longrun":
                failed = True
                if not self.known_bad(cons):
                    self.problem("longrun service %s declares being a producer for a service"
                                 " named %s of type %s" % (name, cons, typestr(kind)))
            elif not self.declared_back(name, cons):
                failed = True
            else:
                self.consumer[name] = cons
        for prod in self.listed_producers[name]:
            kind = self.type_of(prod)
            if kind != "longrun":
                failed = True
                if not self.known_bad(prod):
                    self.problem("longrun service %s declares being the consumer for a service"
                                 " named %s of type %s" % (name, prod, typestr(kind)))
                continue
            # (no producer-for: s6-rc-compile compares with its first name, the runner)
            its_consumer = self.defs[prod].producer_for or ONESHOT_RUNNER
            ckind = self.type_of(its_consumer)
            if ckind != "longrun":
                failed = True
                self.problem("longrun service %s declares a producer %s of type %s"
                             % (prod, its_consumer, typestr(ckind)))
            elif its_consumer != name:
                failed = True
                self.problem("longrun service %s declares being the consumer for a service"
                             " named %s that does not declare it back" % (name, prod))
            else:
                self.producers[name].append(prod)
        self.prodcons_failed |= failed

    def declared_back(self, name, cons):
        for prod in self.listed_producers[cons]:
            kind = self.type_of(prod)
            if kind != "longrun":
                self.problem("longrun service %s declares a consumer %s of type %s"
                             % (cons, prod, typestr(kind)))
                return False
            if prod == name:
                return True
        self.problem("longrun service %s declares being a producer for a service named %s"
                     " that does not declare it back" % (name, cons))
        return False

    def check_cycles(self):
        """s6rc_db_check_depcycles' walk (from the last service down, dependencies from
        the highest number down), so the first cycle reported is the one s6-rc-compile
        reports; it goes on past it, one report per new set of services."""
        pos = self.position
        ordered = {n: sorted(self.deps.get(n, ()), key=pos.get) for n in self.services}
        black, gray, reported = set(), set(), set()
        for root in reversed(self.services):
            if root in black:
                continue
            path = [root]
            gray.add(root)
            stack = [(root, iter(reversed(ordered[root])))]
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    path.pop()
                    gray.discard(node)
                    black.add(node)
                elif child in gray:
                    cycle = path[path.index(child):] + [child]
                    if not set(cycle) <= reported:
                        reported.update(cycle)
                        self.problem("cyclic service dependency reached from %s and involving"
                                     " %s%s" % (root, child, cycle_text(cycle)))
                elif child not in black:
                    gray.add(child)
                    path.append(child)
                    stack.append((child, iter(reversed(ordered[child]))))

    def check_pipelines(self):
        """s6rc_db_check_pipelines: every funnel walked from its last consumer."""
        longruns = self.services[:self.nlong]
        mark = dict.fromkeys(longruns, 0)

        def walk(n):
            if mark[n] & 3:
                return n
            mark[n] |= 1
            for p in self.producers[n]:
                if self.consumer[p] != n:
                    mark[p] |= 4
                    return p
                found = walk(p)
                if found is not None:
                    return found
            mark[n] |= 2
            return None

        for i in reversed(longruns):
            if self.consumer[i] is None and self.producers[i]:
                j = walk(i)
                if j is not None:
                    what = "collision" if mark[j] & 6 else "cyclic"
                    self.pipeline_problem(what, i, j)
                    return
        for i in reversed(longruns):
            if not mark[i] and self.producers[i]:
                self.pipeline_problem("cyclic", self.consumer[i], i)
                return

    def pipeline_problem(self, what, left, right):
        if what == "cyclic":
            text = "cyclic longrun pipeline"
        else:
            text = "longrun pipeline collision"
        self.problem("%s reached from %s and involving %s" % (text, left, right))

    def effective_flags(self):
        """A bundle's flags (flag-essential) go to every service it contains."""
        flags = {n: self.defs[n].flags for n in self.services}
        for b in self.bundle_order:
            for atom in self.contents.get(b, ()):
                flags[atom] |= self.defs[b].flags
        return flags

    # ------------------------------------------------------------ queries

    def __contains__(self, name):
        return name in self.defs

    def kind(self, name):
        """"oneshot", "longrun", "bundle", or None if NAME is no service."""
        d = self.defs.get(name)
        return None if d is None else d.kind

    def definition(self, name):
        return self.defs[name]

    def is_internal(self, name):
        return self.defs[name].internal

    def index(self, name):
        """NAME's number in s6-rc's database (atomics only)."""
        return self.position[name]

    def atomics(self):
        return sorted(self.services)

    def bundles(self):
        return sorted(self.bundle_order)

    def bundle_contents(self, name):
        """The atomics of bundle NAME, in database order."""
        return self.in_db_order(self.contents[name])

    def in_db_order(self, names):
        return tuple(sorted(names, key=self.position.get))

    def expand(self, names):
        """The set of atomics NAMES stand for (bundles flattened).  KeyError: an unknown
        name."""
        out = set()
        for name in names:
            kind = self.defs[name].kind
            if kind == "bundle":
                out |= self.contents[name]
            else:
                out.add(name)
        return out

    def requires(self, name):
        """The direct dependencies of NAME as atomics (of every atomic of a bundle)."""
        out = set()
        for atom in self.expand([name]):
            out |= self.deps[atom]
        return tuple(sorted(out))

    def dependents(self, name):
        """The atomics that depend directly on NAME (on any atomic of a bundle)."""
        out = set()
        for atom in self.expand([name]):
            out |= self.rdeps[atom]
        return tuple(sorted(out))

    def flags_of(self, name):
        """s6-rc-db's flags: the atomic's own, or'ed with those of every bundle holding it."""
        return self.flags[name]

    def essential(self, name):
        return bool(self.flags[name] & ESSENTIAL)

    def closure(self, names, edges):
        todo = list(self.expand(names))
        seen = set(todo)
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def closure_up(self, names):
        """The atomics that must be up for NAMES to be up: them and their dependencies,
        transitively."""
        return self.closure(names, self.deps)

    def closure_down(self, names):
        """The atomics that must be down for NAMES to be down: them and what depends on
        them, transitively."""
        return self.closure(names, self.rdeps)

    def consumer_of(self, name):
        """The longrun NAME's stdout goes to, or None."""
        return self.consumer.get(name)

    def producers_of(self, name):
        """The longruns whose stdout goes to NAME's stdin (s6-rc-compile's order)."""
        return tuple(self.producers.get(name, ()))

    def pipelines(self):
        """Every pipeline (funnel) as a tuple of longruns, producers before their consumer,
        the last consumer last; in database order of the last consumers."""
        out = []
        for name in self.services[:self.nlong]:
            if self.consumer[name] is None and self.producers[name]:
                members = []
                self.producers_first(name, members)
                out.append(tuple(members))
        return out

    def producers_first(self, name, members):
        for prod in self.producers[name]:
            self.producers_first(prod, members)
        members.append(name)

    def order(self, names):
        """The atomics of NAMES, each after everything it depends on (transitively,
        through services not in NAMES too); ties in name order.  Reverse it to stop."""
        if self.topo is None:
            self.topo = self.topological()
        wanted = self.expand(names)
        return [n for n in self.topo if n in wanted]

    def topological(self):
        import heapq

        waiting = {n: len(self.deps[n]) for n in self.services}
        ready = [n for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        out = []
        while ready:
            name = heapq.heappop(ready)
            out.append(name)
            for dependent in self.rdeps[name]:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, dependent)
        return out


def producer_list(d):
    """The producers of D in s6-rc-compile's order: a last consumer's first producer
    ends up last (its slot holds the s6rc-fdholder dependency there)."""
    prods = list(d.consumer_for)
    if prods and d.producer_for is None:
        prods = prods[1:] + prods[:1]
    return prods


def listed_dependencies(d):
    """A longrun's dependencies as s6-rc-compile lists them: its own, then its consumer
    and s6rc-fdholder for a producer, s6rc-fdholder for a last consumer."""
    deps = d.dependencies
    if d.internal:
        return deps
    if d.producer_for is not None:
        return deps + (d.producer_for, FDHOLDER)
    if d.consumer_for:
        return deps + (FDHOLDER,)
    return deps


def unique(problems):
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out

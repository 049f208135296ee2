"""s6-rc's build-time half: source parsing, the graph, s6-rc-compile and s6-rc-db.

The differential tests run s6-rc 0.7.0.0's own s6-rc-compile and s6-rc-db (static
binaries of the s6-overlay 3.2.3.2 tarball, extracted once into a cache outside the
checkout) on the same sources as ours and compare exit codes, stdout and stderr.
"""

import hashlib
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from s6py.rc import compiled as rcdb  # noqa: E402
from s6py.rc.graph import CompileError, Graph, compile_sources  # noqa: E402
from s6py.rc.source import read_sources  # noqa: E402

SOURCES = os.path.join(REPO, "tests", "rc_sources")
TARBALL = "/work/shared/oracles/s6-overlay-v3.2.3.2-x86_64.tar.xz"
RC_COMMANDS = "package/admin/s6-rc-0.7.0.0/command"


# ------------------------------------------------------------------ helpers

def make_tree(base, spec):
    """SPEC: {"svc/file": text, "svc/dir.d/": None (an empty directory)}."""
    for path, content in spec.items():
        full = os.path.join(str(base), path)
        if path.endswith("/"):
            os.makedirs(full, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
    return str(base)


def oneshot(name, up="true", deps=()):
    spec = {name + "/type": "oneshot\n", name + "/up": up + "\n"}
    for d in deps:
        spec[name + "/dependencies.d/" + d] = ""
    return spec


def longrun(name, deps=(), **files):
    spec = {name + "/type": "longrun\n", name + "/run": "#!/bin/sh\nexec true\n"}
    for d in deps:
        spec[name + "/dependencies.d/" + d] = ""
    for fname, text in files.items():
        spec[name + "/" + fname.replace("_", "-")] = text
    return spec


def bundle(name, *members):
    spec = {name + "/type": "bundle\n"}
    for m in members:
        spec[name + "/contents.d/" + m] = ""
    return spec


def merged(*specs):
    out = {}
    for s in specs:
        out.update(s)
    return out


def graph_of(tmp_path, *specs):
    return compile_sources([make_tree(tmp_path / "src", merged(*specs))])


def ours(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    return subprocess.run([sys.executable, "-m", "s6py"] + list(args), env=env,
                          capture_output=True)


@pytest.fixture(scope="session")
def oracle():
    """The directory of s6-rc 0.7's commands."""
    if not os.path.exists(TARBALL):
        pytest.skip("no s6-overlay oracle tarball at " + TARBALL)
    with open(TARBALL, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(os.path.expanduser("~/.cache/s6py"), "oracle-v3-" + digest)
    commands = os.path.join(cache, RC_COMMANDS)
    if not os.path.exists(os.path.join(commands, "s6-rc-db")):
        tmp = cache + ".tmp%d" % os.getpid()
        os.makedirs(tmp)
        subprocess.run(["tar", "xJf", TARBALL, "-C", tmp, "./" + RC_COMMANDS], check=True)
        try:
            os.rename(tmp, cache)
        except OSError:  # another run got there first
            subprocess.run(["rm", "-rf", tmp])
    return commands


def theirs(oracle, command, *args):
    return subprocess.run([os.path.join(oracle, command)] + list(args), capture_output=True)


# ------------------------------------------------------------------ parsing

def test_a_definition_holds_what_its_files_say(tmp_path):
    src = make_tree(tmp_path, merged(
        oneshot("a", up='foreground { echo "hello world" }\n/bin/x y'),
        {"a/down": "/bin/down-script\n", "a/timeout-up": "1500\n\n", "a/timeout-down": "7",
         "a/flag-essential": "", "a/dependencies": "  b\n#c\n\nb\nd \n"},
        oneshot("b"), oneshot("d "),
        longrun("l", producer_for="m\n"), longrun("m", consumer_for="l\n", pipeline_name="p\n"),
        bundle("u", "a", "l")))
    defs, problems = read_sources([src])
    assert problems == []
    by = {d.name: d for d in defs}
    a = by["a"]
    assert a.kind == "oneshot" and a.path == src + "/a"
    assert a.up_argv == ("foreground", " echo", " hello world", "", "/bin/x", "y")
    assert a.up_text.startswith("foreground {")
    assert a.down_argv == ("/bin/down-script",) and a.reload_argv == () and a.reload_text is None
    assert (a.timeout_up_ms, a.timeout_down_ms, a.essential) == (1500, 7, True)
    assert a.dependencies == ("b", "d ")      # leading blanks dropped, trailing kept, once
    assert by["l"].producer_for == "m" and by["m"].consumer_for == ("l",)
    assert by["m"].pipeline_name == "p"
    assert sorted(by["u"].contents) == ["a", "l"]
    assert [d.name for d in defs] == ["a", "b", "d ", "l", "m", "u"]


@pytest.mark.parametrize("text, kind", [
    ("oneshot\n", "oneshot"), ("longrun", "longrun"), ("bundle\n", "bundle"),
    ("oneshot\ngarbage", "oneshot"),         # s6-rc-compile reads 8 bytes only
    ("bundle \n", None), ("bundle\n\n", None), ("Oneshot\n", None), ("", None)])
def test_type_is_read_as_s6_rc_compile_reads_it(tmp_path, text, kind):
    src = make_tree(tmp_path, {"x/type": text, "x/up": "true\n", "x/run": "",
                               "x/contents.d/": None})
    defs, problems = read_sources([src])
    assert defs[0].kind == kind
    assert bool(problems) == (kind is None)


# ------------------------------------------------------------------ the graph

def test_a_chain_comes_up_in_order_and_goes_down_backwards(tmp_path):
    g = graph_of(tmp_path, oneshot("a"), oneshot("b", deps=["a"]), longrun("c", deps=["b"]))
    assert g.order(["a", "b", "c"]) == ["a", "b", "c"]
    assert g.requires("c") == ("b",)
    assert g.requires("a") == ("s6rc-oneshot-runner",)
    assert g.closure_up(["c"]) == {"a", "b", "c", "s6rc-oneshot-runner"}
    assert g.closure_down(["a"]) == {"a", "b", "c"}
    assert g.kind("c") == "longrun" and g.kind("nope") is None
    assert g.is_internal("s6rc-oneshot-runner") and not g.is_internal("a")


def test_a_diamond_puts_the_top_last_and_the_bottom_first(tmp_path):
    g = graph_of(tmp_path, oneshot("bottom"), oneshot("left", deps=["bottom"]),
                 oneshot("right", deps=["bottom"]), oneshot("top", deps=["left", "right"]))
    order = g.order(["top", "left", "right", "bottom"])
    assert order[0] == "bottom" and order[-1] == "top"
    assert g.closure_down(["bottom"]) == {"bottom", "left", "right", "top"}
    assert g.dependents("bottom") == ("left", "right")


def test_bundles_of_bundles_expand_to_atomics(tmp_path):
    g = graph_of(tmp_path, oneshot("a"), oneshot("b"), longrun("c", deps=["inner"]),
                 bundle("inner", "a", "b"), bundle("outer", "inner", "c"),
                 bundle("top", "outer"), {"top/flag-essential": ""})
    assert g.expand(["top"]) == {"a", "b", "c"}
    assert g.requires("c") == ("a", "b")       # a bundle dependency, expanded
    assert g.bundles() == ["inner", "outer", "top"]
    assert all(g.essential(n) for n in ("a", "b", "c", "s6rc-fdholder"))  # top is essential
    assert "s6rc-oneshot-runner" in g.atomics() and "top" not in g.atomics()
    with pytest.raises(KeyError):
        g.expand(["missing"])


def test_a_pipeline_of_three_and_its_bundle(tmp_path):
    g = graph_of(tmp_path, longrun("prod", producer_for="mid\n"),
                 longrun("mid", producer_for="last\n", consumer_for="prod\n"),
                 longrun("last", consumer_for="mid\n", pipeline_name="whole\n"))
    assert g.pipelines() == [("prod", "mid", "last")]
    assert g.expand(["whole"]) == {"prod", "mid", "last"}
    assert g.consumer_of("prod") == "mid" and g.producers_of("last") == ("mid",)
    # a producer needs its consumer (and the pipe holder) up first
    assert g.order(["whole"]) == ["last", "mid", "prod"]
    assert g.requires("prod") == ("mid", "s6rc-fdholder")


def test_sources_merge_in_order_and_images_compile(tmp_path):
    dirs = [os.path.join(SOURCES, "lsio", "s6-rc.d"), os.path.join(SOURCES, "lsio",
            "user-bundles.d"), os.path.join(SOURCES, "system")]
    g = compile_sources(dirs)
    up = g.order(["top"])
    assert up.index("init-services") < up.index("svc-app")
    assert up.index("init-migrations") > up.index("legacy-cont-init")
    assert up[-1] == "legacy-services"
    assert g.definition("init-adduser").up_argv == (
        "/etc/s6-overlay/s6-rc.d/init-adduser/run",)


# ------------------------------------------------------------------ validation

CASES = {
    "unknown dependency": merged(oneshot("a", deps=["ghost"])),
    "unknown in contents": merged(bundle("b", "ghost")),
    "dependency cycle": merged(oneshot("a", deps=["c"]), oneshot("b", deps=["a"]),
                               oneshot("c", deps=["b"])),
    "self dependency": merged(longrun("a", deps=["a"])),
    "bundle cycle": merged(bundle("x", "y"), bundle("y", "x")),
    "bad type": {"a/type": "daemon\n"},
    "missing type": {"a/up": "true\n"},
    "missing up": {"a/type": "oneshot\n"},
    "missing run": {"a/type": "longrun\n"},
    "run is a directory": {"a/type": "longrun\n", "a/run/": None},
    "bundle without contents": {"a/type": "bundle\n"},
    "reserved name": merged(oneshot("s6rc-mine")),
    "reserved dependency": merged(oneshot("a", deps=["s6-rc-x"])),
    "syntax error in up": merged(oneshot("a", up="foreground { true")),
    "unmatched close": merged(oneshot("a", up="true }")),
    "bad timeout": merged(oneshot("a"), {"a/timeout-up": "10s\n"}),
    "producer for nobody": merged(longrun("a", producer_for="b\n"), longrun("b")),
    "consumer of nobody": merged(longrun("a"), longrun("b", consumer_for="a\n")),
    "producer for a oneshot": merged(longrun("a", producer_for="b\n"), oneshot("b")),
    "two consumers": merged(longrun("a", producer_for="b\nc\n"),
                            longrun("b", consumer_for="a\n")),
    "pipeline cycle": merged(longrun("a", producer_for="b\n", consumer_for="b\n"),
                             longrun("b", producer_for="a\n", consumer_for="a\n")),
    "pipeline name taken": merged(longrun("a", producer_for="b\n"),
                                  longrun("b", consumer_for="a\n", pipeline_name="a\n")),
    "same fd twice": merged(longrun("a", notification_fd="4\n", lock_fd="4\n")),
    "bad notification-fd": merged(longrun("a", notification_fd="three\n")),
    "data is a file": merged(longrun("a", data="x\n")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_is_reported_as_s6_rc_compile_reports_it(oracle, tmp_path, case):
    src = make_tree(tmp_path / "src", CASES[case])
    real = theirs(oracle, "s6-rc-compile", str(tmp_path / "real"), src)
    mine = ours("s6-rc-compile", str(tmp_path / "mine"), src)
    assert real.returncode != 0
    assert mine.returncode == real.returncode
    first = [line for line in mine.stderr.decode().splitlines() if ": fatal: " in line][0]
    expected = real.stderr.decode().splitlines()[-1]
    # ours adds the services of a dependency cycle after the same words
    assert first == expected or first.startswith(expected + " (cycle: ")
    assert not os.path.exists(tmp_path / "mine")


def test_every_problem_is_collected_not_only_the_first(tmp_path):
    src = make_tree(tmp_path / "src", merged(
        oneshot("a", deps=["ghost"]), {"b/type": "what\n"}, oneshot("c", deps=["d"]),
        oneshot("d", deps=["c"]), bundle("e", "phantom")))
    with pytest.raises(CompileError) as info:
        compile_sources([src])
    reasons = info.value.reasons
    assert reasons[0] == "invalid %s/b/type: must be oneshot, longrun, or bundle" % src
    assert "during resolution of bundle e: undefined service name phantom" in reasons
    assert "during dependency resolution for service a: undefined service name ghost" \
        in reasons
    assert any(r.startswith("cyclic service dependency")
               and ("c -> d -> c" in r or "d -> c -> d" in r) for r in reasons)
    assert info.value.code == 1
    assert all(p.startswith("s6-rc-compile: fatal: ") for p in info.value.problems)


def test_a_name_in_two_sources_is_a_duplicate(oracle, tmp_path):
    one = make_tree(tmp_path / "one", oneshot("a"))
    two = make_tree(tmp_path / "two", bundle("a", "a"))
    real = theirs(oracle, "s6-rc-compile", str(tmp_path / "real"), one, two)
    mine = ours("s6-rc-compile", str(tmp_path / "mine"), one, two)
    assert (mine.returncode, mine.stderr) == (real.returncode, real.stderr)


def test_an_existing_compiled_is_not_overwritten(oracle, tmp_path):
    src = make_tree(tmp_path / "src", oneshot("a"))
    os.mkdir(tmp_path / "out")
    real = theirs(oracle, "s6-rc-compile", str(tmp_path / "out"), src)
    mine = ours("s6-rc-compile", str(tmp_path / "out"), src)
    assert (mine.returncode, mine.stderr) == (real.returncode, real.stderr) \
        == (111, b"s6-rc-compile: fatal: unable to mkdir %s: File exists\n"
            % str(tmp_path / "out").encode())


@pytest.mark.parametrize("args", [[], ["only-one"], ["-v", "x", "a", "b"], ["-z", "a", "b"],
                                  ["-v"], ["--frob", "a", "b"], ["--verbosity=x", "a", "b"]])
def test_usage_errors(oracle, args):
    real = theirs(oracle, "s6-rc-compile", *args)
    mine = ours("s6-rc-compile", *args)
    assert (mine.returncode, mine.stderr) == (real.returncode, real.stderr)


def test_warnings_are_the_same(oracle, tmp_path):
    src = make_tree(tmp_path / "src", merged(
        longrun("a", notification_fd="1\n", pipeline_name="p\n"), oneshot("b")))
    empty = make_tree(tmp_path / "empty", {".hidden/type": "oneshot\n"})
    real = theirs(oracle, "s6-rc-compile", str(tmp_path / "real"), src, empty)
    mine = ours("s6-rc-compile", str(tmp_path / "mine"), src, empty)
    assert (mine.returncode, mine.stderr) == (real.returncode, real.stderr) == (0, (
        "s6-rc-compile: warning: %s/a contains a pipeline-name file despite not being a last"
        " consumer; this file will be ignored\n"
        "s6-rc-compile: warning: source %s is empty\n"
        "s6-rc-compile: warning: longrun a has a notification-fd of 1\n"
        % (src, empty)).encode())


# ------------------------------------------------------------------ s6-rc-db

IMAGES = {
    "lsio": ["lsio/s6-rc.d", "lsio/user-bundles.d", "system"],
    "hassio": ["hassio/s6-rc.d", "hassio/user-bundles.d", "system"],
}

QUERIES = [
    ["list", "all"], ["list", "services"], ["list", "oneshots"], ["list", "longruns"],
    ["list", "bundles"], ["-e", "list", "services"], ["type", "top"], ["type", "user2"],
    ["type", "init-config"], ["type", "svc-app"], ["type", "nginx-log"], ["contents", "top"],
    ["contents", "user"], ["-e", "contents", "user"], ["contents", "user2"],
    ["dependencies", "legacy-services"], ["-d", "dependencies", "init-services"],
    ["dependencies", "user"], ["dependencies", "nginx"], ["-d", "dependencies", "base"],
    ["all-dependencies", "top"], ["all-dependencies", "svc-app", "db"],
    ["-d", "all-dependencies", "fix-attrs"], ["atomics", "top", "user2"],
    ["timeout", "init-app-config"], ["-d", "timeout", "nginx"], ["timeout", "user"],
    ["flags", "nginx"], ["flags", "s6rc-oneshot-runner"], ["flags", "db"], ["flags", "top"],
    ["script", "init-db"], ["-d", "script", "legacy-cont-init"], ["script", "fix-attrs"],
    ["script", "svc-app"], ["script", "top"], ["pipeline", "nginx"],
    ["pipeline", "nginx-log"], ["pipeline", "db"], ["pipeline", "top"],
    ["pipeline", "init-db"], ["contents", "init-db"], ["type", "nobody"],
    ["dependencies", "nobody"], ["check"], ["help"], ["frobnicate"], ["list", "frob"],
    ["list"], [], ["-x", "list", "all"], ["-c"], ["--down", "dependencies", "base"],
]


@pytest.fixture(scope="module")
def databases(oracle, tmp_path_factory):
    base = tmp_path_factory.mktemp("rcdb")
    out = {}
    for image, dirs in IMAGES.items():
        dirs = [os.path.join(SOURCES, d) for d in dirs]
        real, mine = str(base / (image + "-real")), str(base / (image + "-mine"))
        assert theirs(oracle, "s6-rc-compile", real, *dirs).returncode == 0
        done = ours("s6-rc-compile", mine, *dirs)
        assert (done.returncode, done.stderr) == (0, b"")
        out[image] = (real, mine)
    return out


@pytest.mark.parametrize("image", sorted(IMAGES))
@pytest.mark.parametrize("query", QUERIES, ids=" ".join)
def test_s6_rc_db_answers_as_the_real_one(oracle, databases, image, query):
    real_db, mine_db = databases[image]
    real = theirs(oracle, "s6-rc-db", "-c", real_db, *query)
    mine = ours("s6-rc-db", "-c", mine_db, *query)
    assert mine.returncode == real.returncode
    assert mine.stdout == real.stdout
    assert mine.stderr == real.stderr.replace(real_db.encode(), mine_db.encode())


def test_s6_rc_db_without_a_database(oracle, tmp_path):
    missing = str(tmp_path / "none")
    real = theirs(oracle, "s6-rc-db", "-c", missing, "list", "all")
    mine = ours("s6-rc-db", "-c", missing, "list", "all")
    assert (mine.returncode, mine.stderr) == (real.returncode, real.stderr)


def test_the_compiled_database_loads_back_into_the_same_graph(tmp_path):
    dirs = [os.path.join(SOURCES, d) for d in IMAGES["hassio"]]
    defs, problems = read_sources(dirs)
    graph = Graph(defs, problems)
    rcdb.write(graph, str(tmp_path / "db"), defs)
    again = rcdb.load(str(tmp_path / "db"))
    assert again.services == graph.services
    assert again.bundles() == graph.bundles()
    for name in graph.services:
        assert again.requires(name) == graph.requires(name)
        assert again.definition(name).up_argv == graph.definition(name).up_argv
    assert again.pipelines() == graph.pipelines() == [("nginx", "nginx-log")]
    servicedir = str(tmp_path / "db" / "servicedirs" / "nginx")
    assert sorted(os.listdir(servicedir)) == ["run"]
    assert os.stat(servicedir + "/run").st_mode & 0o777 == 0o755
    assert again.definition("nginx").path == servicedir


def test_flag_recommended_is_kept_and_shown_as_the_real_one_shows_it(oracle, tmp_path):
    """flag-recommended (s6-rc 0.7) only marks the service: s6-rc-db's flags show it as
    bit 1, a bundle's goes to everything it contains, as flag-essential's does."""
    src = make_tree(tmp_path / "src", {
        "rec/type": "longrun\n", "rec/run": "#!/bin/sh\n", "rec/flag-recommended": "",
        "both/type": "oneshot\n", "both/up": "true\n", "both/flag-recommended": "x",
        "both/flag-essential": "",
        "inner/type": "oneshot\n", "inner/up": "true\n",
        "grp/type": "bundle\n", "grp/contents": "inner\n", "grp/flag-recommended": "",
        "plain/type": "oneshot\n", "plain/up": "true\n"})
    real_db, mine_db = str(tmp_path / "real"), str(tmp_path / "mine")
    assert theirs(oracle, "s6-rc-compile", real_db, src).returncode == 0
    assert ours("s6-rc-compile", mine_db, src).returncode == 0
    shown = []
    for name in ("rec", "both", "inner", "grp", "plain"):
        real = theirs(oracle, "s6-rc-db", "-c", real_db, "flags", name)
        mine = ours("s6-rc-db", "-c", mine_db, "flags", name)
        assert (mine.returncode, mine.stdout, mine.stderr) == (
            real.returncode, real.stdout, real.stderr.replace(real_db.encode(), mine_db.encode())), name
        shown.append(real.stdout.strip())
    assert shown[0] != shown[-1], shown  # the flag is seen at all

"""Run every fixture of tests/corpus under s6py, the real s6-overlay v2 and v3, print a table.

    python3 tests/corpus_compare.py [FIXTURE ...] [--flavours s6py,v2,v3] [--errors]

Each cell: boots / services up / app answers / container exit code after `podman stop -t 10`
and that stop's wall time.  v3 runs these v2-style images through its legacy compatibility
(/etc/cont-init.d, /etc/services.d, /etc/cont-finish.d).  --errors adds, under the table, the
first error-looking log lines of every run that did not pass.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus_support  # noqa: E402


def yes(flag):
    return "yes" if flag else "**no**"


def cell(r):
    if r is None:
        return "skipped"
    if r.error:
        return "error: " + r.error.splitlines()[0][:60]
    up = "%d/%d" % (sum(r.services.values()), len(r.services))
    stop = "%s in %.1f s" % (r.stop_exit, r.stop_time) if r.stop_time is not None else "-"
    return "%s / %s / %s / %s" % (yes(r.booted), up, yes(r.probe_ok), stop)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixtures", nargs="*")
    ap.add_argument("--flavours", default=",".join(corpus_support.FLAVOURS))
    ap.add_argument("--errors", action="store_true")
    args = ap.parse_args()
    flavours = args.flavours.split(",")
    names = args.fixtures or corpus_support.fixtures()
    why = corpus_support.flavours_available()
    results = {}
    for name in names:
        for f in flavours:
            results[name, f] = None if why[f] else corpus_support.run_fixture(f, name)
            r = results[name, f]
            print("%-20s %-5s %s" % (name, f, r.summary() if r else "skipped: " + why[f]),
                  file=sys.stderr, flush=True)
    print("| fixture (pattern) | " + " | ".join(flavours) + " |")
    print("|---|" + "---|" * len(flavours))
    for name in names:
        image = corpus_support.load(name)["models"].split(" @ ")[0]
        print("| %s (%s) | %s |" % (name, image, " | ".join(cell(results[name, f]) for f in flavours)))
    print()
    print("Cells: boots / services up / app answers / exit code after `podman stop -t 10` in wall time.")
    for f in flavours:
        if why[f]:
            print("%s skipped: %s" % (f, why[f]))
    if args.errors:
        for (name, f), r in sorted(results.items()):
            if r is not None and not r.ok(max_stop=5.0 if f == "s6py" else 9.0):
                print("\n%s under %s:" % (name, f))
                lines = r.first_errors(4)
                if not lines and not r.probe_ok and r.probe_output:
                    lines = ["probe answered: " + r.probe_output.strip().splitlines()[-1]]
                for line in lines or [r.error or "(no error line in the log)"]:
                    print("    " + line)


if __name__ == "__main__":
    main()

"""Second half of tests/probe.sh: print what the final program of an execline script
inherited, in a form two runs can be compared by.

argv[1]: "SigBlk:HEX SigIgn:HEX " as the shell read them before changing anything;
argv[2]: the initial environment, NUL -> newline, newline -> \\1 (see probe.sh).
The fd table is read here: /usr/bin/python3 -IS opens nothing that outlives start-up,
and the descriptor os.listdir uses is closed (its readlink fails) when we look at it.
Pipe and socket inode numbers are renumbered in order of appearance; O_LARGEFILE (which
the kernel adds to every open of a 64-bit process) is masked out.
"""
import os
import sys

out = []
for item in sys.argv[1].split():
    k, v = item.split(":")
    out.append("sig %s %s" % (k, v))
env = sys.argv[2].split("\n") if sys.argv[2] else []
for e in sorted(x.replace("\1", "\n") for x in env):
    out.append("env %r" % e)
names = {}
for fd in sorted(int(x) for x in os.listdir("/proc/self/fd")):
    try:
        target = os.readlink("/proc/self/fd/%d" % fd)
        with open("/proc/self/fdinfo/%d" % fd) as f:
            info = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    except OSError:
        continue
    if target.endswith("]") and ":[" in target:
        kind = target.split(":", 1)[0]
        target = names.setdefault(target, "%s:%d" % (kind, len(names)))
    flags = int(info["flags"].strip(), 8) & ~0o100000
    line = "fd %d %s flags=%o" % (fd, target, flags)
    if target.startswith("/"):
        line += " pos=%s" % info["pos"].strip()
    out.append(line)
sys.stdout.write("\n".join(out) + "\n")

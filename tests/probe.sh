#!/bin/sh
# The state exec gave this process, read before anything can change it:
# umask, signal mask and ignored signals from the shell's own /proc entry (builtins, no fork:
# a forked child would get dash's reset mask), the environment from /proc/$$/environ
# (what exec passed; the shell would add PWD and drop names like "#" or "1" if asked to
# re-export it), then the fd table from the Python program it execs into (the shell
# holds no descriptor that survives exec: its script fd is close-on-exec).
sig=
while read -r k v; do
  case $k in SigBlk:|SigIgn:|Umask:) sig="$sig$k$v " ;; esac
done < /proc/$$/status
exec /usr/bin/python3 -IS "${0%.sh}.py" "$sig" "$(/usr/bin/tr '\0\n' '\n\1' < /proc/$$/environ)"

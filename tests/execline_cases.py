"""Shared table of differential execline cases: (id, execlineb options, script, args, stdin)."""

C = []


def case(id_, script, args=(), opts=("-P",), stdin=b""):
    C.append((id_, list(opts), script, list(args), stdin))


# --- lexer -----------------------------------------------------------------------------
case("lex-words", 'echo a b   c\techo\n d')
case("lex-quotes", 'echo "a b" "" "x\\"y"')
case("lex-escapes", r'echo "\a\b\t\n\v\f\r" | od -c', opts=("-P",))
case("lex-escapes-od", r'pipeline { echo "\a\b\t\n\v\f\r\0x41\0101\101" } od -c')
case("lex-backslash-newline", 'echo "a\\\nb" c\\\nd')
case("lex-unquoted-backslash", r'echo a\ b \"q\" \\ \{ \}')
case("lex-comment", 'echo a # comment\necho2 # nothing\n')
case("lex-comment-only", '# only a comment\n')
case("lex-empty", '')
case("lex-hash-in-word", 'echo a#b "#c"')
case("lex-trailing-backslash", 'echo a \\')
case("lex-quoted-braces", 'echo "{" "}" x{y}')
case("lex-blocks", 'foreground { echo 1 } foreground { foreground { echo 2 } echo 3 } echo 4')
case("lex-block-argv", 'foreground { true } printf "[%s]" { a { b "" } }')
case("lex-unmatched-open", 'foreground { echo a')
case("lex-unmatched-close", 'echo a }')
case("lex-unterminated-quote", 'echo "abc')
case("lex-brace-eof", 'echo {')
case("lex-bad-octal", r'echo "\0z"')
case("lex-bad-hex", r'echo "\0xg"')
case("lex-decimal-big", r'pipeline { echo "\255\256" } od -An -c')
case("lex-cr", 'echo a\rb')

# --- positional parameters ------------------------------------------------------------
for mode in (("-S3",), ("-s1",), ("-S0",), ("-s0",), ("-W", "-S3"), ("-q", "-S3"), ("-w", "-S3")):
    case("pos%s" % "".join(mode), 'echo $# [$0] [$1] [$2] [$3] [$@] ${1}x', args=["a", "b c"],
         opts=mode)
case("pos-S-many", 'echo $@ $10 ${10} $11', args=[str(i) for i in range(1, 12)], opts=("-S2",))
case("pos-push", 'importas -D unset N # importas -D u a 1 echo $N $a', args=["x", "y"], opts=())
case("pos-p", 'importas -D unset N # echo $N', args=["x"], opts=("-p",))
case("pos-elgetpositionals", 'elgetpositionals echo $# $1 $@', args=["a", "b"], opts=())
case("pos-elgetpositionals-P", 'elgetpositionals -P3 echo $# $1 [$3] $@', args=["a"], opts=())
case("pos-shift", 'shift elgetpositionals echo $# $@', args=["a", "b", "c"], opts=())
case("pos-shift-n", 'shift -n 2 elgetpositionals echo $# $@', args=["a", "b", "c"], opts=())
case("pos-shift-too-many", 'shift -n 5 elgetpositionals echo $# $@', args=["a"], opts=())
case("pos-dollarat", 'dollarat', args=["a", "b c"], opts=())
case("pos-dollarat-n", 'dollarat -n -d :', args=["a", "b c"], opts=())
case("pos-dollarat-ns", 'dollarat -d ""', args=["a", "b c"], opts=())
case("pos-dollarat-0", 'pipeline { dollarat -0 } od -An -c', args=["a", "b"], opts=())
case("pos-emptyenv-P", 'emptyenv -P importas -D none X 1 echo $X', args=["a"], opts=())
case("pos-nested-pop", 'export 1 outer execlineb -c "emptyenv -P importas -D none X 1 echo $X" z', opts=())
case("pos-elgetopt", 'elgetopt "ab:c" elgetpositionals multisubstitute { importas -D no A ELGETOPT_a '
     'importas -D no B ELGETOPT_b importas -D no C ELGETOPT_c } echo $A $B $C $# $@',
     args=["-a", "-b", "val", "rest", "-c"], opts=())
case("pos-elgetopt-bad", 'elgetopt "a" echo ok', args=["-z"], opts=())
case("pos-too-few-strict", 'echo $1', opts=("-W", "-S2"))

# --- substitution ----------------------------------------------------------------------
case("define-basic", 'define FOO blah echo $FOO ${FOO} ${FOO}x $FOOx')
case("define-quoting", r'define A val foreground { echo $A \\$A \\\\$A \\\\\\$A \\\\\\\\$A \\\\\\\\\\$A } '
     r'echo $B \\$B \\\\$B \\\\\\$B \\\\\\\\$B \\\\\\\\\\$B')
case("define-split", 'define -s FOO "v1 v2 v3" echo prefix-${FOO}-postfix')
case("define-split-recursive", 'define -s B "1 2 3" echo ${B}x${B}')
case("define-serial", 'define -s B "1 2 3" define -s A "a b c d" echo ${A}x${B}')
case("define-split-delim", 'define -sd: A "a:b::c:" echo [$A]')
case("define-split-crunch", 'define -sCd: A "::a:b::c:" echo [$A]')
case("define-chomp", 'define -n A "abc\n" printf [%s] $A')
case("define-split-chomp", 'define -sn A "a b c" echo [$A]')
case("define-netstring", 'define -s -d "" A "1:a,2:bb,0:,7:xyz 123,1: ," printf [%s] $A')
case("define-netstring-bad", 'define -s -d "" A "1:a,2:b" echo $A')
case("define-empty-split", 'define -s A "" echo x ${A}y z')
case("define-dollar-edge", 'define A v echo $ ${} ${A $A$A \\${A} $A-x ${A}-x $A.x $A/x')
case("define-usage", 'define A')
case("define-empty-key", 'define "" v echo x')
case("define-empty-result", 'define -s A "" $A')
case("multisubstitute", 'multisubstitute { define -s A "a b c d" define -s B "1 2 3" } echo ${A}x${B}')
case("multisubstitute-parallel", 'export A wrong multisubstitute { define B ${A} importas A A } echo ${B}')
case("serial-substitution", 'export A wrong define B ${A} importas A A echo ${B}')
case("multisubstitute-bad-directive", 'multisubstitute { foo A b } echo x')
case("multisubstitute-dup", 'multisubstitute { define A 1 define A 2 } echo $A')
case("multidefine", 'multidefine "a b c" { X "" Z } echo $X $Z')
case("multidefine-0", 'multidefine -0 "a" { X Y } echo [$X] [$Y]')
case("multidefine-r", 'multidefine -r "a b c d" { X Y } echo [$X] [$Y]')
case("multidefine-empty", 'multidefine "a b" { } echo x')
case("importas", 'export V "x y" importas A V echo [$A]')
case("importas-split", 'export V "x y  z" importas -s A V echo [$A]')
case("importas-unset", 'importas A NOPE_VAR echo a${A}b c')
case("importas-default", 'importas -D dflt A NOPE_VAR echo [$A]')
case("importas-default-empty", 'importas -D "" A NOPE_VAR echo [$A]')
case("importas-insist", 'importas -i A NOPE_VAR echo [$A]')
case("importas-unexport", 'export V 1 importas -u A V importas -D gone B V echo $A $B')
case("importas-nCsd", 'export V "a,,b,c," importas -nCsd, A V echo [$A]')
case("elglob", 'elglob -s F /etc/host* echo $F')
case("elglob-nomatch", 'elglob F /nonexistent/* echo [$F]')
case("elglob-nomatch-0", 'elglob -0 F /nonexistent/* echo [$F]')

# --- environment -------------------------------------------------------------------------
case("export", 'export A 1 export B "x y" importas a A importas b B echo $a $b')
case("export-usage", 'export A')
case("unexport", 'export A 1 unexport A importas -D gone a A echo $a')
case("emptyenv", 'export A 1 emptyenv env')
case("emptyenv-p", 'export A 1 emptyenv -p importas -D none a A importas -D none p PATH importas -D none h HOME if { eltest -n $p } echo $a $h')
case("emptyenv-c", 'export ELGETOPT_x 1 export FD0 3 export KEEP k emptyenv -c importas -D none a ELGETOPT_x '
     'importas -D none b FD0 importas -D none c KEEP echo $a $b $c')
case("getcwd", 'cd / getcwd X importas X X echo $X')
case("getcwd-E", 'cd /usr getcwd -E X echo $X')
case("cd-fail", 'cd /nonexistent echo x')
case("execline-cd", 'execline-cd / pwd')
case("umask", 'umask 027 sh -c umask')
case("execline-umask", 'execline-umask 0077 sh -c umask')
case("umask-bad", 'umask 9 echo x')
case("backtick", 'backtick X { echo hello } importas X X echo [$X]')
case("backtick-N", 'backtick -N X { echo hello } importas X X printf [%s] $X')
case("backtick-E", 'backtick -E X { echo "a b" } echo [$X]')
case("backtick-fail", 'backtick X { false } echo notreached')
case("backtick-fail-D", 'backtick -D dflt X { false } importas X X echo [$X]')
case("backtick-fail-x", 'backtick -x X { false } importas -D unset X X echo [$X]')
case("backtick-fail-I", 'backtick -I X { sh -c "printf part; exit 3" } importas X X echo [$X]')
case("backtick-empty", 'backtick X { } echo x')
case("withstdinas", 'withstdinas X importas X X echo [$X]', stdin=b"line1\nline2\n")
case("withstdinas-N", 'withstdinas -N X importas X X printf [%s] $X', stdin=b"a\n")
case("withstdinas-E", 'withstdinas -E X echo [$X]', stdin=b"abc\n")
case("envfile", 'envfile ef importas A A importas B B importas C C echo [$A] [$B] [$C]')
case("envfile-missing", 'envfile nonexistent echo x')
case("envfile-missing-I", 'envfile -I nonexistent echo x')
case("envfile-bad", 'envfile efbad echo x')
case("heredoc", 'heredoc 0 "hello\nworld\n" cat')
case("heredoc-fd3", 'heredoc 3 "data" sh -c "cat <&3"')
case("homeof", 'homeof root')
case("homeof-bad", 'homeof nosuchuser_zz')
case("getpid", 'getpid P importas P P eltest -n $P')

# --- control flow ------------------------------------------------------------------------
case("foreground-status", 'foreground { sh -c "exit 3" } importas S ? echo $S')
case("foreground-signal", 'foreground { sh -c "kill $$" } importas S ? echo $S')
case("foreground-nosuch", 'foreground { nosuch-cmd-zz } importas S ? echo $S')
case("foreground-last", 'foreground { echo only }')
case("foreground-unterminated", 'foreground echo a')
case("if-true", 'if { true } echo yes')
case("if-false", 'if { false } echo yes')
case("if-exitcode", 'if { sh -c "exit 7" } echo yes')
case("if-n", 'if -n { false } echo yes')
case("if-t", 'if -t { false } echo yes')
case("if-x", 'if -x 42 { false } echo yes')
case("if-x-bad", 'if -x 300 { false } echo yes')
case("if-crash", 'if { sh -c "kill -9 $$" } echo yes')
case("if-X-crash", 'if -X { sh -c "kill -9 $$" } echo yes')
case("if-nosuch", 'if { nosuch-cmd-zz } echo yes')
case("if-empty-rest", 'if { true }')
case("ifelse-true", 'ifelse { true } { echo then } echo else')
case("ifelse-false", 'ifelse { false } { echo then } echo else')
case("ifelse-n", 'ifelse -n { false } { echo then } echo else')
case("ifelse-unterminated", 'ifelse { true } echo')
case("ifte-true", 'ifte { echo then } { echo else } true')
case("ifte-false", 'ifte { echo then } { echo else } false')
case("ifte-no-else", 'ifte { echo then }')
case("ifte-empty-if", 'ifte { echo then } { echo else }')
case("ifthenelse", 'ifthenelse { true } { echo then } { echo else } importas S ? echo after $S')
case("ifthenelse-false", 'ifthenelse { false } { sh -c "echo else; exit 4" } { sh -c "echo else; exit 5" } '
     'importas S ? echo after $S')
case("ifthenelse-s", 'ifthenelse -s { true } { define X 1 } { define X 2 } echo $X')
case("exit-0", 'exit')
case("exit-3", 'exit 3')
case("exit-300", 'exit 300')
case("exit-bad", 'exit x')
case("exec", 'exec echo a')
case("exec-a", 'exec -a myname sh -c "echo $0"')
case("exec-l", 'exec -a myname -l sh -c "echo $0"')
case("exec-c", 'export A 1 exec -c /usr/bin/env')
case("exec-nosuch", 'exec nosuch-cmd-zz')
case("exec-dir", 'exec /etc')
case("exec-empty", 'exec')
case("nosuch-command", 'nosuch-cmd-zz a b')
case("noexec-file", 'ef')
case("tryexec-ok", 'tryexec { echo first } echo second')
case("tryexec-fallback", 'tryexec { nosuch-cmd-zz } echo second')
case("tryexec-n", 'tryexec -n { echo first } nosuch-cmd-zz')
case("background", 'background { echo bg } wait { } echo fg')
case("background-bang", 'background { true } importas B ! eltest -n $B')
case("wait-specific", 'background { sleep 0.1 } importas -u B ! wait { $B } echo waited')
case("wait-timeout", 'background { sleep 2 } wait -t 50 { } echo timed')
case("loopwhilex", 'loopwhilex -x 0 sh -c "echo iter; exit 0"')
case("loopwhilex-count", 'foreground { rm -f cnt } loopwhilex sh -c "echo x >> cnt; test $(wc -l < cnt) -lt 3" ')
case("loopwhilex-o", 'loopwhilex -o 1 sh -c "echo once; exit 2"')
case("forx", 'forx X { a b c } importas X X echo $X')
case("forx-E", 'forx -E X { a "b c" } echo [$X]')
case("forx-break", 'forx -x 3 X { a b c } importas X X sh -c "echo $X; test $X != b || exit 3"')
case("forx-o", 'forx -o 0 X { a b c } importas X X sh -c "echo $X; test $X != b"')
case("forx-p", 'forx -p X { 1 2 3 } true')
case("forx-empty", 'forx X { } echo x')
case("forx-invalid-var", 'forx "A=B" { a } echo x')
case("forstdin", 'forstdin X importas X X echo [$X]', stdin=b"a\nb c\n\nlast")
case("forstdin-N", 'forstdin -N X importas X X printf [%s] $X', stdin=b"a\nb\n")
case("forstdin-C", 'forstdin -C X importas X X echo [$X]', stdin=b"a\n\nb\n")
case("forstdin-d", 'forstdin -d , X importas X X echo [$X]', stdin=b"a,b,c,")
case("forstdin-0", 'forstdin -0 X importas X X echo [$X]', stdin=b"a\0b\0")
case("forstdin-empty", 'forstdin X echo x')
case("forstdin-E", 'forstdin -E X echo [$X]', stdin=b"p q\n")
case("forstdin-break", 'forstdin -x 5 X sh -c "exit 5"', stdin=b"a\nb\n")
case("forbacktickx", 'forbacktickx X { printf "a\nb\n" } importas X X echo [$X]')
case("forbacktickx-0", 'forbacktickx -0 X { printf "a\\0b\\0" } importas X X echo [$X]')
case("forbacktickx-ns", 'forbacktickx -d "" X { dollarat -d "" } importas X X echo [$X]', args=["a b", "c"],
     opts=())
case("pipeline", 'pipeline { echo hello } tr a-z A-Z')
case("pipeline-w", 'pipeline -w { tr a-z A-Z } echo hello')
case("pipeline-chain", 'pipeline { printf "b\na\nc\n" } pipeline { sort } head -n 2')
case("pipeline-d", 'pipeline -d { echo dbl } cat')
case("pipeline-empty", 'pipeline { echo x }')
case("case", 'case -- abc { "a.*" { echo matched a } "b" { echo b } } echo default')
case("case-default", 'case -- zzz { "a.*" { echo matched a } } echo default')
case("case-N", 'case -N -- foooobarbaz { "([fo]+)bar(baz)" { elgetpositionals echo $# $0 $1 $2 } } echo no')
case("case-s", 'case -s -- file.txt { "*.c" { echo c } "*.txt" { echo txt } } echo none')
case("case-i", 'case -i -- ABC { "abc" { echo yes } } echo no')
case("case-empty-default", 'case -- x { y { echo y } }')
case("case-malformed", 'case -- x { y } echo a')
case("runblock", 'runblock 1', args=[" echo", " a", "", "echo", "b"], opts=())
case("runblock-r", 'runblock -r 1', args=[" echo", " a", "", "echo", "b"], opts=())
case("runblock-2", 'runblock 2', args=[" echo", " a", "", " echo", " b", ""], opts=())
case("runblock-few", 'runblock 2', args=[" echo", " a", ""], opts=())
case("trap-term", 'trap { term { echo caught } } sh -c "kill -TERM $PPID; sleep 0.2; exit 3"')
case("trap-exit", 'trap { int { echo x } } sh -c "exit 4"')
case("trap-bad", 'trap { nosuchsig { echo x } } true')
case("eltest-true", 'eltest 1 -lt 2')
case("eltest-false", 'eltest a = b')
case("eltest-complex", 'eltest ( -d / -a ! -f / ) -o x = y')
case("eltest-parse-error", 'eltest -n')
case("eltest-int-error", 'eltest 1 -eq x')
case("eltest-paren-error", 'eltest ( a')
case("eltest-regex", 'eltest abc =~ ^a.c$')
case("eltest-v", 'export ZZV 1 eltest -v ZZV')
case("eltest-files", 'if { eltest -e ef -a -r ef -a -s ef -a ! -x ef } if { eltest -d . } '
     'if { eltest ef -ef ./ef } echo ok')
case("eltest-empty", 'eltest')

# --- fds ------------------------------------------------------------------------------------
case("redirfd-w", 'foreground { redirfd -w 1 out echo written } cat out')
case("redirfd-a", 'foreground { redirfd -w 1 out echo 1 } foreground { redirfd -a 1 out echo 2 } cat out')
case("redirfd-r", 'redirfd -r 0 ef cat')
case("redirfd-x-exists", 'redirfd -x 1 ef echo x')
case("redirfd-missing", 'redirfd -r 0 /nonexistent cat')
case("redirfd-usage", 'redirfd 1 out echo')
case("fdmove", 'fdmove -c 2 1 sh -c "echo to-stderr >&2"')
case("fdmove-move", 'redirfd -w 3 out3 fdmove 1 3 foreground { echo x } cat out3')
case("fdclose", 'fdclose 1 sh -c "echo x || echo failed >&2"')
case("fdswap", 'fdswap 1 2 sh -c "echo to-err; echo to-out >&2"')
case("fdreserve", 'fdreserve 2 multisubstitute { importas a FD0 importas b FD1 } eltest $a -ne $b')
case("piperw", 'piperw 5 6 background { fdclose 5 fdmove 1 6 echo through-pipe } fdclose 6 fdmove 0 5 cat')
case("fdblock", 'fdblock 0 fdblock -n 1 echo ok')

# --- the seed README examples --------------------------------------------------------------
case("readme-finish-crash", 'if { s6-test ${1} -ne 0 } if { s6-test ${1} -ne 256 } echo would-stop',
     args=["256"], opts=("-S1",))
case("readme-finish-ok", 'if { s6-test ${1} -ne 0 } if { s6-test ${1} -ne 256 } echo would-stop',
     args=["0"], opts=("-S1",))
case("readme-finish-fail", 'if { s6-test ${1} -ne 0 } if { s6-test ${1} -ne 256 } echo would-stop',
     args=["1"], opts=("-S1",))


# Cases where our script uses the legacy `import` (absent from Debian's execline 2.9) and
# theirs uses the importas spelling it stands for: (id, ours, theirs).
EQUIV = [
    ("import-legacy", 'export UID 42 import -u -D0 UID importas -D gone X UID echo $UID $X',
     'export UID 42 importas -u -D0 UID UID importas -D gone X UID echo $UID $X'),
    ("import-legacy-default", 'import -D0 NOPE_VAR echo $NOPE_VAR',
     'importas -D0 NOPE_VAR NOPE_VAR echo $NOPE_VAR'),
    ("readme-confd", 'export UID 1 export GID 2 export CONFD_PREFIX /p import -u -D0 UID import -u -D0 GID '
     'import -u CONFD_PREFIX define CONFD_CHECK_CMD "/usr/sbin/nginx -t -c {{ .src }}" '
     'echo --prefix="${CONFD_PREFIX}" --tmpl-uid="${UID}" --tmpl-gid="${GID}" --tmpl-check-cmd="${CONFD_CHECK_CMD}"',
     'export UID 1 export GID 2 export CONFD_PREFIX /p importas -u -D0 UID UID importas -u -D0 GID GID '
     'importas -u CONFD_PREFIX CONFD_PREFIX define CONFD_CHECK_CMD "/usr/sbin/nginx -t -c {{ .src }}" '
     'echo --prefix="${CONFD_PREFIX}" --tmpl-uid="${UID}" --tmpl-gid="${GID}" --tmpl-check-cmd="${CONFD_CHECK_CMD}"'),
]

# empty remainders: most commands insist on a program to chain into
for s in ('if -n { true }', 'export A B', 'unexport A', 'define A B', 'importas A B', 'cd /', 'umask 022',
          'fdclose 5', 'fdmove 1 1', 'redirfd -w 1 /dev/null', 'getcwd X', 'getpid X', 'emptyenv',
          'heredoc 0 x', 'background { true }', 'piperw 4 5', 'fdreserve 1', 'fdswap 1 2',
          'fdblock 0', 'withstdinas X', 'backtick X { true }', 'envfile /dev/null', 'elgetpositionals',
          'multisubstitute { define A b }', 'wait { }', 'tryexec { nosuchzz }', 'case a { }',
          'ifelse { true } { }', 'ifthenelse { true } { true } { true }', 'shift', 'elgetopt ab',
          'exec -c', 'trap { term { true } }', 'exit 3 4', 'exit -1', 'if { true }'):
    case("empty-rest-" + s.split()[0] + "-" + str(len(C)), s)
case("backtick-crash", 'backtick X { sh -c "kill $$" } echo x')
case("lex-backslash-end-word", 'echo a\\')
for esc in ("\\0z", "\\0\"x", "\\08", "\\400", "\\377", "\\0x1g", "\\1a", "\\999", "\\0xff", "\\255"):
    case("lex-numesc-" + str(len(C)), 'pipeline { echo "%s" } od -An -c' % esc)

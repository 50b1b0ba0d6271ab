#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-labtest.sh: proves that the lab tester (build/tools/mpk-labtest) can fail.
# It feeds the checker correct and wrong outputs with --output, and runs fake
# lab programs (shell scripts) that time out, crash or exit non-zero.  Prints TAP.
# Run from the repository root with BUILD set (tools/run-tests.sh does both).
set -u
BUILD=${BUILD:-build}
LABTEST=$BUILD/tools/mpk-labtest
if [ ! -x "$LABTEST" ]; then
  echo "1..0 # SKIP $LABTEST is not built"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

# check WANT NAME LAB-DIR OUTPUT-TEXT [GREP]: feed OUTPUT-TEXT to the checker;
# WANT is pass or fail; GREP, if given, must occur in the checker's report.
check () {
  want=$1 name=$2 dir=$3 text=$4 pattern=${5:-}
  n=$((n + 1))
  printf '%s' "$text" > "$tmp/out"
  "$LABTEST" --output "$tmp/out" "$dir" > "$tmp/report" 2>&1
  judge "$want" "$name" $?
}

# judge WANT NAME RC: one TAP line from the checker's exit status and report.
judge () {
  rc=$3 got=fail
  [ "$rc" -eq 0 ] && grep -q '^ok 1 ' "$tmp/report" && got=pass
  # A failure must be a TAP "not ok", not a crash of the checker.
  if [ "$got" = fail ] && ! grep -q '^not ok 1 ' "$tmp/report"; then got=crash; fi
  if [ "$got" = "$1" ] && { [ -z "$pattern" ] || grep -q -- "$pattern" "$tmp/report"; }; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2 (wanted $1, got $got${pattern:+, report must mention: $pattern})"
    sed 's/^/#   /' "$tmp/report"
    failed=$((failed + 1))
  fi
}

L01=labs/01-separate-memory
L08=labs/08-pipe-messages
L09=labs/09-pipe-eof
L10=labs/10-adder-server
S='Sent the message:'
R='Received the message:'

# --- lab 01: exact ---------------------------------------------------------
check pass "01: the documented output passes" $L01 \
"Result(in process p1): [1, 4, 9, 16]
Result(in main program): []
"
check fail "01: a wrong square fails, with a diff" $L01 \
"Result(in process p1): [1, 4, 9, 15]
Result(in main program): []
" '^# +Result(in process p1): \[1, 4, 9, 15\]'
check fail "01: the parent seeing the child's list fails" $L01 \
"Result(in process p1): [1, 4, 9, 16]
Result(in main program): [1, 4, 9, 16]
"
check fail "01: swapped lines fail" $L01 \
"Result(in main program): []
Result(in process p1): [1, 4, 9, 16]
"
check fail "01: a missing final newline fails" $L01 \
"Result(in process p1): [1, 4, 9, 16]
Result(in main program): []" 'final newline'
check fail "01: empty output fails" $L01 ""

# --- lab 08: interleave ----------------------------------------------------
check pass "08: the documented interleaving passes" $L08 "$(cat $L08/expected.txt)
"
check pass "08: all Sent lines, then all Received lines, passes" $L08 \
"$S hello
$S hey
$S hru?
$S END
$R hello
$R hey
$R hru?
"
check pass "08: Received before its own Sent line passes" $L08 \
"$R hello
$S hello
$R hey
$S hey
$R hru?
$S hru?
$S END
"
check fail "08: Received hey before Sent hello fails" $L08 \
"$R hello
$R hey
$S hello
$S hey
$R hru?
$S hru?
$S END
" "constraint failed: \"$S hello\" must come before \"$R hey\""
check fail "08: Received hru? before Sent hey fails" $L08 \
"$S hello
$R hello
$R hey
$R hru?
$S hey
$S hru?
$S END
" "constraint failed: \"$S hey\" must come before \"$R hru?\""
check fail "08: a Received END line fails" $L08 \
"$S hello
$S hey
$S hru?
$S END
$R hello
$R hey
$R hru?
$R END
" "got:      $R END"
check fail "08: a missing Received line fails" $L08 \
"$S hello
$S hey
$S hru?
$S END
$R hello
$R hru?
"
check fail "08: a missing Sent END line fails" $L08 \
"$S hello
$S hey
$S hru?
$R hello
$R hey
$R hru?
" "expected: $S END"
check fail "08: swapped Sent lines fail" $L08 \
"$S hey
$S hello
$S hru?
$S END
$R hello
$R hey
$R hru?
" "stream 1"
check fail "08: swapped Received lines fail" $L08 \
"$S hello
$S hey
$S hru?
$S END
$R hey
$R hello
$R hru?
" "stream 2"
check fail "08: a repeated line fails" $L08 \
"$S hello
$S hey
$S hru?
$S END
$R hello
$R hello
$R hey
$R hru?
"
check fail "08: a line from no stream fails" $L08 \
"$S hello
$S hey
$S hru?
$S END
$R hello
$R hey
$R hru?
oops
" "belongs to no stream"

# --- labs 09 and 10: exact -------------------------------------------------
check pass "09: 1 2 3 4 then Consumer done passes" $L09 "1
2
3
4
Consumer done
"
check fail "09: Consumer done before the last item fails" $L09 "1
2
3
Consumer done
4
"
check pass "10: 7, HelloWorld, Server done passes" $L10 "7
HelloWorld
Server done
"
check fail "10: a missing Server done fails" $L10 "7
HelloWorld
"

L03=labs/03-manager-records
L23=labs/23-remote-manager

# --- lab 03: exact ---------------------------------------------------------
# (the output ends with an empty line: $(...) strips both newlines, so add them back)
check pass "03: the documented output passes" $L03 "$(cat $L03/expected.txt)

"
check fail "03: the last empty line missing fails" $L03 "$(cat $L03/expected.txt)
" 'final\|differs'

check fail "03: p2 not seeing Jeff fails" $L03 "$(head -n 10 $L03/expected.txt)
"
check fail "03: missing blank lines fail" $L03 "$(grep -v '^$' $L03/expected.txt)
"
check fail "03: p1's line after the records fails" $L03 "$(tail -n +3 $L03/expected.txt)
New record added!

"

# --- lab 23: exact ---------------------------------------------------------
check pass "23: the documented output passes" $L23 "$(cat $L23/expected.txt)
"
check fail "23: a wrong key accepted fails" $L23 \
"$(sed 's/Client: the server refused our key/Client: connected, key accepted/' $L23/expected.txt)
"
check fail "23: a refusal the server did not count fails" $L23 \
"$(sed 's/1 client refused/0 client refused/' $L23/expected.txt)
" '^# +Server: 0 client refused'
check fail "23: results collected before the client ran fails" $L23 \
"$(awk 'NR==1 || NR>=7 && NR<=9' $L23/expected.txt)
$(sed -n '2,6p;10,$p' $L23/expected.txt)
"

# --- running fake labs -----------------------------------------------------
# A lab directory and a program in a fake build folder: run mode, not --output.
fake () { # fake SLUG TIMEOUT SCRIPT
  mkdir -p "$tmp/labs/$1" "$tmp/build/labs/$1"
  printf 'hi\n' > "$tmp/labs/$1/expected.txt"
  printf '[lab]\ntitle=fake\ntimeout=%s\nmode=exact\nexpected=expected.txt\n' "$2" \
    > "$tmp/labs/$1/lab.test"
  printf '#!/bin/sh\n%s\n' "$3" > "$tmp/build/labs/$1/lab"
  chmod +x "$tmp/build/labs/$1/lab"
}
run () { # run WANT NAME SLUG [GREP]
  n=$((n + 1)) pattern=${4:-}
  BUILD=$tmp/build "$LABTEST" "$tmp/labs/$3" > "$tmp/report" 2>&1
  judge "$1" "$2" $?
}

fake 91-good 5 'echo hi'
run pass "run: a correct program passes" 91-good
fake 92-exit 5 'echo hi; exit 3'
run fail "run: right output but exit status 3 fails" 92-exit 'exited with status 3'
fake 93-hang 1 "echo hi; sleep 30 & echo \$! > '$tmp/sleeper'; wait"
run fail "run: a hanging program is reported as TIMEOUT" 93-hang 'TIMEOUT'
n=$((n + 1))
# Killed means gone or a zombie (PID 1 may be slow to reap orphans). SIGKILL
# lands at once but the exit takes a moment: poll the state, for 5 s at most.
gone() {
  state=$( [ -s "$tmp/sleeper" ] && ps -o stat= -p "$(cat "$tmp/sleeper")" )
  [ -s "$tmp/sleeper" ] && case $state in ''|Z*) true ;; *) false ;; esac
}
tries=0
until gone || [ $tries -ge 500 ]; do tries=$((tries + 1)); sleep 0.01; done
if gone; then
  echo "ok $n - run: the timeout killed the program's whole process group"
else
  echo "not ok $n - run: the timeout left a process of the lab's group running"
  failed=$((failed + 1))
fi
fake 94-crash 5 'echo hi; kill -SEGV $$'
run fail "run: a crash is reported by signal name" 94-crash 'SIGSEGV'
fake 95-stderr 5 'echo bye; echo "it went wrong" >&2'
run fail "run: wrong output shows the program's stderr" 95-stderr 'it went wrong'
fake 96-diagram 5 'echo hi'
printf 'diagram=varies\n' >> "$tmp/labs/96-diagram/lab.test"
run pass "run: diagram=varies (for the diagram tools) does not bother the checker" 96-diagram
n=$((n + 1))
if "$LABTEST" "$tmp/labs/99-missing" > "$tmp/report" 2>&1; then
  echo "not ok $n - a missing lab.test fails"; failed=$((failed + 1))
else
  echo "ok $n - a missing lab.test fails"
fi

echo "1..$n"
[ "$failed" -eq 0 ]

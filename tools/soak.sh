#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# soak.sh TEST-ROBUST...: the SIGKILL-anywhere loops of tests/test-robust.c
# (queues, locks, pipes, Manager clients, Manager owners) MPK_SOAK times as
# long as `make check` runs them, for instructors and release checks.
# Environment: MPK_SOAK (default 20), MPK_ROBUST_SEED (replay one seed; by
#   default every run draws a new one and prints it on failure), BUILD.
# Runs through tools/run-tests.sh, so the same leftover checks apply (no
# process, TMPDIR entry or /dev/shm entry may survive), with a timeout that
# grows with MPK_SOAK; prints each loop's summary (rounds, kills by place,
# slowest recovery) on the way.
set -u
MPK_SOAK=${MPK_SOAK:-20}
case $MPK_SOAK in
  ''|*[!0-9]*) echo "soak.sh: MPK_SOAK must be a number, not '$MPK_SOAK'" >&2; exit 2 ;;
esac
# make check's test-robust takes 20-45 s here (more on a loaded machine); allow
# 120 s per unit of soak, so only a hang times out.
TEST_TIMEOUT=$((MPK_SOAK * 120 + 300))
echo "soak: MPK_SOAK=$MPK_SOAK, timeout ${TEST_TIMEOUT}s per program"
start=$(date +%s)
MPK_SOAK=$MPK_SOAK TEST_TIMEOUT=$TEST_TIMEOUT TEST_SHOW='^# [a-z-]+: ' \
  tools/run-tests.sh "$@"
rc=$?
echo "soak: $(( $(date +%s) - start )) s"
exit $rc

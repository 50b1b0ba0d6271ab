# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench_util.py: the driver that bench_protocol.py, bench_messenger.py,
bench_msgproc.py and bench_pool.py share: the options bench/run.sh passes
(--trials N --scale X --only K,K), the trials loop and the lines run.sh
reads. bench/bench-util.h is its C twin.

The benches import it by name: Python puts a script's own folder first on
sys.path, so this works from any directory (python3 bench/bench_pool.py).

Output, on stdout, one line per workload; "#" lines are notes that run.sh
skips:
  key <TAB> unit <TAB> v1,v2,...   (one value per trial, %.6g)
"""
import argparse
import multiprocessing as mp


def emit(key, unit, values):
    print(key + "\t" + unit + "\t" + ",".join("%.6g" % v for v in values), flush=True)


def main(doc, workloads, name=None, min_count=100, warm_up=False):
    """Parse the options, then run each workload --only names (all without
    it) in order: a note with its count, an untimed trial of count // 10 if
    warm_up, --trials timed trials, and their line.

    workloads: (key, unit, trial, count) tuples; trial(n) returns the figure
    in unit; count is per trial, before --scale, and at least min_count
    after it. name: the header note "# NAME trials=N scale=X" (None: none).
    Children are forked, as the C side's are."""
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5, help="trials per workload (default 5)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every count")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    args = ap.parse_args()
    mp.set_start_method("fork")
    trials = max(args.trials, 1)
    only = [k for k in args.only.split(",") if k]
    if name is not None:
        print("# %s trials=%d scale=%g" % (name, trials, args.scale), flush=True)
    for key, unit, trial, count in workloads:
        if only and key not in only:
            continue
        n = max(int(count * args.scale), min_count)
        print("# %s: %d per trial" % (key, n), flush=True)
        if warm_up:
            trial(max(n // 10, 1))  # not reported
        emit(key, unit, [trial(n) for _ in range(trials)])

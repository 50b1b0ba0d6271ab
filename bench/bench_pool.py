#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench_pool.py: Python's multiprocessing.Pool (fork) on the workloads of
bench/bench-pool.c; bench/run.sh runs both and prints the ratios.

  pool_map    pool.map(sqr, xs), xs a list of n ints made before the
              timing and after the pool started (as in bench-pool.c),
              2 workers, default chunk size; tasks/s
  pool_imap   pool.imap_unordered(sqr, range(n), 1); tasks/s
  pool_start  Pool(4), one apply, close, join; ms

Output: "key<TAB>unit<TAB>v1,v2,..." per workload, "#" lines are notes.
"""
import multiprocessing as mp
import time

import bench_util


def sqr(x):
    return x * x


def map_trial(count):
    with mp.Pool(2) as pool:
        # The inputs are made once the workers run, as bench-pool.c makes
        # them: made before the fork, their pages are shared with the
        # workers, and the first write to each (a refcount here, GVariant's
        # lock bit in C) copies it, which both sides would then measure.
        xs = list(range(count))
        t0 = time.perf_counter()
        results = pool.map(sqr, xs)
        t1 = time.perf_counter()
        if len(results) != count or results[-1] != (count - 1) ** 2:
            raise SystemExit("pool_map: wrong results")
        pool.close()
        pool.join()
    return count / (t1 - t0)


def imap_trial(count):
    with mp.Pool(2) as pool:
        xs = list(range(count))
        t0 = time.perf_counter()
        got = sum(1 for _ in pool.imap_unordered(sqr, xs, 1))
        t1 = time.perf_counter()
        if got != count:
            raise SystemExit("pool_imap: wrong count")
        pool.close()
        pool.join()
    return count / (t1 - t0)


def start_trial(count):
    t0 = time.perf_counter()
    for _ in range(count):
        pool = mp.Pool(4)
        if pool.apply(sqr, (3,)) != 9:
            raise SystemExit("pool_start: wrong result")
        pool.close()
        pool.join()
    return (time.perf_counter() - t0) * 1e3 / count


WORKLOADS = [
    ("pool_map", "tasks/s", map_trial, 100000),
    ("pool_imap", "tasks/s", imap_trial, 20000),
    ("pool_start", "ms", start_trial, 20),
]


if __name__ == "__main__":
    bench_util.main(__doc__, WORKLOADS, name="bench_pool", min_count=1)

#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench_mp.py: the Python side of `make bench`.

The workloads of bench/bench-mpkit.c, written with CPython's multiprocessing
and the 'fork' start method (the Linux default up to Python 3.13):

  rtt        Pipe() round trip, send/recv of an int           us/rt
  rtt_1cpu   the same, both processes pinned to CPU 0           us/rt
  rtt_bytes  Pipe() round trip, send_bytes/recv_bytes of 64 B   us/rt
  stream64   one-way stream, send_bytes/recv_bytes of 64 B      msg/s
  stream64v  one-way stream, send/recv of a 64-byte bytes       msg/s
  stream1m   one-way stream, send_bytes/recv_bytes of 1 MiB     MB/s
  stream1mv  one-way stream, send/recv of a 1 MiB bytes         MB/s
  spawn      Process(target=noop).start() + join()              ms/proc
  q1p1c      Queue 1 producer -> 1 consumer, put/get of 64 B bytes  items/s
  q1p1cv     the same (the C side puts GVariants instead of bytes)  items/s
  q2p2c      Queue 2 producers -> 2 consumers, 64 B                 items/s
  sq1p1c     SimpleQueue 1 -> 1, 64 B                               items/s
  jq1p1c     JoinableQueue 1 -> 1, 64 B, task_done per item, join   items/s
  q1m        Queue 1 -> 1, 1 MiB bytes items                        MB/s
  lockcnt    Value('i') += 1 under get_lock(), 2 processes          incr/s
  valinc     the same workload (the C side uses mpk_value_add)       incr/s
  arrayew    Array('d') of 8 MiB (1 Mi items), element-wise: the parent
             writes a[i] = 2.5, then a second process reads x = a[i];
             two rows, arrayew_w and arrayew_r                       MB/s
  arrayew_idiom  the same job under one `with a.get_lock():` per side,
             over a.get_obj(); rows arrayew_idiom_w, arrayew_idiom_r  MB/s
  mgr_list_append  Manager().list(): a child process appends small ints  ops/s
  mgr_dict_getset  Manager().dict(): a child sets d[i % 100] = i, then
             reads d[i % 100]; a set and a get are two ops             ops/s

The queue, counter and array workloads are the perf anchors' (anchor-bench/
py_mp_bench.py queue_trial / counter_trial / bench_array "elem"), with a "ready" handshake
instead of the anchor's sleep(0.05) before the gate opens.

Output: one line per measurement, '#' lines are comments:
  key <TAB> unit <TAB> v1,v2,...   (one value per trial)
"""
import argparse
import multiprocessing as mp
import os
import sys
import time

CTX = mp.get_context("fork")
clock = time.perf_counter  # CLOCK_MONOTONIC
WARM_ROUND_TRIPS = 500
TRIAL_TARGET_S = 0.4  # same as bench-mpkit.c
SCALE = 1.0


def scaled(base):
    return max(1, int(base * SCALE))


def emit(key, unit, values):
    print(key + "\t" + unit + "\t" + ",".join("%.6g" % v for v in values), flush=True)


def join_child(p):
    p.join()
    if p.exitcode != 0:
        sys.exit("bench_mp: child %s exited with %s" % (p.name, p.exitcode))


# --- children ---------------------------------------------------------------

def echo_child(conn, count, use_bytes):
    if use_bytes:
        recv, send = conn.recv_bytes, conn.send_bytes
    else:
        recv, send = conn.recv, conn.send
    for _ in range(count):
        send(recv())


def stream_child(conn, count, size, use_bytes):
    msg = b"x" * size
    # Handshake: we are running; wait for "go" (no sleep needed anywhere).
    conn.send_bytes(b"r")
    conn.recv_bytes()
    send = conn.send_bytes if use_bytes else conn.send
    for _ in range(count):
        send(msg)


def noop_child():
    pass


# --- 1. round trip ----------------------------------------------------------

def rtt_trial(iters, use_bytes):
    conn, child_end = CTX.Pipe()
    p = CTX.Process(target=echo_child, args=(child_end, iters + WARM_ROUND_TRIPS, use_bytes))
    p.start()
    child_end.close()
    if use_bytes:
        msg = b"x" * 64
        send, recv = conn.send_bytes, conn.recv_bytes
        for i in range(WARM_ROUND_TRIPS):
            send(msg)
            recv()
        t0 = clock()
        for i in range(iters):
            send(msg)
            recv()
        t1 = clock()
    else:
        send, recv = conn.send, conn.recv
        for i in range(WARM_ROUND_TRIPS):
            send(i)
            recv()
        t0 = clock()
        for i in range(iters):
            send(i)
            if recv() != i:
                sys.exit("bench_mp: rtt echo mismatch")
        t1 = clock()
    join_child(p)
    conn.close()
    return t1 - t0


# --- 2, 3. one-way streams --------------------------------------------------

def stream_trial(count, size, use_bytes):
    conn, child_end = CTX.Pipe()
    p = CTX.Process(target=stream_child, args=(child_end, count, size, use_bytes))
    p.start()
    child_end.close()
    conn.recv_bytes()  # ready
    recv = conn.recv_bytes if use_bytes else conn.recv
    t0 = clock()
    conn.send_bytes(b"g")
    for _ in range(count):
        m = recv()
    t1 = clock()
    if len(m) != size:
        sys.exit("bench_mp: stream got %d bytes, want %d" % (len(m), size))
    join_child(p)
    conn.close()
    return t1 - t0


# --- 4. process start + join ------------------------------------------------

def spawn_trial(count):
    p = CTX.Process(target=noop_child)  # warm-up
    p.start()
    join_child(p)
    t0 = clock()
    for _ in range(count):
        p = CTX.Process(target=noop_child)
        p.start()
        join_child(p)
    return clock() - t0


# --- 5. queues: P producers -> C consumers (the anchors' queue_trial) -------

def q_producer(q, n, size, ready, go, done):
    item = b"x" * size
    ready.release()
    go.wait()
    put = q.put
    for _ in range(n):
        put(item)
    done.release()


def q_consumer(q, n, size, ready, go, tends, idx, joinable):
    ready.release()
    go.wait()
    get = q.get
    if joinable:
        td = q.task_done
        for _ in range(n):
            m = get()
            td()
    else:
        for _ in range(n):
            m = get()
    tends[idx] = clock()
    if len(m) != size:
        sys.exit("bench_mp: queue got %d bytes, want %d" % (len(m), size))


def queue_trial(kind, P, C, total, size):
    """total items from P producers to C consumers; returns the seconds from
    the gate to the last consumer's last get (JoinableQueue: to join())."""
    q = getattr(CTX, kind)()
    joinable = kind == "JoinableQueue"
    ready, go, done = CTX.Semaphore(0), CTX.Event(), CTX.Semaphore(0)
    tends = CTX.RawArray("d", C)
    procs = [CTX.Process(target=q_producer, args=(q, total // P, size, ready, go, done))
             for _ in range(P)]
    procs += [CTX.Process(target=q_consumer,
                          args=(q, total // C, size, ready, go, tends, i, joinable))
              for i in range(C)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    t0 = clock()
    go.set()
    if joinable:  # end = q.join() returning after the last task_done
        for _ in range(P):
            done.acquire()
        q.join()
        t1 = clock()
    for p in procs:
        join_child(p)
    if not joinable:  # end = last consumer done
        t1 = max(tends)
    return t1 - t0


# --- 6. shared counter: Value('i') under get_lock() (the anchors') -----------

def ctr_child(v, n, ready, go, tends, idx):
    lock = v.get_lock()
    ready.release()
    go.wait()
    for _ in range(n):
        with lock:
            v.value += 1
    tends[idx] = clock()


def counter_trial(procs, total):
    n = total // procs
    v = CTX.Value("i", 0)
    ready, go = CTX.Semaphore(0), CTX.Event()
    tends = CTX.RawArray("d", procs)
    ps = [CTX.Process(target=ctr_child, args=(v, n, ready, go, tends, i)) for i in range(procs)]
    for p in ps:
        p.start()
    for _ in ps:
        ready.acquire()
    t0 = clock()
    go.set()
    for p in ps:
        join_child(p)
    if v.value != n * procs:
        sys.exit("bench_mp: counter is %d, want %d" % (v.value, n * procs))
    return max(tends) - t0


# --- 7. Array('d') of 8 MiB, element-wise (the anchors' row 5, "elem") -----

ARRAY_ITEMS = 1 << 20


def arr_reader(arr, n, conn, lock_once):
    obj = arr.get_obj()
    mv = memoryview(obj).cast("B")
    dst = bytearray(len(mv))
    dst[:] = mv  # fault the shared pages into this process, untimed
    conn.send_bytes(b"r")
    conn.recv_bytes()  # go: the parent has written
    t0 = clock()
    s = 0.0
    if lock_once:
        # The idiom: the lock once, then the raw ctypes array.
        with arr.get_lock():
            a = arr.get_obj()
            for i in range(n):
                s += a[i]
    else:
        for i in range(n):
            s += arr[i]  # each item goes through the wrapper's RLock
    t1 = clock()
    conn.send((t1 - t0, s))


def array_trial(n, lock_once=False):
    """n items written by the parent, then read by a second process;
    returns (write seconds, read seconds). lock_once: each side holds
    get_lock() over its loop on get_obj() (arrayew_idiom)."""
    n = min(n, ARRAY_ITEMS)
    arr = CTX.Array("d", ARRAY_ITEMS)
    conn, child_end = CTX.Pipe()
    p = CTX.Process(target=arr_reader, args=(arr, n, child_end, lock_once))
    p.start()
    child_end.close()
    conn.recv_bytes()  # ready
    t0 = clock()
    if lock_once:
        with arr.get_lock():
            a = arr.get_obj()
            for i in range(n):
                a[i] = 2.5
    else:
        for i in range(n):
            arr[i] = 2.5  # each item goes through the wrapper's RLock
    t1 = clock()
    conn.send_bytes(b"g")
    rd, s = conn.recv()
    join_child(p)
    conn.close()
    if s != 2.5 * n:
        sys.exit("bench_mp: array reader summed %g, want %g" % (s, 2.5 * n))
    return t1 - t0, rd


# --- 8. Manager proxies, called from a client process ------------------------

MGR_WARM_CALLS = 100  # len() calls before the gate (the child connects)
MGR_DICT_KEYS = 100


def mgr_client(proxy, job, n, conn):
    for _ in range(MGR_WARM_CALLS):
        len(proxy)
    conn.send_bytes(b"r")
    conn.recv_bytes()  # go
    t0 = clock()
    if job == "list":
        append = proxy.append
        for i in range(n):
            append(i)
    else:
        for i in range(n):
            proxy[i % MGR_DICT_KEYS] = i
            if proxy[i % MGR_DICT_KEYS] != i:
                sys.exit("bench_mp: dict gave the wrong value")
    t1 = clock()
    conn.send(t1 - t0)


def mgr_trial(job, count):
    """count calls (a dict item is a set and a get: count // 2 items) made
    by a child on a proxy it inherited; returns the child's loop seconds.
    Each trial starts a new manager and shuts it down (untimed)."""
    n = count if job == "list" else count // 2
    with CTX.Manager() as m:
        proxy = m.list() if job == "list" else m.dict()
        conn, child_end = CTX.Pipe()
        p = CTX.Process(target=mgr_client, args=(proxy, job, n, child_end))
        p.start()
        child_end.close()
        conn.recv_bytes()  # ready
        conn.send_bytes(b"g")
        dt = conn.recv()
        join_child(p)
        conn.close()
        want = n if job == "list" else min(n, MGR_DICT_KEYS)
        if len(proxy) != want:
            sys.exit("bench_mp: the manager's %s has %d items, want %d" % (job, len(proxy), want))
    return dt


# --- driver -----------------------------------------------------------------

def main():
    global SCALE
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5, help="trials per measurement (default 5)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every iteration count")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    args = ap.parse_args()
    SCALE = args.scale if args.scale > 0 else 1.0
    trials = max(1, args.trials)
    only = [k for k in args.only.split(",") if k]

    def run(key, unit, trial, max_count, figure, split=1, grow=False):
        """Two probes (1% of max_count, not reported; the faster counts, the
        first also warms up) set the count per trial: at most max_count,
        fewer if a trial would exceed ~0.4 s.  Counts are multiples of
        split (so they divide evenly over producers and consumers)."""
        if only and key not in only:
            return
        even = lambda n: max(split, n - n % split)
        probe = even(max(max_count // 100, 2))
        if grow:
            # Group workloads: 1% can be a few ms, where the gate's wake-ups
            # and the feeder thread's start dominate; grow the probe to
            # >= 1/8 of a trial (same rule as bench-mpkit.c).
            probe = even(max(max_count // 1000, 2))
            while probe < max_count // 10 and trial(probe) < TRIAL_TARGET_S / 8:
                probe = even(probe * 4)
        per_item = min(trial(probe), trial(probe)) / probe
        count = max(2, min(max_count, int(TRIAL_TARGET_S / max(per_item, 1e-9))))
        count = even(scaled(count))
        print("# %s: %d per trial (probe: %.3g us each)" % (key, count, per_item * 1e6),
              flush=True)
        emit(key, unit, [figure(count, trial(count)) for _ in range(trials)])

    print("# bench_mp python=%s start_method=fork trials=%d scale=%g"
          % (sys.version.split()[0], trials, SCALE), flush=True)
    mib = 1 << 20
    per_rt = lambda n, dt: dt / n * 1e6            # us/rt
    msgs = lambda n, dt: n / dt                      # msg/s
    mbs = lambda n, dt: n * mib / dt / 1e6           # MB/s
    per_proc = lambda n, dt: dt / n * 1e3            # ms/proc

    run("rtt", "us/rt", lambda n: rtt_trial(n, False), 10000, per_rt)
    if not only or "rtt_1cpu" in only:
        # Pinned: no cross-CPU wake-up, the least noisy round trip on this VM.
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})
        run("rtt_1cpu", "us/rt", lambda n: rtt_trial(n, False), 10000, per_rt)
        os.sched_setaffinity(0, cpus)
    run("rtt_bytes", "us/rt", lambda n: rtt_trial(n, True), 10000, per_rt)
    run("stream64", "msg/s", lambda n: stream_trial(n, 64, True), 150000, msgs)
    run("stream64v", "msg/s", lambda n: stream_trial(n, 64, False), 150000, msgs)
    run("stream1m", "MB/s", lambda n: stream_trial(n, mib, True), 3000, mbs)
    run("stream1mv", "MB/s", lambda n: stream_trial(n, mib, False), 3000, mbs)
    run("spawn", "ms/proc", spawn_trial, 300, per_proc)
    # The C side of q1p1cv puts GVariants; Python's put pickles either way.
    for key, kind, P, C, size, cap, fig in (
            ("q1p1c", "Queue", 1, 1, 64, 200000, msgs),
            ("q1p1cv", "Queue", 1, 1, 64, 200000, msgs),
            ("q2p2c", "Queue", 2, 2, 64, 200000, msgs),
            ("sq1p1c", "SimpleQueue", 1, 1, 64, 200000, msgs),
            ("jq1p1c", "JoinableQueue", 1, 1, 64, 200000, msgs),
            ("q1m", "Queue", 1, 1, mib, 3000, mbs)):
        run(key, "MB/s" if size >= 4096 else "items/s",
            lambda n, kind=kind, P=P, C=C, size=size: queue_trial(kind, P, C, n, size),
            cap, fig, split=P * C, grow=True)
    run("lockcnt", "incr/s", lambda n: counter_trial(2, n), 400000, msgs, split=2, grow=True)
    # valinc: the same Python workload as lockcnt (Value's own lock);
    # the C side differs (mpk_value_add on an MpkValue).
    run("valinc", "incr/s", lambda n: counter_trial(2, n), 400000, msgs, split=2, grow=True)
    for key, lock_once in (("arrayew", False), ("arrayew_idiom", True)):
        if only and not {key, key + "_w", key + "_r"} & set(only):
            continue
        # One trial gives both rows; the probe sizes write + read together.
        probe = max(ARRAY_ITEMS // 100, 2)
        per_item = min(sum(array_trial(probe, lock_once)),
                       sum(array_trial(probe, lock_once))) / probe
        count = max(2, min(ARRAY_ITEMS, int(TRIAL_TARGET_S / max(per_item, 1e-9))))
        count = min(ARRAY_ITEMS, scaled(count))
        print("# %s: %d per trial (probe: %.3g us each)" % (key, count, per_item * 1e6),
              flush=True)
        res = [array_trial(count, lock_once) for _ in range(trials)]
        emit(key + "_w", "MB/s", [count * 8 / w / 1e6 for w, r in res])
        emit(key + "_r", "MB/s", [count * 8 / r / 1e6 for w, r in res])
    # Manager calls: a dict item is two calls (set, get), so counts are even.
    run("mgr_list_append", "ops/s", lambda n: mgr_trial("list", n), 20000, msgs)
    run("mgr_dict_getset", "ops/s", lambda n: mgr_trial("dict", n), 20000, msgs, split=2)


if __name__ == "__main__":
    main()

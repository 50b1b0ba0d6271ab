#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench_protocol.py: the Python side of the request protocol's rows in
`make bench` (bench/bench-protocol.c is the mpkit side).

The workloads written the way pymulproc 0.1.2 does it (seed 000; research
anchor-layers.md §1.1-1.2), with CPython's multiprocessing and 'fork':
a message is the list [request, sender pid, recipient pid, data]; the pipe
transport is one Pipe(); the queue transport is one JoinableQueue, where a
receive takes the head, and a message its filter refuses is put back at
the tail (its own send) before task_done. pymulproc is not imported: the
few lines that matter are copied in spirit below, so the bench needs
nothing but the standard library.

  proto_rtt      Pipe: the parent sends DO with an int, the child answers
                 FINISHED with it                                   us/rt
  proto_fanin    JoinableQueue: 4 children send FINISHED to the parent,
                 which receives them all (no filter)                 msg/s
  proto_filter4  JoinableQueue: the parent sends DO round-robin to 4
                 children; each receives with the filter "for me or for
                 everybody" (blocking get, put-back on refusal); then
                 join(), then a DIE each                             msg/s

Output: key <TAB> unit <TAB> v1,v2,...   (one value per trial)
"""
import multiprocessing as mp
import os
import sys
import time

import bench_util

CTX = mp.get_context("fork")
clock = time.perf_counter
N_CHILDREN = 4


def join_child(p):
    p.join()
    if p.exitcode != 0:
        sys.exit("bench_protocol: child %s exited with %s" % (p.name, p.exitcode))


# --- pymulproc's queue API, as queuepi.py does it -----------------------------

class QueueApi:
    def __init__(self, queue, timeout=0.1, loops=10):
        self.conn, self.timeout, self.loops = queue, timeout, loops
        self.pid = os.getpid()

    def send(self, request, sender_pid=None, recipient_pid=None, data=None):
        message = [request, sender_pid or self.pid, recipient_pid, data]
        loops = self.loops
        while True:
            try:
                self.conn.put(message, timeout=self.timeout)
                return message
            except Exception:
                loops -= 1
                if not loops:
                    raise

    def receive(self, func=lambda m: True, block=False):
        try:
            message = self.conn.get(block=block)
        except Exception:
            return False
        try:
            if not func(message):
                request, sender, recipient, data = message
                self.send(request, sender_pid=sender, recipient_pid=recipient, data=data)
                return False
            return message
        finally:
            self.conn.task_done()


# --- proto_rtt ----------------------------------------------------------------

def echo_child(conn, count):
    pid = os.getpid()
    for _ in range(count):
        message = conn.recv()
        conn.send(["FINISHED", pid, None, message[3]])


def trial_rtt(count):
    parent, child = CTX.Pipe()
    warm = 200
    p = CTX.Process(target=echo_child, args=(child, warm + count))
    p.start()
    pid = os.getpid()
    for i in range(warm + count):
        if i == warm:
            t0 = clock()
        parent.send(["DO", pid, None, i])
        parent.recv()
    us = (clock() - t0) * 1e6 / count
    join_child(p)
    return us


# --- proto_fanin --------------------------------------------------------------

def fanin_child(queue, count, parent_pid):
    api = QueueApi(queue)
    for _ in range(count):
        api.send("FINISHED", recipient_pid=parent_pid, data=3)


def trial_fanin(count):
    queue = CTX.JoinableQueue()
    api = QueueApi(queue)
    per_child = max(count // N_CHILDREN, 1)
    t0 = clock()
    children = [CTX.Process(target=fanin_child, args=(queue, per_child, os.getpid()))
                for _ in range(N_CHILDREN)]
    for p in children:
        p.start()
    got = 0
    while got < per_child * N_CHILDREN:
        if api.receive(block=True):
            got += 1
    rate = got / (clock() - t0)
    for p in children:
        join_child(p)
    queue.join()
    return rate


# --- proto_filter4 ------------------------------------------------------------

def filter_child(queue):
    api = QueueApi(queue)
    me = os.getpid()
    for_me = lambda m: m[2] == me or m[2] is None
    while True:
        message = api.receive(func=for_me, block=True)
        if message and message[0] == "DIE":
            return


def trial_filter4(count):
    queue = CTX.JoinableQueue()
    api = QueueApi(queue)
    children = [CTX.Process(target=filter_child, args=(queue,)) for _ in range(N_CHILDREN)]
    for p in children:
        p.start()
    pids = [p.pid for p in children]
    t0 = clock()
    for i in range(count):
        api.send("DO", recipient_pid=pids[i % N_CHILDREN], data=i)
    queue.join()
    rate = count / (clock() - t0)
    for _ in children:
        api.send("DIE")
    for p in children:
        join_child(p)
    return rate


WORKLOADS = [
    ("proto_rtt", "us/rt", trial_rtt, 5000),
    ("proto_fanin", "msg/s", trial_fanin, 20000),
    ("proto_filter4", "msg/s", trial_filter4, 2000),
]


if __name__ == "__main__":
    bench_util.main(__doc__, WORKLOADS, min_count=1, warm_up=True)

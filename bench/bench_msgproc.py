#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench_msgproc.py: the message-process pattern (issue 15) written with
Python's multiprocessing the way valkka-multiprocess does it
(seeds/003_0b6f8d8a7a71e7b5.txt; ../shared/research/anchor-layers.md §3.2):
a MessageObject (command + kwargs) pickled over a Pipe; the backend loop
selects on its pipe, receives one message and dispatches it with
getattr(self, "c__" + command)(**kwargs); replies go back on the same Pipe.
bench/bench-msgproc.c runs the same workloads with MpkMessageProcess.

  mp_rtt     ping and pong round trip: us per round trip
  mp_cmd1way one-way commands to a handler that does nothing, then one
             ping to know they all ran: commands/s

Output: "key<TAB>unit<TAB>v1,v2,..." per workload, "#" lines are notes."""
import multiprocessing as mp
import select
import time

import bench_util


class MessageObject:
    def __init__(self, command, **kwargs):
        self.command = command
        self.kwargs = kwargs

    def __call__(self):
        return self.command

    def __getitem__(self, key):
        return self.kwargs[key]


class MessageProcess(mp.Process):
    """valkka's MessageProcess, reduced to its run loop and dispatch."""

    timeout = 1.0

    def __init__(self):
        super().__init__()
        self.front_pipe, self.back_pipe = mp.Pipe()
        self.loop = True

    # backend
    def run(self):
        while self.loop:
            self.readPipes__(self.timeout)
        self.back_pipe.send(None)

    def readPipes__(self, timeout):
        rlis = select.select([self.back_pipe], [], [], timeout)[0]
        if self.back_pipe in rlis:
            self.routeMainPipe__(self.back_pipe.recv())

    def routeMainPipe__(self, obj):
        if obj is None:
            self.loop = False
            return
        method = getattr(self, "c__" + obj.command, None)
        if method is not None:
            method(**obj.kwargs)

    def c__ping(self, n=0):
        self.back_pipe.send(MessageObject("pong", n=n))

    def c__cmd(self, n=0):
        pass

    # frontend
    def sendMessageToBack(self, message):
        self.front_pipe.send(message)

    def stop(self):
        self.front_pipe.send(None)
        while self.front_pipe.recv() is not None:
            pass
        self.join()


def rtt_trial(count):
    p = MessageProcess()
    p.start()
    t0 = 0
    for i in range(-500, count):
        if i == 0:
            t0 = time.perf_counter()
        p.sendMessageToBack(MessageObject("ping", n=i))
        if p.front_pipe.recv()["n"] != i:
            raise SystemExit("mp_rtt: wrong pong")
    us = (time.perf_counter() - t0) / count * 1e6
    p.stop()
    return us


def cmd_trial(count):
    p = MessageProcess()
    p.start()
    p.sendMessageToBack(MessageObject("ping", n=-1))
    p.front_pipe.recv()
    t0 = time.perf_counter()
    for i in range(count):
        p.sendMessageToBack(MessageObject("cmd", n=i))
    p.sendMessageToBack(MessageObject("ping", n=count))
    if p.front_pipe.recv()["n"] != count:
        raise SystemExit("mp_cmd1way: wrong pong")
    t1 = time.perf_counter()
    p.stop()
    return count / (t1 - t0)


WORKLOADS = [
    ("mp_rtt", "us/rt", rtt_trial, 10000),
    ("mp_cmd1way", "cmds/s", cmd_trial, 100000),
]


if __name__ == "__main__":
    bench_util.main(__doc__, WORKLOADS, name="bench_msgproc", min_count=100)

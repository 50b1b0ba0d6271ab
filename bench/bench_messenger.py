# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench_messenger.py: the workloads of bench/bench-messenger.c written with
Python's multiprocessing.Pipe the way coproc's messengers do it (seed 001;
coproc 0.3, messenger/multimessenger.py and prioritymessenger.py): every
message is a pickled message object with a channel, a kind and a priority;
the receiver drains the pipe while poll() is true into a dict of per-channel
deques (MultiMessenger) or per-channel priority queues (PriorityMessenger;
here a heap with an arrival counter, stable like coproc's dict of deques),
and counts requests and replies per channel.

  msg_rtt      request/reply round trip on one channel       us per round trip
  msg_stream4  64 B payloads over 4 channels, priorities 0..2 messages/s

Output: "key<TAB>unit<TAB>v1,v2,..." per workload; "#" lines are notes.
"""
import collections
import dataclasses
import heapq
import itertools
import multiprocessing as mp
import time

import bench_util


@dataclasses.dataclass
class DataMessage:
    payload: object
    request_reply: bool
    is_reply: bool
    channel_id: object
    priority: float = float("inf")


class Messenger:
    """coproc's MultiMessenger (priority=False) or PriorityMessenger."""

    def __init__(self, pipe, priority):
        self.pipe = pipe
        self.priority = priority
        self.queues = {}
        self.order = itertools.count()
        self.requests = collections.Counter()
        self.replies = collections.Counter()

    def _send(self, payload, channel, request=False, reply=False, priority=float("inf")):
        if request:
            self.requests[channel] += 1
        self.pipe.send(DataMessage(payload, request, reply, channel, priority))

    def send_norequest(self, payload, channel=None, priority=float("inf")):
        self._send(payload, channel, priority=priority)

    def send_request(self, payload, channel=None):
        self._send(payload, channel, request=True)

    def send_reply(self, payload, channel=None):
        self._send(payload, channel, reply=True)

    def _put(self, msg):
        q = self.queues.get(msg.channel_id)
        if q is None:
            q = self.queues[msg.channel_id] = [] if self.priority else collections.deque()
        if self.priority:
            heapq.heappush(q, (msg.priority, next(self.order), msg))
        else:
            q.append(msg)

    def _receive_and_handle(self):
        self._put(self.pipe.recv())

    def _drain(self):
        while self.pipe.poll():
            self._receive_and_handle()

    def _pop(self, channel):
        q = self.queues[channel]
        msg = heapq.heappop(q)[2] if self.priority else q.popleft()
        if msg.is_reply:
            self.replies[channel] += 1
        return msg.payload

    def _size(self, channel):
        q = self.queues.get(channel)
        return len(q) if q is not None else 0

    def available(self, channel=None):
        self._drain()
        return self._size(channel)

    def receive_available(self, channel=None):
        out = []
        while self.available(channel):
            out.append(self._pop(channel))
        return out

    def receive_blocking(self, channel=None):
        while self.pipe.poll() or self._size(channel) == 0:
            self._receive_and_handle()
        return self._pop(channel)

    def await_available(self):
        self._receive_and_handle()
        self._drain()


def echo_worker(conn):
    m = Messenger(conn, priority=False)
    while True:
        data = m.receive_blocking()
        if data is None:
            return
        m.send_reply(data)


def rtt_trial(count):
    host, worker = mp.Pipe(duplex=True)
    p = mp.Process(target=echo_worker, args=(worker,))
    p.start()
    m = Messenger(host, priority=False)
    t0 = 0
    for i in range(-500, count):
        if i == 0:
            t0 = time.perf_counter()
        m.send_request(i)
        if m.receive_blocking() != i:
            raise SystemExit("msg_rtt: wrong reply")
    us = (time.perf_counter() - t0) / count * 1e6
    m.send_norequest(None)
    p.join()
    return us


def stream_worker(conn, count):
    m = Messenger(conn, priority=True)
    payload = b"x" * 64
    m.send_norequest(True)
    m.receive_blocking()
    for i in range(count):
        m.send_norequest(payload, i % 4, (i // 4) % 3)
    m.receive_blocking()


def stream_trial(count):
    host, worker = mp.Pipe(duplex=True)
    p = mp.Process(target=stream_worker, args=(worker, count))
    p.start()
    m = Messenger(host, priority=True)
    m.receive_blocking()
    t0 = time.perf_counter()
    m.send_norequest(True)
    got = 0
    while got < count:
        # coproc's await_available blocks for a new message even when some
        # are queued already: wait only when every channel is empty.
        if not any(m._size(c) for c in range(4)):
            m.await_available()
        for c in range(4):
            got += len(m.receive_available(c))
    t1 = time.perf_counter()
    m.send_norequest(None)
    p.join()
    return count / (t1 - t0)


WORKLOADS = [
    ("msg_rtt", "us/rt", rtt_trial, 10000),
    ("msg_stream4", "msgs/s", stream_trial, 100000),
]


if __name__ == "__main__":
    bench_util.main(__doc__, WORKLOADS, name="bench_messenger", min_count=100)

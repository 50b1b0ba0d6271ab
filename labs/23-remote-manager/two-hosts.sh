#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# two-hosts.sh [LAB-BINARY]: lab 23 between two "hosts" on one machine. Makes
# two network namespaces joined by a virtual Ethernet cable (a veth pair),
# 10.23.0.1 (server) and 10.23.0.2 (client), runs `lab --serve` in one and
# `lab --client` in the other (first with a wrong key, then with the right
# one), and removes both namespaces at the end. Needs root: run it with sudo
# from the top of the source tree. Not part of lab.test, which runs on
# 127.0.0.1 so that it works for every user.
set -eu
lab=${1:-build/labs/23-remote-manager/lab}
srv=mpk23-server cli=mpk23-client port=5023
if [ "$(id -u)" != 0 ]; then
  echo "two-hosts.sh: needs root (network namespaces): sudo $0 $*" >&2
  exit 1
fi
[ -x "$lab" ] || { echo "two-hosts.sh: $lab not built (make)" >&2; exit 1; }
tmp=$(mktemp -d)
server=
cleanup () {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  ip netns del $srv 2>/dev/null || true
  ip netns del $cli 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Two namespaces: each has its own interfaces, addresses, routes and its own
# 127.0.0.1, so the client cannot reach the server by loopback.
ip netns add $srv
ip netns add $cli
ip link add mpk23-s type veth peer name mpk23-c
ip link set mpk23-s netns $srv
ip link set mpk23-c netns $cli
ip -n $srv addr add 10.23.0.1/24 dev mpk23-s
ip -n $cli addr add 10.23.0.2/24 dev mpk23-c
for ns in $srv $cli; do
  ip -n $ns link set lo up
done
ip -n $srv link set mpk23-s up
ip -n $cli link set mpk23-c up

# The shared secret, in the environment of both sides (never on a command line).
MPK_AUTHKEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export MPK_AUTHKEY

echo "== server, in namespace $srv (10.23.0.1)"
ip netns exec $srv "$lab" --serve 10.23.0.1:$port > "$tmp/server.out" 2>&1 &
server=$!
# Wait (up to 10 s) for the server to say that it listens.
i=0
until grep -q listening "$tmp/server.out"; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 "$server" 2>/dev/null; then
    cat "$tmp/server.out" >&2
    echo "two-hosts.sh: the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$tmp/server.out"
shown=$(wc -l < "$tmp/server.out")

echo "== client, in namespace $cli: 127.0.0.1 is its own loopback, nobody listens there"
ip netns exec $cli "$lab" --client 127.0.0.1:$port || true
echo "== client, in namespace $cli (10.23.0.2), wrong key"
MPK_AUTHKEY=00$MPK_AUTHKEY ip netns exec $cli "$lab" --client 10.23.0.1:$port || true
echo "== client, in namespace $cli (10.23.0.2), right key"
ip netns exec $cli "$lab" --client 10.23.0.1:$port

# The server prints the results and stops once it has one per job.
status=0
wait "$server" || status=$?
server=
echo "== the server, after the client"
tail -n +$((shown + 1)) "$tmp/server.out"
exit $status

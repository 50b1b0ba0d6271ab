#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/run.sh: run bench-mpkit (C) and bench_mp.py (Python multiprocessing)
# on the same workloads, interleaved workload by workload, and print a
# markdown table of medians, ratios and targets (saved as $BUILD/bench/table.md).
# The request protocol's rows (proto_*) come from bench-protocol (C) and
# bench_protocol.py (pymulproc's way: a Pipe of lists, a JoinableQueue with
# put-back filtering), in the same way; the messenger's (msg_*) from
# bench-messenger and bench_messenger.py (coproc's way: pickled message
# objects over a Pipe, per-channel deques or heaps); the message process's
# (mp_*) from bench-msgproc and bench_msgproc.py (valkka's way: pickled
# MessageObjects over a Pipe, a select per message, getattr dispatch); the
# pool's (pool_*) from bench-pool and bench_pool.py (multiprocessing.Pool).
#
#   make bench                       # what you normally run
#   BUILD=build bench/run.sh         # the same, without rebuilding
#   TRIALS=3 SCALE=0.5 bench/run.sh  # quicker and noisier
#   ONLY=rtt,spawn bench/run.sh      # some workloads only (ONLY=trace: the tracer's cost)
#
# Env: BUILD (default build), TRIALS (default 5), SCALE (iteration multiplier,
#      default 1), ONLY (comma-separated workloads), PYTHON (default python3),
#      RAW_LIMITS_SRC (the perf anchors' raw_limits.c, for the ring_raw row;
#      default ../shared/anchor-bench/raw_limits.c next to the checkout; when
#      it is missing the row says n/a).
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="${BUILD:-build}"
TRIALS="${TRIALS:-5}"
SCALE="${SCALE:-1}"
ONLY="${ONLY:-}"
PY="${PYTHON:-python3}"
OUT="$BUILD/bench"
C_BENCH="$OUT/bench-mpkit"
C_NOTRACE="$OUT/bench-mpkit-notrace"   # the same, built with -DMPK_NO_TRACE
C_PROTO="$OUT/bench-protocol"          # the request protocol (proto_* workloads)
C_MSG="$OUT/bench-messenger"           # the messenger layer (msg_* workloads)
C_MP="$OUT/bench-msgproc"              # the message-process layer (mp_* workloads)
C_POOL="$OUT/bench-pool"               # the pool (pool_* workloads)
WORKLOADS="rtt rtt_1cpu rtt_bytes stream64 stream64v stream1m stream1mv spawn spawn_raw
           q1p1c q1p1cv q2p2c ring_raw sq1p1c jq1p1c q1m lockcnt valinc arrayew
           arrayew_idiom mgr_list_append mgr_dict_getset proto_rtt proto_fanin proto_filter4
           msg_rtt msg_stream4 mp_rtt mp_cmd1way pool_map pool_imap pool_start"
# arrayew gives two rows (arrayew_w, arrayew_r) from the same trials; ONLY
# accepts arrayew, arrayew_w or arrayew_r for it (arrayew_idiom likewise).
# ring_raw: the anchors' raw shared-memory ring (pshared mutex + 2 condvars,
# 64 B items), built from their source and run here, so that mpkit's Queue is
# compared with it on the same machine in the same run. Not part of mpkit.
RAW_SRC="${RAW_LIMITS_SRC:-$HERE/../../shared/anchor-bench/raw_limits.c}"
RAW_SRC="$(realpath -m "$RAW_SRC")"
RAW_BIN="$OUT/raw_limits"

if [ ! -x "$C_BENCH" ]; then
  echo "bench/run.sh: $C_BENCH is not built; run 'make bench'" >&2
  exit 1
fi
mkdir -p "$OUT"
: > "$OUT/c.tsv"
: > "$OUT/py.tsv"
: > "$OUT/ring_raw.txt"
rm -f "$OUT/trace.tsv"     # a run without the trace rows must not show an old one

{
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel:   $(uname -sr)"
  echo "cpu:      $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "python:   $($PY -c 'import sys; print(sys.version.split()[0])')"
  echo "gcc:      $(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)"
  echo "glib:     $(pkg-config --modversion glib-2.0 2>/dev/null || echo '?')"
  echo "trials:   $TRIALS  scale: $SCALE  only: ${ONLY:-all}"
} > "$OUT/env.txt"

# Builds raw_limits.c (as the anchors do: gcc -O2 -pthread) and runs its queue
# group; its ring figures go to c.tsv as ring_raw (1P->1C) and ring_raw_2p2c.
# Anything missing leaves a reason in ring_raw.txt: the row then says n/a.
run_ring_raw() {
  if [ ! -r "$RAW_SRC" ]; then
    echo "source not found: $RAW_SRC" > "$OUT/ring_raw.txt"
    echo "bench/run.sh: ring_raw: n/a ($RAW_SRC not found; set RAW_LIMITS_SRC)" >&2
    return 0
  fi
  if [ ! -x "$RAW_BIN" ] || [ "$RAW_SRC" -nt "$RAW_BIN" ]; then
    if ! gcc -O2 -pthread -Wall -o "$RAW_BIN" "$RAW_SRC" >&2; then
      echo "could not build $RAW_SRC" > "$OUT/ring_raw.txt"
      echo "bench/run.sh: ring_raw: n/a (build failed)" >&2
      rm -f "$RAW_BIN"
      return 0
    fi
  fi
  # The queue group also times two pipe-based queues (~10 s); kept in raw_limits.tsv.
  if ! "$RAW_BIN" --only queue --trials "$TRIALS" --scale "$SCALE" > "$OUT/raw_limits.tsv"; then
    echo "raw_limits failed" > "$OUT/ring_raw.txt"
    echo "bench/run.sh: ring_raw: n/a (raw_limits failed)" >&2
    return 0
  fi
  sed -n -e 's/^c\.queue\.ring_mutex_condvar\.1p1c\t/ring_raw\t/p' \
         -e 's/^c\.queue\.ring_mutex_condvar\.2p2c\t/ring_raw_2p2c\t/p' \
      "$OUT/raw_limits.tsv" | tee -a "$OUT/c.tsv" >&2
  grep -q "^ring_raw$(printf '\t')" "$OUT/c.tsv" \
    || echo "no c.queue.ring_mutex_condvar.1p1c line in raw_limits output" > "$OUT/ring_raw.txt"
  echo "anchor:   ring_raw from $RAW_SRC ($(sha256sum "$RAW_SRC" | cut -c1-12))" >> "$OUT/env.txt"
}

t_start=$(date +%s)
load0="$(cut -d' ' -f1 /proc/loadavg)"
failed=""
for w in $WORKLOADS; do
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$w,"* ]] \
     && ! { [[ "$w" = arrayew* ]] && [[ ",$ONLY," == *",${w}_w,"* || ",$ONLY," == *",${w}_r,"* ]]; }; then
    continue
  fi
  echo "== $w" >&2
  if [ "$w" = ring_raw ]; then
    run_ring_raw
    continue
  fi
  c_bench="$C_BENCH" py_bench="$HERE/bench_mp.py"
  if [[ "$w" = proto_* || "$w" = msg_* || "$w" = mp_* || "$w" = pool_* ]]; then
    c_bench="$C_PROTO" py_bench="$HERE/bench_protocol.py"
    [[ "$w" = msg_* ]] && c_bench="$C_MSG" py_bench="$HERE/bench_messenger.py"
    [[ "$w" = mp_* ]] && c_bench="$C_MP" py_bench="$HERE/bench_msgproc.py"
    [[ "$w" = pool_* ]] && c_bench="$C_POOL" py_bench="$HERE/bench_pool.py"
    if [ ! -x "$c_bench" ]; then
      echo "bench/run.sh: $c_bench is not built; run 'make bench'" >&2
      failed="$failed mpkit:$w"
      continue
    fi
  fi
  # C first, then Python, back to back: both see the same state of the host.
  if ! "$c_bench" --trials "$TRIALS" --scale "$SCALE" --only "$w" \
       | tee -a "$OUT/c.tsv" >&2; then
    echo "bench/run.sh: ${c_bench##*/} failed on $w" >&2
    failed="$failed mpkit:$w"
  fi
  if ! "$PY" "$py_bench" --trials "$TRIALS" --scale "$SCALE" --only "$w" \
       | tee -a "$OUT/py.tsv" >&2; then
    echo "bench/run.sh: ${py_bench##*/} failed on $w" >&2
    failed="$failed python:$w"
  fi
done
# The tracer's cost on the pipe round trip (2 sends + 2 receives = 4 events):
# a build without the tracer's branches, the normal build with tracing off,
# and the normal build with MPK_TRACE=pipe. Interleaved trial by trial, so
# drift on the host hits all three alike.
if [ -z "$ONLY" ] || [[ ",$ONLY," == *",trace,"* ]]; then
  echo "== trace" >&2
  : > "$OUT/trace.tsv"
  tdir=$(mktemp -d)
  for t in $(seq "$TRIALS"); do
    for variant in notrace off on; do
      case $variant in
        notrace) cmd=("$C_NOTRACE") ;;
        off)     cmd=(env -u MPK_TRACE "$C_BENCH") ;;
        on)      rm -rf "$tdir/t"; cmd=(env MPK_TRACE=pipe MPK_TRACE_DIR="$tdir/t" "$C_BENCH") ;;
      esac
      "${cmd[@]}" --trials 1 --scale "$SCALE" --only rtt | grep -v '^#' \
        | sed "s/^rtt\t/rtt_$variant\t/" >> "$OUT/trace.tsv" \
        || failed="$failed trace:$variant"
    done
  done
  rm -rf "$tdir"
  cat "$OUT/trace.tsv" >&2
fi
t_end=$(date +%s)
{
  echo "run:      $((t_end - t_start)) s, 1-min loadavg $load0 before, $(cut -d' ' -f1 /proc/loadavg) after"
  [ -n "$failed" ] && echo "failed:  $failed"
} >> "$OUT/env.txt"

"$PY" - "$OUT/c.tsv" "$OUT/py.tsv" "$OUT/env.txt" "$OUT/trace.tsv" "$OUT/ring_raw.txt" \
    > "$OUT/table.md" <<'EOF'
import os
import statistics
import sys

c_path, py_path, env_path, trace_path, ring_path = sys.argv[1:6]

# key, label, target ratio (None: shown for information)
ROWS = [
    ("rtt", "Pipe round trip, int (send/recv)", 1.4),
    ("rtt_1cpu", "Pipe round trip, int, both on one CPU", None),
    ("rtt_bytes", "Pipe round trip, 64 B (send_bytes/recv_bytes)", None),
    ("stream64", "stream 64 B, send_bytes/recv_bytes", 2.5),
    ("stream64v", "stream 64 B, send/recv (GVariant ay / pickled bytes)", 2.5),
    ("stream1m", "stream 1 MiB, send_bytes/recv_bytes", 8.0),
    ("stream1mv", "stream 1 MiB, send/recv (GVariant ay / pickled bytes)", 8.0),
    ("spawn", "Process start+join (fork)", 15.0),
    ("spawn_raw", "bare fork+_exit+waitpid, no library (the floor)", None),
    ("q1p1c", "Queue 1P->1C, 64 B, put_bytes/get_bytes (Python: put/get of bytes)", 30.0),
    ("q1p1cv", "Queue 1P->1C, 64 B GVariant ay, put/get (Python: put/get of bytes)", None),
    ("q2p2c", "Queue 2P->2C, 64 B, put_bytes/get_bytes", 20.0),
    ("sq1p1c", "SimpleQueue 1P->1C, 64 B, put_bytes/get_bytes", None),
    ("jq1p1c", "JoinableQueue 1P->1C, 64 B, task_done per item, join", 25.0),
    ("q1m", "Queue 1P->1C, 1 MiB items, put_bytes/get_bytes", 5.0),
    ("lockcnt", "counter in shm, 2 procs, Lock acquire/++/release (Python: Value get_lock)", 25.0),
    ("valinc", "Value('i'), 2 procs, mpk_value_add (Python: with get_lock(): v.value += 1)", 25.0),
    ("arrayew_w", "Array('d') 8 MiB, element-wise write, lock per item (Python: a[i] = x)", 100.0),
    ("arrayew_r", "Array('d') 8 MiB, element-wise read in a 2nd process (Python: x = a[i])", 100.0),
    ("arrayew_idiom_w", "Array('d') 8 MiB, write, lock once + loop over the pointer "
     "(Python: with get_lock(): get_obj()[i] = x)", None),
    ("arrayew_idiom_r", "Array('d') 8 MiB, read in a 2nd process, lock once + loop "
     "(Python: with get_lock(): x = get_obj()[i])", None),
    ("mgr_list_append", "Manager list, append of small ints from a child process", 1.5),
    ("mgr_dict_getset", "Manager dict, set/get of small int keys from a child (ops = sets + gets)", 1.5),
    ("proto_rtt", "Protocol over a pipe, round trip DO -> FINISHED (Python: pymulproc's "
     "Pipe of lists)", None),
    ("proto_fanin", "Protocol queue, 4 children -> parent, FINISHED (Python: pymulproc's "
     "JoinableQueue)", 20.0),
    ("proto_filter4", "Protocol queue, DO to 4 recipients, each receives its own "
     "(Python: JoinableQueue, refused messages put back)", 20.0),
    ("msg_rtt", "Messenger request/reply round trip, one channel (Python: coproc's way, "
     "message objects over a Pipe)", 2.0),
    ("msg_stream4", "Messenger stream, 64 B over 4 channels with priorities (Python: coproc's "
     "way, per-channel heaps)", 2.0),
    ("mp_rtt", "Message process ping -> pong round trip (Python: valkka's way, MessageObjects "
     "over a Pipe, select + getattr dispatch)", 2.0),
    ("mp_cmd1way", "Message process one-way commands to a no-op handler, then a ping "
     "(Python: valkka's way)", 2.0),
    ("pool_map", "Pool.map of a tiny task (x * x) over 100 000 ints, 2 workers, default "
     "chunks (Python: multiprocessing.Pool)", 10.0),
    ("pool_imap", "Pool imap_unordered, chunk size 1: one message per task each way", None),
    ("pool_start", "Pool of 4 workers: start, one apply, close, join", 10.0),
    ("ring_raw", "raw shm ring (anchor) 1P->1C: no library, pshared mutex + 2 condvars", None),
    ("ring_raw_2p2c", "raw shm ring (anchor) 2P->2C", None),
]
# Derived: (numerator key, denominator key, label, target), both from c.tsv.
DERIVED = [
    ("q1p1c", "ring_raw", "mpkit Queue 1P->1C / raw ring", 0.5),
    ("q2p2c", "ring_raw_2p2c", "mpkit Queue 2P->2C / raw ring 2P->2C", None),
]


def load(path):
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            key, unit, vals = line.rstrip("\n").split("\t")
            old = out.get(key, (unit, []))[1]
            out[key] = (unit, old + [float(v) for v in vals.split(",")])
    return out


def fmt(x):
    if x >= 1e6:
        return "%.3gM" % (x / 1e6)
    if x >= 1e4:
        return "%.3gk" % (x / 1e3)
    if x >= 100:
        return "%.0f" % x
    return "%.3g" % x


def cell(entry):
    if entry is None:
        return None, "n/a"
    unit, vals = entry
    med = statistics.median(vals)
    spread = (max(vals) - min(vals)) / med * 50 if med else 0.0
    return med, "%s %s (±%.0f%%)" % (fmt(med), unit, spread)


c, py = load(c_path), load(py_path)
ring_na = open(ring_path).read().strip() if os.path.exists(ring_path) else ""
lines = ["```", open(env_path).read().rstrip(), "```", "",
         "Median of the trials; (±x%) = half the min..max range over the median.",
         "ratio = mpkit speed / Python speed (for us/rt and ms/proc: Python time / mpkit time),",
         "so >1 means mpkit is faster.", "",
         "| workload | mpkit | Python | ratio | target | met? |",
         "|---|---|---|---|---|---|"]
def med(src, key):
    return statistics.median(src[key][1]) if key in src else None


def met_cell(ratio, target):
    if target is None:
        return "-"
    if ratio is None:
        return "n/a"
    return "yes" if ratio >= target else "**no**"


for key, label, target in ROWS:
    if key not in c and key not in py:
        if key == "ring_raw" and ring_na:
            lines.append("| %s (`%s`) | n/a (%s) | - | n/a | - | - |" % (label, key, ring_na))
        continue
    cm, ct = cell(c.get(key))
    pm, pt = cell(py.get(key))
    ratio = None
    if cm and pm:
        unit = (c.get(key) or py.get(key))[0]
        ratio = pm / cm if unit.split("/")[0] in ("us", "ms") else cm / pm
    rt = "%.2fx" % ratio if ratio is not None else "n/a"
    tt = ">= %gx" % target if target else "-"
    if target is None:
        met = "-"
    elif ratio is None:
        met = "n/a"
    else:
        met = "yes" if ratio >= target else "**no**"
    lines.append("| %s (`%s`) | %s | %s | %s | %s | %s |" % (label, key, ct, pt, rt, tt, met))
# Derived rows: mpkit's Queue against the raw ring of the same run.
for num, den, label, target in DERIVED:
    if num not in c:
        continue
    if den not in c and not (ring_na and target is not None):
        continue
    nm, den_m = med(c, num), med(c, den)
    ratio = nm / den_m if nm and den_m else None
    lines.append("| %s (`%s/%s`) | %s | raw ring: %s | %s | %s | %s |" % (
        label, num, den, cell(c.get(num))[1],
        cell(c.get(den))[1] if den in c else "n/a (%s)" % ring_na,
        "%.2fx" % ratio if ratio is not None else "n/a",
        ">= %gx" % target if target else "-", met_cell(ratio, target)))
if "q1p1c" in py and "ring_raw" in c:
    lines += ["", "Queue ceiling in this run: the raw ring over Python's Queue 1P->1C is %.0fx "
              "(the anchors' pooled figure: 50x); mpkit's q1p1c target is 30x."
              % (med(c, "ring_raw") / med(py, "q1p1c"))]
if "spawn" in py and "spawn_raw" in c:
    best = statistics.median(py["spawn"][1]) / statistics.median(c["spawn_raw"][1])
    lines += ["", "Start+join ceiling in this run: Python's start+join over a bare fork is "
              "%.1fx, the best ratio any fork-based library can reach here." % best]
tr = load(trace_path)
if all(k in tr for k in ("rtt_notrace", "rtt_off", "rtt_on")):
    med = {k: statistics.median(tr[k][1]) for k in ("rtt_notrace", "rtt_off", "rtt_on")}
    spread = {k: (max(tr[k][1]) - min(tr[k][1])) / med[k] * 50 for k in med}
    lines += ["", "Tracer cost on the pipe round trip (%d interleaved trials each):" % len(tr["rtt_off"][1]), "",
              "| build | us/rt | vs. no tracer |", "|---|---|---|"]
    for k, label in (("rtt_notrace", "built without the tracer (-DMPK_NO_TRACE)"),
                     ("rtt_off", "normal build, MPK_TRACE unset"),
                     ("rtt_on", "normal build, MPK_TRACE=pipe")):
        lines.append("| %s | %s (±%.0f%%) | %+.1f%% |" % (label, fmt(med[k]), spread[k],
                                                       (med[k] / med["rtt_notrace"] - 1) * 100))
    lines += ["", "Tracing off costs %+.2f us per round trip (noise: ±%.0f%%); "
              "tracing on costs %.2f us per event (4 events per round trip)."
              % (med["rtt_off"] - med["rtt_notrace"], max(spread["rtt_off"], spread["rtt_notrace"]),
                 (med["rtt_on"] - med["rtt_off"]) / 4)]
lines += ["", "Trials (raw values):", ""]
for name, src in (("mpkit", c), ("python", py), ("tracer", tr)):
    for key, (unit, vals) in src.items():
        lines.append("    %-6s %-13s %-8s %s" % (name, key, unit, " ".join(fmt(v) for v in vals)))
print("\n".join(lines))
EOF
rc=$?
cat "$OUT/table.md"
echo "(saved to $OUT/table.md)" >&2
[ $rc -eq 0 ] && [ -z "$failed" ]

#!/usr/bin/env bash
# Poll lag of our job waiter against the packer plugin's fixed 10 s poll, on the same jobs:
# `BIN localcloud serve --profile realistic --scale S` (record-only servers), then example
# waiter_lag creates servers, stops them, images them and deletes them; every job is watched
# at once by Client::wait_job (the builder's policies) and by the plugin's schedule replayed
# (its initial delay scaled by S like the job durations, then a fixed 10 s poll). Prints the
# mean lag of each and the ratio (goal <= 0.1); fails if either observer did not finish.
# WAITER_MAX_INTERVAL=SECONDS replays our waiter with a different longest poll interval.
# Usage: bench/waiter.sh BIN
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: bench/waiter.sh BIN}
SCALE=${WAITER_SCALE:-0.2}
SERVERS=${WAITER_SERVERS:-3}
MAX_INTERVAL=${WAITER_MAX_INTERVAL:-}

cargo build --quiet --release -p cce-cloud --example waiter_lag

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN" localcloud serve --listen 127.0.0.1:0 --state "$tmp/state" --servers record \
  --profile realistic --scale "$SCALE" >"$tmp/ready" 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 1 300); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "waiter: serve exited:" >&2; cat "$tmp/serve.err" >&2; exit 1; }
  sleep 0.1
done
ready=$(head -n1 "$tmp/ready")
[ -n "$ready" ] || { echo "waiter: no ready line within 30 s" >&2; cat "$tmp/serve.err" >&2; exit 1; }

out=$(./target/release/examples/waiter_lag "$ready" "$SCALE" "$SERVERS" $MAX_INTERVAL)
echo "$out" | sed -n '/^job /s/^/waiter: /p'
read -r ours plugin <<<"$(echo "$out" | tail -n1)"
echo "waiter: mean lag ours ${ours} s, plugin schedule (10 s poll) ${plugin} s (realistic profile x${SCALE}, ${SERVERS} servers${MAX_INTERVAL:+, our longest interval ${MAX_INTERVAL} s})"
awk -v a="$ours" -v b="$plugin" 'BEGIN { if (b <= 0) exit 1; r = a / b; printf "waiter: ratio ours/plugin = %.3f (goal <= 0.1)%s\n", r, (r <= 0.1 ? "" : " NOT MET") }'

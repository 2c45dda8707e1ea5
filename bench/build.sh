#!/usr/bin/env bash
# The whole build on the embedded local cloud with the realistic profile scaled down
# (BUILD_SCALE, default 0.5: a server in 30-45 s, an image in 60-90 s): the build's wall time,
# less the time of its own work (provisioning), over the sum of the waits the cloud imposed (the
# durations the local cloud drew for each job, read from its state, and the temporary VPC's and
# subnet's creation, one after the other; goal <= 1.02). Then the
# plugin's polling schedule (packer-huaweicloud-plugin.md §2.2: server job 10 s delay + 10 s
# polls, stop 5 s polls, image job 60 s delay + 10 s polls, delete 10 s polls) replayed on the
# same durations at full scale: the time it would have spent, and what we save per build.
# The peer is that replay; the bench fails if the build or the replay did not run.
# Usage: bench/build.sh BIN   (root: the local cloud's servers are sandboxes)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: bench/build.sh BIN}
SCALE=${BUILD_SCALE:-0.5}
PY=${CCE_VENV:-.venv}/bin/python
[ -x "$PY" ] || PY=python3

tmp=$(mktemp -d /var/tmp/cce-bench-build.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
export CCE_LOCALCLOUD_STATE=$tmp/localcloud CCE_LOCALCLOUD_PROFILE=realistic CCE_LOCALCLOUD_SCALE=$SCALE
export XDG_STATE_HOME=$tmp/state

start=$(date +%s%N)
if ! "$BIN" build --json bench/build/bench.pkr.hcl >"$tmp/events.jsonl" 2>"$tmp/stderr"; then
  echo "build: the build failed:" >&2
  tail -n 20 "$tmp/stderr" "$tmp/events.jsonl" >&2
  exit 1
fi
end=$(date +%s%N)

"$PY" - "$tmp/events.jsonl" "$CCE_LOCALCLOUD_STATE/state.json" "$start" "$end" "$SCALE" <<'PY'
import json, math, sys
events_path, state_path, start, end, scale = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
wall = (end - start) / 1e9
events = [json.loads(l) for l in open(events_path) if l.strip().startswith("{")]
finished = [e for e in events if e.get("type") == "build_finished"]
if not finished or finished[-1].get("status") != "succeeded":
    sys.exit("build: no successful build_finished event")
steps = finished[-1].get("steps", [])
# Our own work, which no cloud imposes: running the provisioners.
own = sum(s["ms"] for s in steps if "provision" in s["step"].lower()) / 1000
state = json.load(open(state_path))
jobs = state.get("jobs", {})
jobs = list(jobs.values()) if isinstance(jobs, dict) else list(jobs)
if not jobs:
    sys.exit("build: the local cloud recorded no jobs")
# The profile's network_create (3 s at full scale) for the VPC, then for its subnet.
network = 2 * 3.0 * scale
imposed = sum((j["done_at"] - j["begin"]) / 1000 for j in jobs) + network
ratio = (wall - own) / imposed
print(f"build: wall {wall:.2f} s, provisioning {own:.2f} s, cloud waits {imposed:.2f} s ({len(jobs)} jobs and the network's {network:.1f} s; realistic profile x{scale})")
print(f"build: (wall - provisioning) / cloud waits = {ratio:.3f} (goal <= 1.02){'' if ratio <= 1.02 else ' NOT MET'}")

# The plugin's schedule at full scale: (initial delay, poll interval) by job type.
schedule = {"createServer": (10, 10), "stopServer": (0, 5), "deleteServer": (0, 10), "deleteServers": (0, 10)}
def plugin_time(job_type, service, d):
    delay, poll = (60, 10) if service == "ims" else schedule.get(job_type, (0, 10))
    if d <= delay:
        return delay
    return delay + math.ceil((d - delay) / poll) * poll
full = [((j["done_at"] - j["begin"]) / 1000 / scale, j.get("job_type", ""), j.get("service", "")) for j in jobs]
# The plugin waits for the VPC and the subnet with a 5 s delay each (3 min timeout).
plugin = sum(plugin_time(t, s, d) for d, t, s in full) + 2 * max(5.0, 3.0)
ours_full = (wall - own) / scale
drawn = sum(d for d, _, _ in full) + 2 * 3.0
print(f"build: at full scale the jobs take {drawn:.0f} s; the plugin's polling observes them after {plugin:.0f} s, we after {ours_full:.0f} s")
print(f"build: time saved per build against the plugin's schedule: {plugin - ours_full:.0f} s")
if ratio > 1.02:
    sys.exit(1)
PY

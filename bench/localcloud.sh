#!/usr/bin/env bash
# Local cloud throughput with signature checking: `BIN localcloud serve` (record-only servers),
# then N signed GET /v1/{pid}/cloudservers/flavors calls, 8 at a time, made by our client
# (example localcloud_rate, cce_cloud) and by the official Python SDK's EcsClient (8 threads), in
# the same run against the same local cloud. Prints both rates and the ratio; fails if the peer
# did not run.
# Usage: bench/localcloud.sh BIN
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: bench/localcloud.sh BIN}
N=${LOCALCLOUD_N:-20000}
PY_N=${LOCALCLOUD_PY_N:-3000}
CONC=${LOCALCLOUD_CONCURRENCY:-8}
PY=${PYTHON:-${CCE_VENV:-.venv}/bin/python}

cargo build --quiet --release -p cce-cloud --example localcloud_rate

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN" localcloud serve --listen 127.0.0.1:0 --state "$tmp/state" --servers record >"$tmp/ready" 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 1 300); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "localcloud: serve exited:" >&2; cat "$tmp/serve.err" >&2; exit 1; }
  sleep 0.1
done
ready=$(head -n1 "$tmp/ready")
[ -n "$ready" ] || { echo "localcloud: no ready line within 30 s" >&2; cat "$tmp/serve.err" >&2; exit 1; }

ours=$(./target/release/examples/localcloud_rate "$ready" "$N" "$CONC")

if [ ! -x "$PY" ]; then
  echo "localcloud: peer missing: $PY (run dev/deps.sh or set CCE_VENV)" >&2
  exit 1
fi
peer=$("$PY" - "$ready" "$PY_N" "$CONC" <<'PYEOF'
import json, sys, threading, time
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkecs.v2 import EcsClient
from huaweicloudsdkecs.v2 import model as ecs

ready, n, conc = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def client():
    cfg = HttpConfig.get_default_config()
    cfg.timeout = (5, 30)
    creds = BasicCredentials(ready["access_key"], ready["secret_key"], ready["project_id"])
    return EcsClient.new_builder().with_http_config(cfg).with_credentials(creds) \
        .with_endpoints([ready["endpoints"]["ecs"]]).build()

clients = [client() for _ in range(conc)]
for c in clients:  # a refused signature fails before anything is timed
    c.list_flavors(ecs.ListFlavorsRequest())
errors = []

def worker(c, share):
    try:
        for _ in range(share):
            c.list_flavors(ecs.ListFlavorsRequest())
    except Exception as e:  # reported below, the rate is then not printed
        errors.append(e)

threads = [threading.Thread(target=worker, args=(c, n // conc + (1 if i < n % conc else 0)))
           for i, c in enumerate(clients)]
t = time.perf_counter()
for th in threads:
    th.start()
for th in threads:
    th.join()
elapsed = time.perf_counter() - t
if errors:
    sys.exit("python sdk: %d worker(s) failed: %s" % (len(errors), errors[0]))
print("%.0f" % (n / elapsed))
PYEOF
)

echo "localcloud: ours ${ours} req/s (${N} GETs, concurrency ${CONC}), python sdk ${peer} req/s (${PY_N} GETs, ${CONC} threads)"
awk -v a="$ours" -v b="$peer" 'BEGIN { if (b <= 0) exit 1; printf "localcloud: ratio ours/python = %.1fx\n", a / b }'

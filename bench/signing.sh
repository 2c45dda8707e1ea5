#!/usr/bin/env bash
# Signatures per second: our SDK-HMAC-SHA256 signer against the official Python SDK's
# (huaweicloudsdkcore), on the same request (reference vector V2), both checked to produce the
# expected Authorization first. Prints both rates and the ratio; fails if the peer did not run.
# Usage: bench/signing.sh [BIN]   (BIN, the CLI binary of `make bench`, is not needed here)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${SIGN_N:-200000}
PY_N=${SIGN_PY_N:-20000}
PY=${PYTHON:-.venv/bin/python}

cargo build --quiet --release -p cce-cloud --example sign_rate
ours=$(./target/release/examples/sign_rate "$N")

if [ ! -x "$PY" ]; then
  echo "signing: peer missing: $PY (run dev/deps.sh)" >&2
  exit 1
fi
peer=$("$PY" - "$PY_N" <<'PYEOF'
import sys, time
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkcore.sdk_request import SdkRequest

AK, SK = "HPUAEXAMPLEAK0000001", "ExampleSecretKey0123456789abcdefghijklmn"
PID, DATE = "0123456789abcdef0123456789abcdef", "20240101T120000Z"
EXPECTED = ("SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
            "Signature=7c56f23bf37e7c8a7a8e918889c865cbbba27a799e3e8e5926b62a3708a1a995")
BODY = b'{"os-stop":{"type":"SOFT","servers":[{"id":"616fb98f-46ca-475e-917e-2563e5a8cd19"}]}}'

class Creds:
    ak, sk = AK, SK

signer = Signer(Creds())

def sign_once():
    req = SdkRequest(method="POST", schema="https", host="ecs.ru-moscow-1.hc.sbercloud.ru",
                     resource_path="/v1/%s/cloudservers/action" % PID, query_params=[],
                     header_params={"X-Sdk-Date": DATE, "X-Project-Id": PID,
                                    "Content-Type": "application/json;charset=UTF-8"},
                     body=BODY)
    return signer.sign(req).header_params["Authorization"]

got = sign_once()
if got != EXPECTED:
    sys.exit("python sdk: unexpected signature: " + got)
n = int(sys.argv[1])
t = time.perf_counter()
for _ in range(n):
    sign_once()
print("%.0f" % (n / (time.perf_counter() - t)))
PYEOF
)

echo "signing: ours ${ours}/s, python sdk ${peer}/s"
awk -v a="$ours" -v b="$peer" 'BEGIN { if (b <= 0) exit 1; printf "signing: ratio ours/python = %.1fx\n", a / b }'

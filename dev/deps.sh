#!/usr/bin/env bash
# Installs every system and Python package the tests and benchmarks need, at pinned versions.
# Idempotent: a package already at its pinned version is not touched, and apt's lists are only
# refreshed when something is missing. Runs as root on Debian 12 (bookworm).
# `deps.sh --local-cloud` installs only what a build on the embedded local cloud needs (`make
# image` with no cloud variables): no Packer, no Python.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCAL_CLOUD_ONLY=0
[ "${1:-}" = "--local-cloud" ] && LOCAL_CLOUD_ONLY=1

# Debian packages, pinned. packer 1.6.6 is the peer that judges templates and formatting.
APT_PINS=(
  "packer=1.6.6+ds2-1+b1"
  "openssh-server=1:9.2p1-2+deb12u10"
  "openssh-client=1:9.2p1-2+deb12u10"
  "debootstrap=1.0.128+nmu2+deb12u2"
  "e2fsprogs=1.47.0-2+b2"
  "iproute2=6.1.0-3"
  "socat=1.7.4.4-2"
  "time=1.9-0.2"
  "shellcheck=0.9.0-1"
  "uidmap=1:4.13+dfsg1-1+deb12u2"
  "openssl=3.0.19-1~deb12u2"
  # sfdisk writes the GPT and MBR disks the import tests read.
  "fdisk=2.38.1-5+deb12u3"
)
# What the embedded local cloud needs: sandboxes from debootstrap, id maps, disk images.
LOCAL_CLOUD_PINS=(
  "debootstrap=1.0.128+nmu2+deb12u2"
  "e2fsprogs=1.47.0-2+b2"
  "iproute2=6.1.0-3"
  "uidmap=1:4.13+dfsg1-1+deb12u2"
)
[ "$LOCAL_CLOUD_ONLY" = 1 ] && APT_PINS=("${LOCAL_CLOUD_PINS[@]}")
# Python packages, pinned: the official Huawei Cloud SDK that our API is held to.
PIP_PINS=(
  "huaweicloudsdkcore==3.1.219"
  "huaweicloudsdkiam==3.1.219"
  "huaweicloudsdkecs==3.1.219"
  "huaweicloudsdkims==3.1.219"
  "huaweicloudsdkvpc==3.1.219"
  "huaweicloudsdkeip==3.1.219"
)

missing=()
for pin in "${APT_PINS[@]}"; do
  name=${pin%%=*} want=${pin#*=}
  have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
  [ "$have" = "$want" ] || missing+=("$pin")
done
# qemu-img writes and checks exported disks. Any installed qemu-img (7.2 or newer) will do, so a
# newer one from backports is kept rather than downgraded.
command -v qemu-img >/dev/null || missing+=("qemu-utils=1:7.2+dfsg-7+deb12u18+b3")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  # --allow-downgrades: a pin is a pin, even if a newer build is already installed.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --allow-downgrades "${missing[@]}" >/dev/null
fi
# Local-cloud servers run as root of a user namespace whose ids start at 100000 on the host.
for f in /etc/subuid /etc/subgid; do
  grep -q '^root:100000:65536$' "$f" 2>/dev/null || echo 'root:100000:65536' >> "$f"
done
# Debian starts services it installs where it can; the tests start their own sshd instances.
[ -x /usr/sbin/sshd ] && mkdir -p /run/sshd

if [ "$LOCAL_CLOUD_ONLY" = 1 ]; then
  echo "deps: ok (local cloud)"
  exit 0
fi

VENV=${CCE_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${PIP_PINS[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  echo "deps: installing ${PIP_PINS[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_PINS[@]}"
fi
echo "deps: ok"

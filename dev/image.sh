#!/usr/bin/env bash
# `make image`: decides between the real cloud and the embedded local cloud from the environment,
# as the user's document describes (REGION_NAME, IAM_ACCESS_KEY, ...), then runs the build.
#
# - All seven set: builds on the real cloud. Needs neither root, apt, Packer nor qemu.
# - None set: builds on the embedded local cloud (root: its servers are sandboxes), then writes
#   the image as a qcow2 disk under output/ and checks it with `qemu-img check`.
# - Some set: names the missing ones and stops.
# The first line says which cloud; then the binary is built (unless BUILD_BINARY=0) and run with
# its output straight on the terminal, so a terminal gets the live view with progress bars.
set -euo pipefail
BIN=$1 TEMPLATE=$2
BUILD_BINARY=${BUILD_BINARY:-1}

build_binary() {
  if [ "$BUILD_BINARY" != 0 ]; then
    "${CARGO:-cargo}" build --release -p cce-image-builder
  fi
}
OUTPUT_DIR=${OUTPUT_DIR:-output}
VARS=(REGION_NAME IAM_ACCESS_KEY IAM_SECRET_KEY ECS_VPC_ID ECS_NETWORK_ID ECS_SECGRP_ID CCE_SOURCE_IMAGE_ID)
set_vars=() unset_vars=()
for v in "${VARS[@]}"; do
  if [ -n "${!v:-}" ]; then set_vars+=("$v"); else unset_vars+=("$v"); fi
done
if [ ${#set_vars[@]} -gt 0 ] && [ ${#unset_vars[@]} -gt 0 ]; then
  echo "make image: some cloud variables are set but these are missing: ${unset_vars[*]}" >&2
  echo "make image: set all seven for the real cloud, or none for the embedded local cloud" >&2
  exit 2
fi
export CHECKPOINT_DISABLE=${CHECKPOINT_DISABLE:-1}

if [ ${#set_vars[@]} -eq 7 ]; then
  echo "make image: building on the real cloud in region $REGION_NAME"
  build_binary
  exec "$BIN" build "$TEMPLATE"
fi

echo "make image: none of ${VARS[*]} is set: building on the embedded local cloud"
echo "make image: a local build proves the pipeline and the scripts, not the cloud"
if [ "$(id -u)" != 0 ]; then
  echo "make image: the embedded local cloud runs its servers as sandboxes, which needs root;" >&2
  echo "make image: run it as root, or set the seven variables to build on the real cloud" >&2
  exit 1
fi
"$(dirname "$0")/deps.sh" --local-cloud
build_binary
mkdir -p "$OUTPUT_DIR"
# The build's journal names the image it delivered: the builds listed after it that were not
# listed before are this one.
before=$("$BIN" builds --json | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
set +e
"$BIN" build "$TEMPLATE"
status=$?
set -e
if [ "$status" != 0 ]; then
  exit "$status"
fi
image_id=
while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
  if printf '%s\n' "$before" | grep -qxF -- "$id"; then
    continue
  fi
  found=$(printf '%s\n' "$line" | sed -n 's/.*"status":"succeeded".*"artifacts":\["\([^"]*\)".*/\1/p')
  if [ -n "$found" ]; then
    image_id=$found
  fi
done < <("$BIN" builds --json)
if [ -z "$image_id" ]; then
  echo "make image: the build succeeded but its journal names no image; nothing to export" >&2
  exit 1
fi
disk="$OUTPUT_DIR/$image_id.qcow2"
echo "make image: writing image $image_id to $disk"
"$BIN" localcloud export "$image_id" --format qcow2 -o "$disk"
qemu-img check "$disk"
echo "make image: $disk is ready ($(du -h "$disk" | cut -f1)): the image's system disk (partition table and root filesystem)"

#!/usr/bin/env bash
# `make image`: decides between the real cloud and the embedded local cloud from the environment,
# as the user's document describes (REGION_NAME, IAM_ACCESS_KEY, ...), then runs the build.
set -euo pipefail
BIN=$1 TEMPLATE=$2
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
if [ ${#set_vars[@]} -eq 0 ]; then
  echo "make image: none of ${VARS[*]} is set: using the embedded local cloud"
else
  echo "make image: building on the real cloud in region $REGION_NAME"
fi
export CHECKPOINT_DISABLE=${CHECKPOINT_DISABLE:-1}
"$BIN" validate "$TEMPLATE"
echo "make image: the template is valid; building the image is not available yet:" >&2
echo "make image: the build steps (server, provisioning, capture, cleanup ledger) are still being written" >&2
exit 1

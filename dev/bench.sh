#!/usr/bin/env bash
# `make bench`: every benchmark prints ratios against a real peer measured in the same run.
# A benchmark whose peer did not run exits non-zero.
set -euo pipefail
BIN=$1
status=0
for b in bench/*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  bash "$b" "$BIN" || status=1
done
exit $status

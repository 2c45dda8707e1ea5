#!/usr/bin/env bash
# `make fuzz`: cargo-fuzz targets on the stable toolchain (RUSTC_BOOTSTRAP=1). Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# Seeds: every template of the compatibility corpus and of the kit, gathered afresh each run so
# they never drift from the files they come from.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
find tests/validate-corpus templates -name '*.pkr.hcl' -type f -exec cp -t "$seeds" {} +
for t in $(cargo fuzz list 2>/dev/null); do
  mkdir -p "fuzz/corpus/$t"
  cargo fuzz run "$t" "fuzz/corpus/$t" "$seeds" -- -max_total_time="${FUZZ_SECONDS:-60}"
done

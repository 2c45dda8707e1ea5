#!/bin/bash
# Regenerates every *.pkr.hcl.golden in this folder by running the real `packer fmt`
# (Packer 1.6.6, whose `fmt` reads no standard input: each input is formatted as a copy).
set -euo pipefail
cd "$(dirname "$0")"
command -v packer >/dev/null || { echo "packer is not on PATH" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for input in *.pkr.hcl; do
  cp "$input" "$scratch/input.pkr.hcl"
  packer fmt "$scratch/input.pkr.hcl" >/dev/null
  cp "$scratch/input.pkr.hcl" "$input.golden"
done
echo "regenerated $(ls *.pkr.hcl | wc -l) goldens with $(packer version)"

#!/usr/bin/env bash
# Benchmark of `validate`: wall time and peak memory of `BIN validate` against `packer validate`
# on the same template, N runs each (BENCH_RUNS, default 10), medians and ratios.
# Goal: 10x faster and a quarter of the memory. Exits non-zero if packer or BIN did not run.
#
# The template is the kit's templates/turbo-node.pkr.hcl. packer 1.6.6 knows neither the
# `packer {}` block nor the huaweicloud-ecs builder, so both tools validate a copy with that block
# removed and the source swapped to `source "null" "builder"`; everything else (variables, env(),
# locals, functions, the file and shell provisioners and their script files, the manifest
# post-processor) is the kit's own.
set -euo pipefail

BIN=${1:?usage: bench/validate.sh BIN}
RUNS=${BENCH_RUNS:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TIME=/usr/bin/time

if [ ! -x "$TIME" ] || ! "$TIME" -f '%e %M' true >/dev/null 2>&1; then
  echo "bench/validate.sh: GNU time ($TIME) is missing; add the Debian package \"time\" to APT_PINS in dev/deps.sh" >&2
  exit 1
fi
if ! command -v packer >/dev/null 2>&1; then
  echo "bench/validate.sh: packer is not on PATH (dev/deps.sh installs packer 1.6.6); the peer did not run" >&2
  exit 1
fi
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac
if [ ! -x "$BIN" ]; then
  echo "bench/validate.sh: $BIN is not an executable (build it with make release)" >&2
  exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The kit's layout, with the swapped template: the template finds scripts/ through path.root/..
mkdir "$WORK/templates"
for d in scripts user-scripts user-packages; do ln -s "$ROOT/$d" "$WORK/$d"; done
TEMPLATE=$WORK/templates/turbo-node.pkr.hcl
awk '
  # Drops the packer block and the huaweicloud-ecs source by brace depth, adds a null source.
  skip == 0 && /^(packer[ \t]*\{|source[ \t]+"huaweicloud-ecs")/ { skip = 1; depth = 0 }
  skip == 1 {
    line = $0
    sub(/#.*/, "", line)
    depth += gsub(/\{/, "{", line) - gsub(/\}/, "}", line)
    if (depth <= 0 && line ~ /\}/) { skip = 0 }
    next
  }
  { gsub(/source\.huaweicloud-ecs\.builder/, "source.null.builder"); print }
  END { print ""; print "source \"null\" \"builder\" {"; print "  communicator = \"none\""; print "}" }
' "$ROOT/templates/turbo-node.pkr.hcl" >"$TEMPLATE"
if grep -q 'huaweicloud-ecs' "$TEMPLATE"; then
  echo "bench/validate.sh: could not swap the huaweicloud-ecs source out of the template" >&2
  exit 1
fi

# Runs "$@" once from $WORK with a bare environment; prints "<seconds> <peak KiB>".
# Wall time comes from the nanosecond clock (GNU time's %e has only 10 ms resolution); peak
# memory is GNU time's %M.
measure() {
  local out=$WORK/time.out log=$WORK/run.log start end
  start=$(date +%s%N)
  if ! (cd "$WORK" && env -i PATH="$PATH" HOME="$HOME" CHECKPOINT_DISABLE=1 \
    "$TIME" -f '%e %M' -o "$out" "$@" >"$log" 2>&1); then
    echo "bench/validate.sh: $* failed:" >&2
    sed 's/^/  /' "$log" >&2
    return 1
  fi
  end=$(date +%s%N)
  awk -v ns=$((end - start)) '{ printf "%.6f %d\n", ns / 1e9, $2 }' "$out"
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Runs a tool RUNS times; prints "<median seconds> <median peak KiB>".
bench() {
  local name=$1 _
  shift
  : >"$WORK/$name.samples"
  for _ in $(seq "$RUNS"); do
    measure "$@" >>"$WORK/$name.samples" || return 1
  done
  echo "$(cut -d' ' -f1 "$WORK/$name.samples" | median) $(cut -d' ' -f2 "$WORK/$name.samples" | median)"
}

echo "validate benchmark: $RUNS runs each, medians"
echo "template: templates/turbo-node.pkr.hcl with its packer {} block removed and the huaweicloud-ecs"
echo "          source swapped to null, because packer $(packer version | head -n 1 | sed 's/^Packer //') cannot load the huaweicloud builder"

if ! packer_result=$(bench packer packer validate "$TEMPLATE"); then
  echo "bench/validate.sh: packer validate did not run successfully, so there is nothing to compare against" >&2
  exit 1
fi
if ! ours_result=$(bench ours "$BIN" validate "$TEMPLATE"); then
  echo "bench/validate.sh: $BIN validate failed on the template" >&2
  exit 1
fi
read -r packer_s packer_kib <<<"$packer_result"
read -r ours_s ours_kib <<<"$ours_result"

printf '%-22s %12s %14s\n' tool "median time" "median peak"
printf '%-22s %10.1f ms %10.0f KiB\n' "packer validate" "$(awk -v s="$packer_s" 'BEGIN { print s * 1000 }')" "$packer_kib"
printf '%-22s %10.1f ms %10.0f KiB\n' "cce-image-builder" "$(awk -v s="$ours_s" 'BEGIN { print s * 1000 }')" "$ours_kib"
awk -v ps="$packer_s" -v os="$ours_s" -v pk="$packer_kib" -v ok="$ours_kib" 'BEGIN {
  speed = (os > 0) ? (ps / os) : 0
  share = (pk > 0) ? (ok / pk) : 0
  printf "speed ratio (packer time / ours): %.1fx (goal >= 10x: %s)\n", speed, (speed >= 10) ? "met" : "NOT met"
  printf "memory ratio (our peak / packer peak): %.3f (goal <= 0.25: %s)\n", share, (share <= 0.25) ? "met" : "NOT met"
}'

# For information: the unmodified kit template (huaweicloud-ecs, local-cloud mode), ours only.
if orig=$(cd "$ROOT" && bench original "$BIN" validate "$ROOT/templates/turbo-node.pkr.hcl" 2>/dev/null); then
  read -r orig_s orig_kib <<<"$orig"
  printf 'cce-image-builder on the unmodified template (local-cloud mode): %.1f ms, %.0f KiB\n' \
    "$(awk -v s="$orig_s" 'BEGIN { print s * 1000 }')" "$orig_kib"
else
  echo "cce-image-builder could not validate the unmodified template (see validate's output)"
fi

#!/usr/bin/env bash
# Example user script: every user-scripts/*.sh runs on the temporary server as root, in name
# order, after user-packages/ has been uploaded to /tmp/example.package. This one only reports
# what it sees and leaves a marker file, so the finished image shows which build made it.
set -eu

echo "example: running on $(hostname) as $(id -un)"
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  echo "example: OS ${PRETTY_NAME:-${ID:-unknown}}"
fi
echo "example: kernel $(uname -r), $(nproc) CPU(s)"
echo "example: free disk on /: $(df -hP / | awk 'NR == 2 { print $4 }')"

if [ -d /tmp/example.package ]; then
  echo "example: user packages uploaded:"
  ls -l /tmp/example.package
else
  echo "example: /tmp/example.package is missing"
fi

marker=/etc/cce-image-builder.example
{
  echo "built_by=cce-image-builder"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel=$(uname -r)"
} >"$marker"
chmod 0644 "$marker"
echo "example: wrote $marker"

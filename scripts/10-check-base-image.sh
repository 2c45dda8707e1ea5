#!/usr/bin/env bash
# Reports the base image's OS and kernel against the list that CCE supports for custom node
# images. It only warns: an unknown OS or an older kernel may still work, and the decision to
# ship the image stays with its owner.
set -eu

# name|VERSION_ID|minimum kernel ("-" = any), from CCE's guide on custom node images.
SUPPORTED='centos|7|3.10.0-1160.15.2.el7
ubuntu|18.04|4.15.0-136
ubuntu|22.04|5.15.0-86
euleros|2.0|-
hce|2.0|5.10.0-60.18.0.50.r1002_48.hce2'

os_id=unknown os_version=unknown os_name=unknown
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  os_id=${ID:-unknown}
  os_version=${VERSION_ID:-unknown}
  os_name=${PRETTY_NAME:-$os_id $os_version}
fi
kernel=$(uname -r)
arch=$(uname -m)

echo "base image: $os_name (id=$os_id version=$os_version), kernel $kernel, $arch"
if [ -r /etc/centos-release ]; then
  echo "base image: $(cat /etc/centos-release)"
fi

# Returns 0 when version $1 is at least $2 (natural version order).
at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

matched=no
while IFS='|' read -r id version min_kernel; do
  [ "$os_id" = "$id" ] || continue
  # EulerOS 2.9 reports VERSION_ID=2.0 with the SP in VERSION; CentOS 7.x reports 7.
  case "$os_version" in
    "$version" | "$version".*) ;;
    *) continue ;;
  esac
  matched=yes
  if [ "$min_kernel" = "-" ]; then
    echo "base image: supported by CCE ($id $version, any kernel)"
  elif at_least "$kernel" "$min_kernel"; then
    echo "base image: supported by CCE ($id $version, kernel $kernel >= $min_kernel)"
  else
    echo "WARNING: kernel $kernel is older than $min_kernel, the minimum CCE supports on $id $version"
  fi
done <<LIST
$SUPPORTED
LIST

if [ "$matched" = no ]; then
  echo "WARNING: $os_name is not in CCE's list of supported node images (CentOS 7.6, Ubuntu 18.04, Ubuntu 22.04, EulerOS 2.9, Huawei Cloud EulerOS 2.0)"
  echo "WARNING: start from the CCE base image ID of your cluster version (CCE_SOURCE_IMAGE_ID)"
fi

# Kernel parameters that CCE tunes for node performance: shown so that a change made by a user
# script is visible in the build log.
for key in net.ipv4.tcp_keepalive_time net.ipv4.tcp_max_tw_buckets net.core.somaxconn \
  fs.inotify.max_user_instances fs.inotify.max_user_watches net.core.netdev_max_backlog \
  net.core.wmem_max net.core.rmem_max; do
  value=$(sysctl -n "$key" 2>/dev/null || echo "unavailable")
  echo "sysctl: $key = $value"
done
exit 0

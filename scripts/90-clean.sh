#!/usr/bin/env bash
# Image hygiene, run last: removes what must not be shared by every node started from the image
# (cloud-init state, SSH host keys, machine-id, shell history, temporary files, logs, package
# caches). Each step checks before it acts, so running the script twice is harmless.
set -eu

say() { echo "clean: $*"; }

# cloud-init runs again on each new server only if its per-instance state is gone.
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init clean --logs >/dev/null 2>&1 || say "cloud-init clean failed, removing its state by hand"
  rm -rf /var/lib/cloud/instances /var/lib/cloud/instance /var/lib/cloud/data
  say "cloud-init state removed"
fi

# Host keys must differ between nodes; remove them only if something recreates them at boot,
# otherwise sshd would not start on the new node.
if command -v cloud-init >/dev/null 2>&1 \
  || [ -e /usr/lib/systemd/system/sshd-keygen@.service ] \
  || [ -e /usr/lib/systemd/system/sshd-keygen.service ] \
  || [ -e /lib/systemd/system/sshd-keygen.service ]; then
  for key in /etc/ssh/ssh_host_*; do
    [ -e "$key" ] || continue
    rm -f "$key"
  done
  say "ssh host keys removed (regenerated at first boot)"
else
  say "ssh host keys kept: nothing on this image regenerates them at boot"
fi

# An empty machine-id makes systemd generate a new one at first boot; a missing file would not.
if [ -f /etc/machine-id ] && [ ! -L /etc/machine-id ]; then
  : >/etc/machine-id
  say "/etc/machine-id truncated"
fi
if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
  rm -f /var/lib/dbus/machine-id
  ln -s /etc/machine-id /var/lib/dbus/machine-id
  say "/var/lib/dbus/machine-id linked to /etc/machine-id"
fi

# Shell history of root and of every user with a home.
for history in /root/.bash_history /home/*/.bash_history /root/.lesshst /root/.viminfo; do
  [ -f "$history" ] || continue
  rm -f "$history"
  say "$history removed"
done

# Temporary files, keeping this very script (it may run from /tmp), hidden socket folders
# (.X11-unix and the like) and the private /tmp of running services.
self=$(readlink -f "$0" 2>/dev/null || echo "$0")
for dir in /tmp /var/tmp; do
  [ -d "$dir" ] || continue
  find "$dir" -mindepth 1 -maxdepth 1 \
    ! -path "$self" ! -name '.*-unix' ! -name 'systemd-private-*' \
    -exec rm -rf {} + 2>/dev/null || say "some entries of $dir could not be removed"
done
say "/tmp and /var/tmp emptied"

# Package caches.
if command -v yum >/dev/null 2>&1; then
  yum clean all >/dev/null 2>&1 || true
elif command -v dnf >/dev/null 2>&1; then
  dnf clean all >/dev/null 2>&1 || true
fi
if command -v apt-get >/dev/null 2>&1; then
  apt-get clean >/dev/null 2>&1 || true
fi
say "package caches cleaned"

# Logs: truncate rather than delete, since running services keep them open; drop rotated ones.
if [ -d /var/log ]; then
  find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' -o -name '*-[0-9]*' \) \
    -delete 2>/dev/null || true
  find /var/log -type f -exec truncate -s 0 {} + 2>/dev/null || true
  say "logs truncated"
fi
if command -v journalctl >/dev/null 2>&1; then
  journalctl --rotate >/dev/null 2>&1 || true
  journalctl --vacuum-time=1s >/dev/null 2>&1 || true
fi

sync
say "done"

#!/bin/sh
# PID 1 of a fresh sandbox until it execs systemd: runs as root of a new user namespace (host ids
# shifted, so nothing here is root on the host) with its own network, mount, pid, uts, ipc and
# cgroup namespaces, still on the host's files. It assembles the
# server's root (overlay of the image layers and the server's disk), a private /proc with a
# writable copy of /proc/sys that never reaches the host, a minimal /dev, then pivots into it.
# Arguments: SB (server folder), NAME (hostname), LOWER (overlay lowerdir), BACKLOG (the value
# net.core.netdev_max_backlog starts from, since this kernel gives a namespace none of its own).
set -eu
SB=$1 NAME=$2 LOWER=$3 BACKLOG=$4
M=$SB/merged
FS=$SB/sysctl

mount --make-rprivate /
ip link set lo up
mount -t overlay overlay -o "userxattr,lowerdir=$LOWER,upperdir=$SB/upper,workdir=$SB/work" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
cat /proc/sys/kernel/random/uuid > "$SB/boot_id"

# /proc/sys: a tmpfs copy of every knob, with the ones that this sandbox's namespaces really own
# bound back on top. Global knobs (vm.*, fs.*, most of kernel.*) and the net.core ones the kernel
# does not give a network namespace are served from the copy, so a write never reaches the host.
mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs "$FS"
cp -r "$M/proc/sys/." "$FS/" 2>/dev/null || true
(cd "$M/proc/sys" && find . -type d) | while read -r d; do mkdir -p "$FS/$d"; done
(cd "$M/proc/sys" && find . -type f) | while read -r f; do [ -e "$FS/$f" ] || : > "$FS/$f"; done
for d in "$M"/proc/sys/net/*; do
  n=${d##*/}
  [ "$n" = core ] && continue
  mount --bind "$d" "$FS/net/$n"
done
for f in "$M"/proc/sys/net/core/*; do
  n=${f##*/}
  case $n in rmem_max|wmem_max|netdev_max_backlog) continue ;; esac
  mount --bind "$f" "$FS/net/core/$n"
done
echo "$BACKLOG" > "$FS/net/core/netdev_max_backlog"
chmod 644 "$FS/net/core/rmem_max" "$FS/net/core/wmem_max" "$FS/net/core/netdev_max_backlog"
for f in kernel/hostname kernel/domainname kernel/shmmax kernel/shmall kernel/shmmni \
         kernel/shm_rmid_forced kernel/msgmax kernel/msgmnb kernel/msgmni kernel/sem \
         kernel/random/uuid kernel/random/entropy_avail fs/mqueue; do
  [ -e "$M/proc/sys/$f" ] && mount --bind "$M/proc/sys/$f" "$FS/$f"
done
mount --bind "$SB/boot_id" "$FS/kernel/random/boot_id"
cp -a "$FS/." "$SB/sysctl-initial/" 2>/dev/null || true
mount --rbind "$FS" "$M/proc/sys"
if [ -e "$M/proc/sysrq-trigger" ]; then mount --bind /dev/null "$M/proc/sysrq-trigger"; fi

mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$M/sys/fs/cgroup"

# A minimal /dev: no host block device is ever visible, only the server's data disks.
mount -t tmpfs -o mode=755,nosuid tmpfs "$M/dev"
for d in null zero full random urandom tty; do
  : > "$M/dev/$d"
  mount --bind "/dev/$d" "$M/dev/$d"
done
mkdir -p "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o nosuid,nodev tmpfs "$M/dev/shm"
ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"
ln -s /proc/self/fd/1 "$M/dev/stdout"
ln -s /proc/self/fd/2 "$M/dev/stderr"
# Data disks: the server's own block nodes (made on the host for its loop devices, owned by
# this sandbox's root), as /dev/vdb, /dev/vdc, …
for node in "$SB"/data-disks/vd*; do
  [ -b "$node" ] || continue
  n=${node##*/}
  : > "$M/dev/$n"
  mount --bind "$node" "$M/dev/$n"
done

# Kernel modules: the kernel is the host's, which loads none for a sandbox. Its built-in ones are
# listed where modprobe looks (a tmpfs on the mount point the sandbox layer gives, so an image
# never holds the list) and indexed by the image's own depmod, so `modprobe br_netfilter`
# succeeds when the kernel has it built in and fails when it lacks it, as on a node.
MODS=$(cat "$SB/modules-at" 2>/dev/null || true)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
if [ -n "$MODS" ] && [ -d "$M/$MODS" ] && [ ! -L "$M/$MODS" ]; then
  mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs "$M/$MODS"
  cp "$SB/modules.builtin" "$SB/modules.builtin.modinfo" "$M/$MODS/"
  # Inside the root, where the image's links (/sbin/depmod -> /bin/kmod) resolve.
  chroot "$M" /bin/sh -c 'command -v depmod >/dev/null 2>&1 || exit 0; depmod "$1"' sh "${MODS##*/}" \
    >/dev/null 2>&1 || echo "init: depmod of the built-in module list failed"
fi

mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$M/run"
# Kernel filesystems a user namespace may not mount (systemd-nspawn drops the capabilities their
# units test for): masked for this boot only, so that systemd reports "running", not "degraded".
# Root's password for the first boot (adminPass): on /run only, never on the disk.
if [ -f "$SB/admin-pass" ]; then
  mkdir -m 700 "$M/run/cce-instance"
  cp "$SB/admin-pass" "$M/run/cce-instance/admin-pass"
  chmod 600 "$M/run/cce-instance/admin-pass"
fi
mkdir -p "$M/run/systemd/system"
for u in sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
         sys-fs-fuse-connections.mount; do
  ln -s /dev/null "$M/run/systemd/system/$u"
done
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/tmp"
hostname "$NAME"

export container=other
mkdir "$M/run/.oldroot"
cd "$M"
pivot_root . run/.oldroot
cd /
umount -l /run/.oldroot
rmdir /run/.oldroot
exec /lib/systemd/systemd --system

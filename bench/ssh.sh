#!/usr/bin/env bash
# SSH communicator benchmark against one loopback OpenSSH sshd: a 1 GiB file and 10,000 x 4 KiB
# files uploaded by cce-remote, by `tar c | ssh tar x`, by `scp -r` and by Packer 1.6.6 (null
# builder + file provisioner); then 100 short commands by cce-remote, by `ssh` over a
# ControlMaster and by Packer (100 shell provisioners). Prints wall and CPU (user+sys) times and
# ratios ours/peer. Exits non-zero if a peer did not run.
#
# Usage: bench/ssh.sh [BIN]   (BIN, the cce-image-builder binary, is not needed here: the driver
# is the `ssh_bench` example of crates/remote, built in release mode by this script.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[ "$(id -u)" = 0 ] || { echo "bench/ssh.sh: needs root (sshd logs in as root)" >&2; exit 1; }
for tool in /usr/sbin/sshd ssh scp tar packer; do
  command -v "$tool" >/dev/null || { echo "bench/ssh.sh: $tool is missing" >&2; exit 1; }
done

cargo build --release --example ssh_bench -p cce-remote >&2
OURS=$ROOT/target/release/examples/ssh_bench

WORK=$(mktemp -d /tmp/cce-ssh-bench.XXXXXX)
SSHD_PID=
MASTER_SOCK=$WORK/master.sock
cleanup() {
  ssh -S "$MASTER_SOCK" -O exit x 2>/dev/null || true
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- one sshd on loopback -------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
cat > "$WORK/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $WORK/host_key
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin yes
StrictModes no
UsePAM no
PidFile $WORK/sshd.pid
PasswordAuthentication no
Subsystem sftp internal-sftp
MaxSessions 200
MaxStartups 200
CFG
/usr/sbin/sshd -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

SSH_OPTS=(-p "$PORT" -i "$WORK/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes)
SCP_OPTS=(-P "$PORT" -i "$WORK/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes)
TARGET=root@127.0.0.1

# --- data -------------------------------------------------------------------------------------
mkdir -p "$WORK/big" "$WORK/small"
head -c 1073741824 /dev/urandom > "$WORK/big/big.bin"
BIG_SUM=$(sha256sum < "$WORK/big/big.bin")
for d in $(seq -w 0 9); do
  mkdir -p "$WORK/small/d$d"
  head -c $((1000 * 4096)) /dev/urandom > "$WORK/chunk"
  (cd "$WORK/small/d$d" && split -b 4096 -a 3 -d "$WORK/chunk" f)
done
rm -f "$WORK/chunk"
SMALL_COUNT=$(find "$WORK/small" -type f | wc -l)
[ "$SMALL_COUNT" = 10000 ] || { echo "bench/ssh.sh: made $SMALL_COUNT files, not 10000" >&2; exit 1; }

# --- measuring --------------------------------------------------------------------------------
declare -A WALL CPU
failed=()
# measure NAME CMD...: runs CMD, records wall and user+sys CPU of CMD and its children.
measure() {
  local name=$1; shift
  local out=$WORK/time.$name
  if /usr/bin/time -f '%e %U %S' -o "$out" "$@" >"$WORK/log.$name" 2>&1; then
    read -r wall user sys < "$out"
    WALL[$name]=$wall
    CPU[$name]=$(echo "$user + $sys" | bc -l)
    printf '%-22s wall %8.2f s   cpu %8.2f s\n' "$name" "$wall" "${CPU[$name]}"
  else
    echo "$name: FAILED (log follows)"; tail -20 "$WORK/log.$name"
    failed+=("$name")
  fi
}
fresh() { rm -rf "$WORK/dest"; mkdir -p "$WORK/dest"; }
check_big() {
  local got
  got=$(sha256sum < "$WORK/dest/big.bin")
  [ "$got" = "$BIG_SUM" ] || { echo "$1: 1 GiB copy differs" >&2; failed+=("$1-content"); }
}
check_small() {
  local n
  n=$(find "$WORK/dest" -type f | wc -l)
  diff -r -q "$WORK/small" "$WORK/dest/small" >/dev/null || { echo "$1: tree differs ($n files)" >&2; failed+=("$1-content"); }
}

packer_upload_template() { # SOURCE DEST
  cat > "$WORK/packer.json" <<JSON
{ "builders": [{ "type": "null", "communicator": "ssh", "ssh_host": "127.0.0.1",
    "ssh_port": $PORT, "ssh_username": "root", "ssh_private_key_file": "$WORK/client_key" }],
  "provisioners": [{ "type": "file", "source": "$1", "destination": "$2" }] }
JSON
}
packer_exec_template() { # N
  {
    echo "{ \"builders\": [{ \"type\": \"null\", \"communicator\": \"ssh\", \"ssh_host\": \"127.0.0.1\","
    echo "    \"ssh_port\": $PORT, \"ssh_username\": \"root\", \"ssh_private_key_file\": \"$WORK/client_key\" }],"
    echo "  \"provisioners\": ["
    for i in $(seq "$1"); do
      sep=,; [ "$i" = "$1" ] && sep=
      echo "    { \"type\": \"shell\", \"inline\": [\"true\"] }$sep"
    done
    echo "  ] }"
  } > "$WORK/packer-exec.json"
}
export CHECKPOINT_DISABLE=1 PACKER_LOG=0

echo "== 1 GiB file"
fresh; measure big_ours "$OURS" 127.0.0.1 "$PORT" root "$WORK/client_key" upload "$WORK/big/big.bin" "$WORK/dest/big.bin"; check_big big_ours
fresh; measure big_ours_sftp "$OURS" 127.0.0.1 "$PORT" root "$WORK/client_key" upload "$WORK/big/big.bin" "$WORK/dest/big.bin" sftp; check_big big_ours_sftp
fresh; measure big_tar_ssh bash -c "tar -C '$WORK/big' -cf - big.bin | ssh ${SSH_OPTS[*]} $TARGET 'tar -xf - -C $WORK/dest'"; check_big big_tar_ssh
fresh; measure big_scp scp "${SCP_OPTS[@]}" "$WORK/big/big.bin" "$TARGET:$WORK/dest/big.bin"; check_big big_scp
fresh; packer_upload_template "$WORK/big/big.bin" "$WORK/dest/big.bin"
measure big_packer packer build "$WORK/packer.json"; check_big big_packer

echo "== 10,000 x 4 KiB files"
fresh; measure small_ours "$OURS" 127.0.0.1 "$PORT" root "$WORK/client_key" upload "$WORK/small" "$WORK/dest/small"; check_small small_ours
fresh; measure small_ours_sftp "$OURS" 127.0.0.1 "$PORT" root "$WORK/client_key" upload "$WORK/small" "$WORK/dest/small" sftp; check_small small_ours_sftp
fresh; measure small_tar_ssh bash -c "tar -C '$WORK' -cf - small | ssh ${SSH_OPTS[*]} $TARGET 'tar -xf - -C $WORK/dest'"; check_small small_tar_ssh
fresh; measure small_scp scp -r "${SCP_OPTS[@]}" "$WORK/small" "$TARGET:$WORK/dest/"; check_small small_scp
fresh; packer_upload_template "$WORK/small" "$WORK/dest/"
measure small_packer packer build "$WORK/packer.json"; check_small small_packer

echo "== 100 short commands"
measure cmd_ours "$OURS" 127.0.0.1 "$PORT" root "$WORK/client_key" exec 100 true
ssh "${SSH_OPTS[@]}" -o ControlMaster=yes -o ControlPath="$MASTER_SOCK" -fN "$TARGET"
measure cmd_ssh_master bash -c "for i in \$(seq 100); do ssh ${SSH_OPTS[*]} -o ControlPath=$MASTER_SOCK $TARGET true || exit 1; done"
packer_exec_template 100
measure cmd_packer packer build "$WORK/packer-exec.json"

# --- ratios -----------------------------------------------------------------------------------
echo "== ratios (ours / peer; below 1 means we are faster or cheaper)"
ratio() { # OURS PEER
  if [ -n "${WALL[$1]:-}" ] && [ -n "${WALL[$2]:-}" ]; then
    printf '%-16s / %-16s wall %6.2f   cpu %6.2f\n' "$1" "$2" \
      "$(echo "${WALL[$1]} / (${WALL[$2]} + 0.001)" | bc -l)" \
      "$(echo "${CPU[$1]} / (${CPU[$2]} + 0.001)" | bc -l)"
  fi
}
for peer in big_tar_ssh big_scp big_packer; do ratio big_ours "$peer"; done
for peer in small_tar_ssh small_scp small_packer; do ratio small_ours "$peer"; done
for peer in cmd_ssh_master cmd_packer; do ratio cmd_ours "$peer"; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/ssh.sh: did not run or wrong result: ${failed[*]}" >&2
  exit 1
fi

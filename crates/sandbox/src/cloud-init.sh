#!/bin/sh
# cloud-init's stand-in in a local-cloud sandbox whose image has no cloud-init. The sandbox's
# first boot has already done what cloud-init does for a server, before sshd accepted logins:
# root's authorized_keys, adminPass, the user data, missing SSH host keys. So `status` is done,
# and `clean` removes what cloud-init would. The file lives in the sandbox's own layer: it is
# never part of the server's disk, a captured image or an export.
set -u
prog=cloud-init
usage() {
  echo "usage: $prog {status [--wait] [--long] [--format json|yaml|tabular] | clean [--logs] [--seed] [--machine-id] [--reboot] | --version}"
}
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  status)
    long=0 format=tabular
    while [ $# -gt 0 ]; do
      case "$1" in
        -l|--long) long=1 ;;
        -w|--wait) ;;
        --format=*) format=${1#--format=} ;;
        --format) shift; format=${1:-tabular} ;;
        *) echo "$prog status: unknown option $1" >&2; usage >&2; exit 2 ;;
      esac
      shift
    done
    case "$format" in
      json) echo '{"boot_status_code": "enabled-by-sandbox", "detail": "DataSourceNone", "errors": [], "extended_status": "done", "recoverable_errors": {}, "status": "done"}' ;;
      yaml) printf 'boot_status_code: enabled-by-sandbox\ndetail: DataSourceNone\nerrors: []\nextended_status: done\nrecoverable_errors: {}\nstatus: done\n' ;;
      *)
        echo "status: done"
        if [ "$long" = 1 ]; then
          printf 'extended_status: done\nboot_status_code: enabled-by-sandbox\ndetail: DataSourceNone\nerrors: []\n'
        fi
        ;;
    esac
    ;;
  clean)
    logs=0 seed=0 machine_id=0 reboot=0
    while [ $# -gt 0 ]; do
      case "$1" in
        -l|--logs) logs=1 ;;
        -s|--seed) seed=1 ;;
        --machine-id) machine_id=1 ;;
        -r|--reboot) reboot=1 ;;
        -c|--configs) shift ;;
        --configs=*) ;;
        *) echo "$prog clean: unknown option $1" >&2; usage >&2; exit 2 ;;
      esac
      shift
    done
    if [ -d /var/lib/cloud ]; then
      for entry in /var/lib/cloud/*; do
        [ -e "$entry" ] || continue
        if [ "$seed" = 0 ] && [ "${entry##*/}" = seed ]; then continue; fi
        rm -rf "$entry"
      done
    fi
    if [ "$logs" = 1 ]; then
      rm -f /var/log/cloud-init.log /var/log/cloud-init-output.log
    fi
    if [ "$machine_id" = 1 ] && [ -f /etc/machine-id ]; then
      echo uninitialized > /etc/machine-id
    fi
    if [ "$reboot" = 1 ]; then
      exec systemctl reboot
    fi
    ;;
  -v|--version) echo "/usr/bin/$prog 23.1 (local-cloud sandbox stand-in)" ;;
  -h|--help) usage ;;
  "") usage >&2; exit 2 ;;
  *)
    echo "$prog $cmd: not available in a local-cloud sandbox; its stand-in answers status, clean and --version" >&2
    exit 1
    ;;
esac

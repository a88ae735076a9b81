#!/usr/bin/env bash
# scripts/mount.sh: mount a Cairn bucket through cairn-gateway with FUSE.
#
#   mount.sh BUCKET DIR [--rclone] [--endpoint URL] [--env FILE] [-o OPT]...
#   mount.sh DIR --unmount            (or: mount.sh BUCKET DIR --unmount)
#   mount.sh DIR --flush              wait until rclone has uploaded every closed file
#
# Mounts BUCKET on DIR with s3fs-fuse (default) or `rclone mount` (--rclone),
# with the options docs/mounting.md explains, waits until the mount answers
# (ls of DIR works), and returns. --unmount waits until nothing is left to
# upload (rclone), unmounts and waits for the FUSE daemon to exit, so every
# write is in the bucket when it returns.
#
# Endpoint and credentials, first found wins:
#   --endpoint URL, --env FILE (a cluster.env from scripts/cluster.sh: `up
#   --dir D` writes D/cluster.env), the environment (S3_ENDPOINT,
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION), and last
#   ./var/cluster/cluster.env (cluster.sh's default directory).
#
# Options:
#   --rclone          rclone mount (VFS write cache) instead of s3fs
#   --endpoint URL    the gateway, e.g. http://127.0.0.1:9000
#   --env FILE        read S3_ENDPOINT and AWS_* from FILE
#   --region R        SigV4 region (default AWS_DEFAULT_REGION or us-east-1)
#   -o OPT            extra option passed to s3fs (-o OPT) or rclone (OPT as is)
#   --timeout S       how long to wait for the mount / the unmount (default 60)
#   --state-dir D     pid, log and rclone cache (default /tmp/cairn-mount-UID)
#   --unmount         unmount DIR (either kind) and wait for the daemon to exit
#   --flush           rclone: wait until nothing closed is left to upload (s3fs
#                     uploads on close, so there it returns at once)
#   -h, --help        this text
# Logs: STATE/NAME.log (NAME is derived from DIR). Needs /dev/fuse and
# fusermount3 (root, or a user allowed to mount FUSE).
set -euo pipefail

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "mount.sh: $*" >&2; exit 1; }

BUCKET="" DIR="" USE_RCLONE=0 ENDPOINT="" ENVFILE="" REGION="" UNMOUNT=0 FLUSH=0 TIMEOUT=60
STATE="${CAIRN_MOUNT_STATE:-/tmp/cairn-mount-$(id -u)}"
EXTRA=()
pos=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rclone) USE_RCLONE=1; shift ;;
    --endpoint) ENDPOINT="${2:?--endpoint needs a URL}"; shift 2 ;;
    --endpoint=*) ENDPOINT="${1#*=}"; shift ;;
    --env) ENVFILE="${2:?--env needs a file}"; shift 2 ;;
    --env=*) ENVFILE="${1#*=}"; shift ;;
    --region) REGION="${2:?--region needs a value}"; shift 2 ;;
    --region=*) REGION="${1#*=}"; shift ;;
    -o) EXTRA+=("${2:?-o needs an option}"); shift 2 ;;
    --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
    --timeout=*) TIMEOUT="${1#*=}"; shift ;;
    --state-dir) STATE="${2:?--state-dir needs a directory}"; shift 2 ;;
    --state-dir=*) STATE="${1#*=}"; shift ;;
    --unmount|-u) UNMOUNT=1; shift ;;
    --flush) FLUSH=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "mount.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) pos+=("$1"); shift ;;
  esac
done

if [ "$UNMOUNT" = 1 ] || [ "$FLUSH" = 1 ]; then
  case ${#pos[@]} in
    1) DIR="${pos[0]}" ;;
    2) BUCKET="${pos[0]}"; DIR="${pos[1]}" ;;
    *) usage >&2; exit 2 ;;
  esac
else
  [ ${#pos[@]} = 2 ] || { usage >&2; exit 2; }
  BUCKET="${pos[0]}"; DIR="${pos[1]}"
fi
[ -d "$DIR" ] || die "$DIR is not a directory"
DIR="$(cd "$DIR" && pwd -P)"
NAME="$(printf '%s' "$DIR" | tr -c 'A-Za-z0-9._-' '_')"
mkdir -p "$STATE"
chmod 700 "$STATE"
PIDFILE="$STATE/$NAME.pid"
LOG="$STATE/$NAME.log"

is_mounted() { mountpoint -q "$1" 2>/dev/null; }
# running PID: the process exists, is not a zombie waiting for init to reap
# it, and is still our daemon for DIR (pids get reused).
running() {
  local st
  st="$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
  local cmd
  cmd="$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null)" || return 1
  # (empty while the process is between fork and exec)
  [ -z "$cmd" ] || [[ "$cmd" == *" $DIR "* || "$cmd" == *" $DIR" ]]
}
daemon_alive() { [ -s "$PIDFILE" ] && running "$(cat "$PIDFILE")"; }

# rclone_pending: prints how many files rclone's VFS cache has not uploaded
# yet: those its cache metadata marks dirty (rclone sets the mark at the first
# write, before the write returns, and clears it once the upload succeeded).
rclone_pending() {
  { grep -rlF '"Dirty": true' "$STATE/$NAME.cache/vfsMeta" 2>/dev/null || true; } | wc -l
}

# wait_uploads DEADLINE: rclone uploads a file after it is closed; waits
# until its queue is empty (at once for s3fs, which has no such queue).
wait_uploads() {
  local n
  [ "$(cat "$STATE/$NAME.kind" 2>/dev/null)" = rclone ] && daemon_alive || return 0
  while :; do
    n="$(rclone_pending)"
    [ "$n" = 0 ] && return 0
    [ "$SECONDS" -lt "$1" ] || die "rclone still has $n uploads pending after ${TIMEOUT}s"
    sleep 0.2
  done
}

do_unmount() {
  local deadline=$((SECONDS + TIMEOUT))
  # Unmounting before rclone's uploads finish would leave files in its cache.
  wait_uploads "$deadline"
  if is_mounted "$DIR"; then
    until fusermount3 -u "$DIR" 2>/dev/null || fusermount -u "$DIR" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "mount.sh: $DIR is busy; lazy unmount" >&2
        fusermount3 -u -z "$DIR" 2>/dev/null || umount -l "$DIR" || true
        break
      fi
      sleep 0.2
    done
  fi
  # The FUSE daemon exits once the kernel has released the mount. A copy of
  # the mount in another mount namespace (made by `unshare -m`, `ip netns
  # exec`, a browser sandbox, ... while it was mounted) keeps the FUSE
  # connection open: then SIGTERM ends the daemon. Nothing is lost by that:
  # the unmount above succeeded, so no file of this namespace is open, s3fs
  # uploads on close and rclone's queue was empty.
  if [ -s "$PIDFILE" ]; then
    local pid term_at=$((SECONDS + 5))
    pid="$(cat "$PIDFILE")"
    while running "$pid"; do
      if [ "$SECONDS" -ge "$term_at" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        term_at=$((deadline + 1))
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "mount.sh: daemon $pid did not exit; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "$PIDFILE" "$STATE/$NAME.kind"
  ! is_mounted "$DIR" || die "$DIR is still mounted"
}

if [ "$UNMOUNT" = 1 ]; then
  do_unmount
  exit 0
fi
if [ "$FLUSH" = 1 ]; then
  is_mounted "$DIR" || die "$DIR is not mounted"
  wait_uploads $((SECONDS + TIMEOUT))
  exit 0
fi

# ---- endpoint and credentials -------------------------------------------
if [ -z "$ENVFILE" ] && [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -f ./var/cluster/cluster.env ]; then
  ENVFILE=./var/cluster/cluster.env
fi
if [ -n "$ENVFILE" ]; then
  [ -r "$ENVFILE" ] || die "cannot read $ENVFILE"
  # shellcheck disable=SC1090
  . "$ENVFILE"
fi
ENDPOINT="${ENDPOINT:-${S3_ENDPOINT:-}}"
REGION="${REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
[ -n "$ENDPOINT" ] || die "no endpoint: --endpoint URL, --env FILE or S3_ENDPOINT"
[ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ] ||
  die "no credentials: --env FILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
ENDPOINT="${ENDPOINT%/}"

[ -e /dev/fuse ] || die "/dev/fuse is missing (modprobe fuse)"
is_mounted "$DIR" && die "$DIR is already a mount point"
if daemon_alive; then die "a mount daemon for $DIR is still running (pid $(cat "$PIDFILE"))"; fi

: > "$LOG"
if [ "$USE_RCLONE" = 1 ]; then echo rclone; else echo s3fs; fi > "$STATE/$NAME.kind"
if [ "$USE_RCLONE" = 0 ]; then
  command -v s3fs >/dev/null || die "s3fs is not installed (apt-get install s3fs)"
  opts="url=$ENDPOINT,use_path_request_style,endpoint=$REGION,sigv4"
  opts+=",listobjectsv2,complement_stat"
  opts+=",multipart_size=32,parallel_count=4,enable_noobj_cache,stat_cache_expire=60"
  opts+=",dbglevel=warn,retries=3"
  for o in "${EXTRA[@]}"; do opts+=",$o"; done
  # -f: s3fs stays our child (its pid is the one to wait for on unmount).
  # Keys go through the environment: s3fs's passwd file splits on ':'.
  AWSACCESSKEYID="$AWS_ACCESS_KEY_ID" AWSSECRETACCESSKEY="$AWS_SECRET_ACCESS_KEY" \
    setsid s3fs "$BUCKET" "$DIR" -f -o "$opts" >>"$LOG" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
else
  command -v rclone >/dev/null || die "rclone is not installed (apt-get install rclone)"
  mkdir -p "$STATE/$NAME.cache"
  env -u AWS_CA_BUNDLE \
    RCLONE_CONFIG_CAIRN_TYPE=s3 RCLONE_CONFIG_CAIRN_PROVIDER=Other \
    RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
    RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    RCLONE_CONFIG_CAIRN_ENDPOINT="$ENDPOINT" RCLONE_CONFIG_CAIRN_REGION="$REGION" \
    RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE=true \
    setsid rclone --config /dev/null mount "cairn:$BUCKET" "$DIR" \
      --vfs-cache-mode writes --vfs-write-back 0s --cache-dir "$STATE/$NAME.cache" \
      --dir-cache-time 10s --s3-no-check-bucket --s3-chunk-size 16M --s3-upload-cutoff 16M \
      --log-level NOTICE \
      "${EXTRA[@]}" >>"$LOG" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
fi

deadline=$((SECONDS + TIMEOUT))
until is_mounted "$DIR" && ls "$DIR" >/dev/null 2>&1; do
  if ! daemon_alive; then
    echo "mount.sh: the mount daemon exited; its log ($LOG):" >&2
    tail -n 20 "$LOG" >&2
    rm -f "$PIDFILE" "$STATE/$NAME.kind"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "mount.sh: $DIR not mounted after ${TIMEOUT}s; log ($LOG):" >&2
    tail -n 20 "$LOG" >&2
    do_unmount || true
    exit 1
  fi
  sleep 0.2
done
echo "mount.sh: s3://$BUCKET on $DIR via $([ "$USE_RCLONE" = 1 ] && echo rclone || echo s3fs) ($ENDPOINT; log $LOG)"

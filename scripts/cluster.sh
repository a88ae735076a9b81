#!/usr/bin/env bash
# scripts/cluster.sh: a local Cairn cluster on 127.0.0.1 in one command.
#
#   cluster.sh up     [--dir DIR] [--chunkservers N] [--base-port P] [--gateway-opts "..."]
#   cluster.sh down   [--dir DIR]          stop every daemon (SIGTERM, then SIGKILL)
#   cluster.sh status [--dir DIR]          processes, then `cairn status`
#   cluster.sh stop NAME  [--dir DIR]      kill -9 one daemon (meta1..3, chunk1..N, gateway)
#   cluster.sh start NAME [--dir DIR]      start it again with the same command line
#
# up starts 3 cairn-meta, N cairn-chunk (default 6) and one cairn-gateway under
# DIR (default ./var/cluster): data in DIR/meta1.., DIR/chunk1.., logs in
# DIR/logs, pids in DIR/pids. It creates the cluster secret (DIR/secret) and a
# root S3 key (DIR/credentials) if absent, waits until the gateway answers an
# authenticated S3 request, prints the endpoint and credentials, and writes
# DIR/cluster.env (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION, CAIRN_SECRET, CAIRN_META) so `. DIR/cluster.env` sets up
# aws and cairn. Ports: metadata P+1..P+3, chunkservers P+100+i, gateway
# P+2000 (P = 7000 by default: 7001-7003, 7101.., S3 on 9000).
# Binaries come from $CAIRN_BUILD or ./build (built there if missing).
# Extra daemon flags: CAIRN_META_OPTS, CAIRN_CHUNK_OPTS, CAIRN_GATEWAY_OPTS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${CAIRN_BUILD:-$ROOT/build}"
DIR=./var/cluster
NCHUNK=6
BASE=7000
GW_OPTS="${CAIRN_GATEWAY_OPTS:-}"
REGION=us-east-1

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
[ $# -gt 0 ] && shift
name=""
case "$cmd" in
  stop|start) name="${1:-}"; [ $# -gt 0 ] && shift ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --dir=*) DIR="${1#*=}"; shift ;;
    --chunkservers) NCHUNK="$2"; shift 2 ;;
    --chunkservers=*) NCHUNK="${1#*=}"; shift ;;
    --base-port|--port-base) BASE="$2"; BASE_SET=1; shift 2 ;;
    --base-port=*|--port-base=*) BASE="${1#*=}"; BASE_SET=1; shift ;;
    --gateway-opts) GW_OPTS="$2"; shift 2 ;;
    --gateway-opts=*) GW_OPTS="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
# The ports of an existing cluster are the ones it was started with.
if [ -z "${BASE_SET:-}" ] && [ -s "$DIR/base-port" ]; then BASE="$(cat "$DIR/base-port")"; fi

META_BIN="$BUILD/metadata/cairn-meta"
CHUNK_BIN="$BUILD/chunkserver/cairn-chunk"
GW_BIN="$BUILD/gateway/cairn-gateway"
CLI_BIN="$BUILD/cli/cairn"

ensure_built() {
  local missing=0
  for b in "$META_BIN" "$CHUNK_BIN" "$GW_BIN" "$CLI_BIN"; do [ -x "$b" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  if [ -n "${CAIRN_BUILD:-}" ]; then
    echo "cluster.sh: binaries missing in CAIRN_BUILD=$BUILD" >&2; exit 1
  fi
  if ! command -v cmake >/dev/null || ! command -v pkg-config >/dev/null; then
    "$ROOT/scripts/install-deps.sh"
  fi
  echo "cluster.sh: building into $BUILD" >&2
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >&2
}

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
pidfile() { echo "$DIR/pids/$1.pid"; }
alive() { local f; f="$(pidfile "$1")"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# launch NAME CMD...: records the command line, starts it in the background.
launch() {
  local n="$1"; shift
  mkdir -p "$DIR/pids" "$DIR/logs" "$DIR/cmd"
  printf '%q ' "$@" > "$DIR/cmd/$n"
  relaunch "$n"
}
relaunch() {
  local n="$1"
  if alive "$n"; then echo "cluster.sh: $n already running (pid $(cat "$(pidfile "$n")"))" >&2; return 0; fi
  # setsid: the daemon survives the shell that started it.
  setsid bash -c "exec $(cat "$DIR/cmd/$n")" >>"$DIR/logs/$n.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$n")"
}

meta_urls() {
  local u=""
  for i in 1 2 3; do u="$u${u:+,}http://127.0.0.1:$((BASE + i))"; done
  echo "$u"
}

names() {
  local n
  for n in meta1 meta2 meta3; do echo "$n"; done
  if [ -d "$DIR/cmd" ]; then
    ls "$DIR/cmd" | grep '^chunk[0-9]*$' | sort -V
  fi
  echo gateway
}

s3_ready() {
  local ak sk
  read -r ak sk < <(tr ':' ' ' < "$DIR/credentials")
  curl -sf -o /dev/null --max-time 3 --aws-sigv4 "aws:amz:$REGION:s3" -u "$ak:$sk" \
       "http://127.0.0.1:$(cat "$DIR/gateway.port")/"
}

stop_one() {
  local n="$1" sig="${2:-TERM}" f pid
  f="$(pidfile "$n")"
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd_up() {
  ensure_built
  mkdir -p "$DIR/logs" "$DIR/pids" "$DIR/cmd"
  echo "$BASE" > "$DIR/base-port"
  if [ ! -s "$DIR/secret" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/secret")
  fi
  if [ ! -s "$DIR/credentials" ]; then
    local ak sk
    ak="CAIRN$(head -c 4096 /dev/urandom | tr -dc "A-Z0-9" | head -c 15)"
    sk="$(head -c 512 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 40)"
    (umask 077; echo "$ak:$sk" > "$DIR/credentials")
  fi
  # Refuse to start on a port already in use (clearer than a daemon's bind error).
  local p busy=""
  for p in $((BASE + 1)) $((BASE + 2)) $((BASE + 3)) $(seq $((BASE + 101)) $((BASE + 100 + NCHUNK))) \
           $((BASE + 2000)); do
    port_busy "$p" && busy="$busy $p"
  done
  if [ -n "$busy" ] && ! alive meta1; then
    echo "cluster.sh: ports already in use:$busy (choose another --base-port)" >&2; exit 1
  fi
  local peers="" i
  for i in 1 2 3; do peers="$peers${peers:+,}$i=http://127.0.0.1:$((BASE + i))"; done
  for i in 1 2 3; do
    alive "meta$i" && continue
    launch "meta$i" "$META_BIN" --id "$i" --listen "127.0.0.1:$((BASE + i))" --peers "$peers" \
      --data-dir "$DIR/meta$i" --cluster-secret-file "$DIR/secret" ${CAIRN_META_OPTS:-}
  done
  for i in $(seq 1 "$NCHUNK"); do
    alive "chunk$i" && continue
    local port=$((BASE + 100 + i))
    echo "$port" > "$DIR/chunk$i.port"
    # One simulated host per chunkserver: placement wants K+M distinct hosts.
    # Each registers itself with the metadata service and heartbeats it.
    launch "chunk$i" "$CHUNK_BIN" --data-dir "$DIR/chunk$i" --port "$port" \
      --cluster-secret-file "$DIR/secret" --reserve 256M --meta "$(meta_urls)" \
      --host "chunk$i" ${CAIRN_CHUNK_OPTS:-}
  done
  local gwport=$((BASE + 2000))
  echo "$gwport" > "$DIR/gateway.port"
  if ! alive gateway; then
    # shellcheck disable=SC2086
    launch gateway "$GW_BIN" --port "$gwport" --meta "$(meta_urls)" \
      --cluster-secret-file "$DIR/secret" --credentials-file "$DIR/credentials" \
      --region "$REGION" $GW_OPTS
  fi
  local deadline=$((SECONDS + 60))
  until s3_ready; do
    for n in meta1 meta2 meta3 gateway $(seq -f 'chunk%g' 1 "$NCHUNK"); do
      if ! alive "$n"; then
        echo "cluster.sh: $n exited; last log lines:" >&2; tail -n 20 "$DIR/logs/$n.log" >&2
        cmd_down >&2; exit 1
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: the gateway did not answer within 60 s (logs in $DIR/logs)" >&2
      cmd_down >&2; exit 1
    fi
    sleep 0.2
  done
  # Placement needs the chunkservers registered and heartbeating.
  local registered=0
  for _ in $(seq 150); do
    registered=$(cat "$DIR"/logs/chunk*.log 2>/dev/null | grep -c 'registered' || true)
    [ "$registered" -ge "$NCHUNK" ] && break
    sleep 0.2
  done
  [ "$registered" -ge "$NCHUNK" ] ||
    echo "cluster.sh: warning: only $registered of $NCHUNK chunkservers registered so far" >&2
  for n in meta1 meta2 meta3 gateway $(seq -f 'chunk%g' 1 "$NCHUNK"); do
    if ! alive "$n"; then
      echo "cluster.sh: $n exited; last log lines:" >&2; tail -n 20 "$DIR/logs/$n.log" >&2
      cmd_down >&2; exit 1
    fi
  done
  local ak sk
  read -r ak sk < <(tr ':' ' ' < "$DIR/credentials")
  cat > "$DIR/cluster.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$gwport
export AWS_ACCESS_KEY_ID=$ak
export AWS_SECRET_ACCESS_KEY=$sk
export AWS_DEFAULT_REGION=$REGION
export CAIRN_SECRET=$(cat "$DIR/secret")
export CAIRN_META=$(meta_urls)
EOF
  chmod 600 "$DIR/cluster.env"
  cat <<EOF
Cairn is up: 3 metadata replicas, $NCHUNK chunkservers, 1 gateway (logs: $DIR/logs)
  S3 endpoint:   http://127.0.0.1:$gwport   (region $REGION)
  access key:    $ak
  secret key:    $sk
  environment:   . $DIR/cluster.env
  try:           . $DIR/cluster.env && aws --endpoint-url \$S3_ENDPOINT s3 mb s3://demo
                 cairn --meta \$CAIRN_META status
EOF
}

# stop_many SIG NAME...: signals them all, waits up to 10 s, then SIGKILL.
stop_many() {
  local sig="$1" n f pid pids=()
  shift
  for n in "$@"; do
    f="$(pidfile "$n")"
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kill -"$sig" "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$f"
  done
  local left
  for _ in $(seq 100); do
    left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

cmd_down() {
  # Clients of the metadata service first, then the replicas.
  # shellcheck disable=SC2046
  stop_many TERM gateway $(names | grep '^chunk')
  stop_many TERM meta1 meta2 meta3
  echo "cluster.sh: stopped (data kept in $DIR)"
}

cmd_status() {
  local n
  for n in $(names); do
    [ -f "$DIR/cmd/$n" ] || continue
    if alive "$n"; then printf '%-10s running  pid %s\n' "$n" "$(cat "$(pidfile "$n")")"
    else printf '%-10s stopped\n' "$n"; fi
  done
  if [ -x "$CLI_BIN" ] && [ -s "$DIR/secret" ]; then
    CAIRN_SECRET="$(cat "$DIR/secret")" "$CLI_BIN" --meta "$(meta_urls)" status || true
  fi
}

case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop)
    [ -n "$name" ] && [ -f "$DIR/cmd/$name" ] || { echo "cluster.sh: no daemon '$name' in $DIR" >&2; exit 2; }
    stop_one "$name" KILL ;;
  start)
    [ -n "$name" ] && [ -f "$DIR/cmd/$name" ] || { echo "cluster.sh: no daemon '$name' in $DIR" >&2; exit 2; }
    relaunch "$name" ;;
  -h|--help|"") usage ;;
  *) echo "cluster.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac

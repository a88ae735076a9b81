#!/usr/bin/env bash
# scripts/cluster.sh: a local Cairn cluster on 127.0.0.1 in one command.
#
#   cluster.sh up     [--dir DIR] [--chunkservers N] [--base-port P|auto] [--gateway-opts "..."]
#                     [--no-gateway] [--tls]
#   cluster.sh down   [--dir DIR]          stop every daemon (SIGTERM, then SIGKILL)
#   cluster.sh status [--dir DIR]          processes, then `cairn status`
#   cluster.sh stop NAME  [--dir DIR]      kill -9 one daemon (meta1..3, chunk1..N, gateway)
#   cluster.sh start NAME [--dir DIR]      start it again with the same command line
#   cluster.sh pids   [--dir DIR]          "NAME PID" of every running daemon
#   cluster.sh replace metaN [--dir DIR]   replace a metadata replica (as after a lost disk):
#                                          a new empty one joins as metaJ, the next free name
#                                          (port P+J); prints metaJ
#   cluster.sh build                       install missing packages, then build
#
# up starts 3 cairn-meta, N cairn-chunk (default 6; 0 for none) and one
# cairn-gateway (unless --no-gateway) under DIR (default ./var/cluster): data
# in DIR/meta1.., DIR/chunk1.., logs in DIR/logs, pids in DIR/pids. It creates
# the cluster secret (DIR/secret) and a root S3 key (DIR/credentials) if
# absent, waits until every daemon listens and the gateway answers an
# authenticated S3 request, prints the endpoint and credentials, and writes
# DIR/cluster.env (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION, CAIRN_SECRET, CAIRN_META, and `cairn` on PATH) so `. DIR/cluster.env` sets up
# aws and cairn. Ports: metadata P+1..P+3, chunkservers P+100+i, gateway
# P+2000 (P = 7000 by default: 7001-7003, 7101.., S3 on 9000; --port-base is
# the same option; `auto` picks a free range below the ephemeral ports).
# With --tls the gateway serves HTTPS only: up makes a test CA and a server
# certificate for 127.0.0.1 and localhost in DIR/tls/ (ca.pem, server.pem,
# server.key; kept across restarts) with openssl, and cluster.env's
# S3_ENDPOINT is https://... with AWS_CA_BUNDLE=DIR/tls/ca.pem.
# Binaries come from $CAIRN_BUILD or ./build. When one is missing from ./build,
# up (like build) first runs scripts/install-deps.sh, which installs only what
# is missing, then configures and builds ./build; a build directory that a
# failed configure left behind is configured afresh.
# Extra daemon flags (after the defaults, so they override them):
# CAIRN_META_OPTS, CAIRN_CHUNK_OPTS, CAIRN_GATEWAY_OPTS.
# The metadata replicas run with --garbage-grace 5s (not the daemon's 1 h)
# so that tests see deleted objects' fragments go within seconds: in such a
# cluster a GET longer than 5 s that races an overwrite or delete of its
# object may fail mid-body.

# ---------------------------------------------------------------------------
# Sourced (tests/integration/lib.sh does), this file defines the cluster_*
# functions below and runs nothing: they are the one way Cairn's scripts and
# tests start, stop and find daemons. The cluster they act on is CLUSTER_DIR
# (cluster_use); every daemon has a NAME, its command line in cmd/NAME, its pid
# in pids/NAME.pid and its log in logs/NAME.log. A daemon started by a shell
# that sourced this file is that shell's child, so cluster_stop can tell its
# exit status. Functions return non-zero on failure and never exit.

CLUSTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_REGION=us-east-1
CLUSTER_PORT_LOCKS=()

# cluster_use DIR: the cluster the other functions act on (created if absent).
# Sets CLUSTER_DIR; CLUSTER_BASE becomes the base port DIR was started with,
# if any (else it keeps its value; 7000 if unset).
cluster_use() {
  mkdir -p "$1" || return 1
  CLUSTER_DIR="$(cd "$1" && pwd)"
  if [ -s "$CLUSTER_DIR/base-port" ]; then
    CLUSTER_BASE="$(cat "$CLUSTER_DIR/base-port")"
  else
    CLUSTER_BASE="${CLUSTER_BASE:-7000}"
  fi
}

# cluster_bin meta|chunk|gateway|cli: the path of that binary.
cluster_bin() {
  local b="${CAIRN_BUILD:-$CLUSTER_ROOT/build}"
  case "$1" in
    meta) echo "$b/metadata/cairn-meta" ;;
    chunk) echo "$b/chunkserver/cairn-chunk" ;;
    gateway) echo "$b/gateway/cairn-gateway" ;;
    cli) echo "$b/cli/cairn" ;;
    *) return 2 ;;
  esac
}

# ---- building ---------------------------------------------------------------

# cluster_configure BUILD_DIR CMAKE_ARGS...: cmake -S <source> -B BUILD_DIR.
# A configure that fails in a directory holding a CMakeCache.txt (one made on
# a machine that lacked something) is repeated once from an empty cache.
cluster_configure() {
  local dir="$1" log
  shift
  mkdir -p "$dir" || return 1
  log="$(mktemp)"
  if cmake -S "$CLUSTER_ROOT" -B "$dir" "$@" >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  if [ -f "$dir/CMakeCache.txt" ]; then
    rm -f "$log"
    echo "cluster.sh: configuring $dir afresh" >&2
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
    cmake -S "$CLUSTER_ROOT" -B "$dir" "$@" >/dev/null
    return
  fi
  cat "$log" >&2
  rm -f "$log"
  return 1
}

# cluster_build [--if-missing]: runs scripts/install-deps.sh (it installs only
# what is missing), then configures and builds $CAIRN_BUILD or ./build. With
# --if-missing, does nothing when the daemons and the CLI are all there, and
# refuses to build into a $CAIRN_BUILD that lacks one.
cluster_build() {
  local b="${CAIRN_BUILD:-$CLUSTER_ROOT/build}" n missing=0
  if [ "${1:-}" = --if-missing ]; then
    for n in meta chunk gateway cli; do [ -x "$(cluster_bin "$n")" ] || missing=1; done
    [ "$missing" = 1 ] || return 0
    if [ -n "${CAIRN_BUILD:-}" ]; then
      echo "cluster.sh: binaries missing in CAIRN_BUILD=$b" >&2
      return 1
    fi
  fi
  "$CLUSTER_ROOT/scripts/install-deps.sh" || return 1
  echo "cluster.sh: building into $b" >&2
  cluster_configure "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  cmake --build "$b" -j"$(nproc)" >&2
}

# ---- ports ------------------------------------------------------------------

# cluster_port meta I | chunk I | gateway: the port of that daemon in the
# standard layout on CLUSTER_BASE.
cluster_port() {
  case "$1" in
    meta) echo $((CLUSTER_BASE + $2)) ;;
    chunk) echo $((CLUSTER_BASE + 100 + $2)) ;;
    gateway) echo $((CLUSTER_BASE + 2000)) ;;
    *) return 2 ;;
  esac
}

# cluster_meta_names: the metadata replicas of the cluster (metaI on port
# CLUSTER_BASE+I): those with a command line in cmd/ (a replaced one moves to
# retired/), or meta1..meta3 for a cluster not started yet.
cluster_meta_names() {
  local names
  names="$(ls "$CLUSTER_DIR/cmd" 2>/dev/null | grep -E '^meta[0-9]+$' | sort -V)"
  [ -n "$names" ] || names="meta1 meta2 meta3"
  echo $names
}

# cluster_meta_urls: the replicas' URLs, comma-separated (--meta).
cluster_meta_urls() {
  local n u=""
  for n in $(cluster_meta_names); do u="$u${u:+,}http://127.0.0.1:$((CLUSTER_BASE + ${n#meta}))"; done
  echo "$u"
}

# _cluster_listening: fills the set _CLUSTER_LISTENING with the TCP ports
# something listens on (none without ss).
_cluster_listening() {
  local addr
  _CLUSTER_LISTENING=()
  while read -r _ _ _ addr _; do
    _CLUSTER_LISTENING[${addr##*:}]=1
  done < <(ss -Htln 2>/dev/null || true)
}
declare -gA _CLUSTER_LISTENING=()

# cluster_pick_base [N]: sets CLUSTER_BASE to a base port whose layout with N
# chunkservers (default 6) is free, below the kernel's ephemeral range
# (outgoing connections take ports there that no check can see). The layout
# lies in 10-port blocks (B..B+9, B+100..B+109 for up to 9 chunkservers,
# B+2000..B+2009): every port of those blocks is free now, and each block is
# locked (flock on /tmp/cairn-ports/BLOCK) for as long as this shell and the
# daemons it starts live, so Cairn clusters started at the same time by other
# shells never pick the same ports.
cluster_pick_base() {
  local n="${1:-6}" eph=32768 locks=/tmp/cairn-ports b blk blocks fd ok p fds try
  { read -r eph _ </proc/sys/net/ipv4/ip_local_port_range; } 2>/dev/null || true
  [ -d "$locks" ] || mkdir -m 1777 "$locks" 2>/dev/null || true
  for ((try = 0; try < 50; try++)); do
    b=$(((RANDOM % ((eph - 12100) / 10)) * 10 + 10000))
    blocks=($((b / 10)))
    for ((blk = (b + 101) / 10; blk <= (b + 100 + (n > 0 ? n : 1)) / 10; blk++)); do blocks+=("$blk"); done
    blocks+=($(((b + 2000) / 10)))
    ok=1
    fds=()
    for blk in "${blocks[@]}"; do
      command -v flock >/dev/null || break
      fd=""
      { exec {fd}>>"$locks/$blk"; } 2>/dev/null || fd=""
      [ -n "$fd" ] || continue # not lockable (another user's file): the check below only
      if flock -n "$fd"; then fds+=("$fd"); else exec {fd}>&-; ok=0; break; fi
    done
    if [ "$ok" = 1 ]; then
      _cluster_listening
      for blk in "${blocks[@]}"; do
        for ((p = blk * 10; p < blk * 10 + 10; p++)); do
          if [ -n "${_CLUSTER_LISTENING[$p]:-}" ]; then ok=0; break 2; fi
        done
      done
    fi
    if [ "$ok" = 1 ]; then
      CLUSTER_BASE=$b
      CLUSTER_PORT_LOCKS+=("${fds[@]}")
      return 0
    fi
    for fd in "${fds[@]}"; do exec {fd}>&-; done
  done
  echo "cluster.sh: no free port range found" >&2
  return 1
}

# ---- one daemon ---------------------------------------------------------------

# _cluster_proc PID: sets _CLUSTER_STATE and _CLUSTER_START to the state
# letter and the start time of a process (/proc/PID/stat); fails if there is
# none. No fork: the wait loops call it often.
_cluster_proc() {
  local s f
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s="${s##*) }"
  read -r -a f <<<"$s"
  _CLUSTER_STATE="${f[0]}"
  _CLUSTER_START="${f[19]}"
}

# _cluster_runs PID: that process exists and is not a zombie (a child of a
# shell that has not reaped it yet, or of an init that reaps late). A killed
# multi-threaded daemon's main thread turns Z while its other threads are
# still exiting and holding its files (a LevelDB LOCK that a restart then
# cannot take): it runs until only the main thread is left.
_cluster_runs() {
  _cluster_proc "$1" || return 1
  case "$_CLUSTER_STATE" in
    Z|X) local t=(/proc/"$1"/task/*); [ "${#t[@]}" -gt 1 ] && [ -e "${t[1]}" ] ;;
    *) return 0 ;;
  esac
}

# cluster_pid NAME: prints NAME's pid and succeeds if that process runs (and
# is the one started as NAME, not a later process that got its pid).
cluster_pid() {
  local pid="" start=""
  { read -r pid <"$CLUSTER_DIR/pids/$1.pid"; } 2>/dev/null || true
  [ -n "$pid" ] && _cluster_runs "$pid" || return 1
  { read -r start <"$CLUSTER_DIR/pids/$1.start"; } 2>/dev/null || true
  [ -z "$start" ] || [ "$start" = "$_CLUSTER_START" ] || return 1
  echo "$pid"
}

cluster_alive() { cluster_pid "$1" >/dev/null; }

# cluster_log NAME: the path of NAME's log.
cluster_log() { echo "$CLUSTER_DIR/logs/$1.log"; }

# cluster_names: every daemon of the cluster (running or not), the metadata
# replicas first, then in version order.
cluster_names() {
  [ -d "$CLUSTER_DIR/cmd" ] || return 0
  ls "$CLUSTER_DIR/cmd" | sort -V | awk '/^meta/ { print; next } { rest[n++] = $0 }
    END { for (i = 0; i < n; i++) print rest[i] }'
}

# cluster_pids: "NAME PID" of every running daemon.
cluster_pids() {
  local n pid
  for n in $(cluster_names); do
    if pid="$(cluster_pid "$n")"; then echo "$n $pid"; fi
  done
}

# cluster_launch NAME CMD...: records CMD as daemon NAME's command line and
# starts it (cluster_start). CMD may begin with a command that execs the rest
# (`ip netns exec NS`, `env VAR=V`): NAME's pid is then the daemon's own.
cluster_launch() {
  local n="$1"
  shift
  mkdir -p "$CLUSTER_DIR/cmd" || return 1
  printf '%q ' "$@" >"$CLUSTER_DIR/cmd/$n"
  cluster_start "$n"
}

# cluster_start NAME: starts NAME with its recorded command line, unless it
# runs; stdout and stderr are appended to its log. It gets a session of its
# own (setsid), so it outlives the shell that started it and no terminal
# signal reaches it.
cluster_start() {
  local n="$1" pid cmd jc=""
  if [ ! -f "$CLUSTER_DIR/cmd/$n" ]; then
    echo "cluster.sh: no daemon '$n' in $CLUSTER_DIR" >&2
    return 2
  fi
  if pid="$(cluster_pid "$n")"; then
    echo "cluster.sh: $n already running (pid $pid)" >&2
    return 0
  fi
  mkdir -p "$CLUSTER_DIR/pids" "$CLUSTER_DIR/logs" || return 1
  IFS= read -r -d '' cmd <"$CLUSTER_DIR/cmd/$n" || true # the whole file (no newline at its end)
  # Without job control the background child is no process group leader,
  # so setsid execs in it (no fork) and $! is the daemon's pid.
  case "$-" in *m*) set +m; jc=1 ;; esac
  eval "setsid $cmd >>\"\$CLUSTER_DIR/logs/\$n.log\" 2>&1 </dev/null &"
  pid=$!
  [ -z "$jc" ] || set -m
  echo "$pid" >"$CLUSTER_DIR/pids/$n.pid"
  _CLUSTER_START=""
  _cluster_proc "$pid" || true
  echo "$_CLUSTER_START" >"$CLUSTER_DIR/pids/$n.start"
}

# _cluster_start_wait NAME: cluster_start, then waits (30 s at most) until
# the daemon listens and, for a chunkserver, until it registered with the
# metadata service again, so the next command finds it serving.
_cluster_start_wait() {
  local n="$1" port before deadline=$((SECONDS + 30))
  cluster_alive "$n" && { cluster_start "$n"; return; }
  case "$n" in
    meta*) port="$(cluster_port meta "${n#meta}")" ;;
    chunk*) port="$(cluster_port chunk "${n#chunk}")" ;;
    gateway) port="$(cluster_port gateway)" ;;
  esac
  before="$(grep -c 'registered' "$CLUSTER_DIR/logs/$n.log" 2>/dev/null || true)"
  cluster_start "$n" || return
  while :; do
    _cluster_check_alive "$n" || return 1
    _cluster_listening
    if [ -n "${_CLUSTER_LISTENING[$port]:-}" ]; then
      case "$n" in
        chunk*) [ "$(grep -c 'registered' "$CLUSTER_DIR/logs/$n.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0 ;;
        *) return 0 ;;
      esac
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: $n started but is not serving after 30 s (log: $CLUSTER_DIR/logs/$n.log)" >&2
      return 1
    fi
    sleep 0.05
  done
}

# _cluster_wait_gone SECONDS PID...: waits until none of the pids runs;
# fails if one still does after SECONDS.
_cluster_wait_gone() {
  local deadline=$((SECONDS + $1)) pid left
  shift
  while :; do
    left=0
    for pid in "$@"; do
      if _cluster_runs "$pid"; then left=1; fi
    done
    [ "$left" = 0 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

# cluster_kill NAME [SIGNAL]: sends SIGNAL (default KILL) to NAME and waits
# until it is gone (SIGKILL after 5 s).
cluster_kill() {
  local n="$1" sig="${2:-KILL}" pid
  pid="$(cluster_pid "$n")" || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  _cluster_wait_gone 5 "$pid" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  _cluster_wait_gone 5 "$pid"
}

# cluster_stop NAME...: SIGTERM to each, then waits for each; fails, naming
# it, if one does not exit with status 0 (a clean shutdown: a sanitizer
# report makes it non-zero) or does not run. The exit status is known only
# to the shell that started the daemon: use it there.
cluster_stop() {
  local n rc bad=0
  local -A pid=()
  for n in "$@"; do
    if pid[$n]="$(cluster_pid "$n")"; then
      kill -TERM "${pid[$n]}" 2>/dev/null || true # exited meanwhile: wait tells how
    else
      echo "cluster.sh: $n is not running" >&2
      bad=1
    fi
  done
  for n in "$@"; do
    [ -n "${pid[$n]:-}" ] || continue
    rc=0
    wait "${pid[$n]}" 2>/dev/null || rc=$?
    case "$rc" in
      0) ;;
      127) echo "cluster.sh: $n: exit status unknown (not started by this shell)" >&2; bad=1 ;;
      *) echo "cluster.sh: $n exited with status $rc on SIGTERM" >&2; bad=1 ;;
    esac
  done
  return "$bad"
}

# _cluster_stop_many NAME...: SIGTERM to every one running, SIGKILL to those
# left after 10 s; their pid files go.
_cluster_stop_many() {
  local n pid pids=()
  for n in "$@"; do
    if pid="$(cluster_pid "$n")"; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
    rm -f "$CLUSTER_DIR/pids/$n.pid" "$CLUSTER_DIR/pids/$n.start"
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  _cluster_wait_gone 10 "${pids[@]}" && return 0
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  _cluster_wait_gone 5 "${pids[@]}" || true
}

# cluster_down: stops every daemon of the cluster by its pid (SIGTERM, then
# SIGKILL after 10 s): the metadata service's clients first, then the
# replicas. Data and logs stay.
cluster_down() {
  local n metas=() others=()
  for n in $(cluster_names); do
    case "$n" in meta*) metas+=("$n") ;; *) others+=("$n") ;; esac
  done
  _cluster_stop_many "${others[@]}"
  _cluster_stop_many "${metas[@]}"
}

# ---- logs ---------------------------------------------------------------------

# cluster_show_logs [LINES]: the last LINES (30) lines of every daemon's log.
cluster_show_logs() {
  local f
  for f in "$CLUSTER_DIR"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "== $f"
    # The first warnings, errors and 5xx answers (what a tail scrolls past),
    # then the tail.
    if grep -Eq ' (WARN|ERROR) | -> 5[0-9][0-9] ' "$f"; then
      echo "-- first warnings/errors:"
      grep -E ' (WARN|ERROR) | -> 5[0-9][0-9] ' "$f" | head -n 20
      echo "-- last lines:"
    fi
    tail -n "${1:-30}" "$f"
  done
}

# cluster_sanitizer_scan: shows every AddressSanitizer/UBSan report in the
# daemons' logs; fails if there is one.
cluster_sanitizer_scan() {
  local f bad=0
  for f in "$CLUSTER_DIR"/logs/*.log; do
    [ -f "$f" ] && grep -Eq 'Sanitizer|runtime error:' "$f" || continue
    echo "== sanitizer report in $f"
    grep -E -A30 'Sanitizer|runtime error:' "$f" | head -60
    bad=1
  done
  return "$bad"
}

# ---- the standard cluster ---------------------------------------------------------

# cluster_secret: creates CLUSTER_DIR/secret and CLUSTER_DIR/credentials (a
# root S3 key, AK:SK) unless they exist.
cluster_secret() {
  local ak sk
  if [ ! -s "$CLUSTER_DIR/secret" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_DIR/secret")
  fi
  if [ ! -s "$CLUSTER_DIR/credentials" ]; then
    ak="CAIRN$(head -c 4096 /dev/urandom | tr -dc "A-Z0-9" | head -c 15)"
    sk="$(head -c 512 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 40)"
    (umask 077; echo "$ak:$sk" >"$CLUSTER_DIR/credentials")
  fi
}

# cluster_launch_meta I: metadata replica I (meta$I) of the standard layout,
# with $CAIRN_META_OPTS after the defaults.
CLUSTER_GARBAGE_GRACE=5s
cluster_launch_meta() {
  local i="$1" peers="" j
  for j in 1 2 3; do peers="$peers${peers:+,}$j=http://127.0.0.1:$(cluster_port meta "$j")"; done
  # shellcheck disable=SC2086
  cluster_launch "meta$i" "$(cluster_bin meta)" --id "$i" --listen "127.0.0.1:$(cluster_port meta "$i")" \
    --peers "$peers" --data-dir "$CLUSTER_DIR/meta$i" --cluster-secret-file "$CLUSTER_DIR/secret" \
    --garbage-grace "$CLUSTER_GARBAGE_GRACE" ${CAIRN_META_OPTS:-}
}

# cluster_launch_chunk I: chunkserver I (chunk$I), a simulated host of its own
# (placement wants k+m distinct hosts) that registers with the metadata
# service and heartbeats it; $CAIRN_CHUNK_OPTS after the defaults.
cluster_launch_chunk() {
  local i="$1"
  cluster_port chunk "$i" >"$CLUSTER_DIR/chunk$i.port"
  # shellcheck disable=SC2086
  cluster_launch "chunk$i" "$(cluster_bin chunk)" --data-dir "$CLUSTER_DIR/chunk$i" \
    --port "$(cluster_port chunk "$i")" --cluster-secret-file "$CLUSTER_DIR/secret" --reserve 256M \
    --meta "$(cluster_meta_urls)" --host "chunk$i" ${CAIRN_CHUNK_OPTS:-}
}

# cluster_tls_files: makes CLUSTER_DIR/tls/ca.pem (a test CA, ca.key its
# key) and server.pem / server.key (signed by it, for 127.0.0.1 and
# localhost, valid 30 days) with openssl, unless they exist.
cluster_tls_files() {
  local d="$CLUSTER_DIR/tls" log
  [ -s "$d/ca.pem" ] && [ -s "$d/server.pem" ] && [ -s "$d/server.key" ] && return 0
  command -v openssl >/dev/null || { echo "cluster.sh: --tls needs openssl" >&2; return 1; }
  mkdir -p "$d" && chmod 700 "$d" || return 1
  log="$d/openssl.log"
  (
    set -e
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
      -subj "/CN=Cairn test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=127.0.0.1"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.pem
    rm -f server.csr server.ext ca.srl
  ) >"$log" 2>&1 || { echo "cluster.sh: openssl failed:" >&2; cat "$log" >&2; return 1; }
  rm -f "$log"
}

# cluster_s3_url: the gateway's S3 endpoint (https:// when it serves TLS).
cluster_s3_url() {
  if [ -f "$CLUSTER_DIR/tls/enabled" ]; then echo "https://127.0.0.1:$(cluster_port gateway)"
  else echo "http://127.0.0.1:$(cluster_port gateway)"; fi
}

# cluster_launch_gateway [--tls]: the S3 gateway, with $CAIRN_GATEWAY_OPTS
# after the defaults; with --tls it serves HTTPS with CLUSTER_DIR/tls's
# certificate (cluster_tls_files).
cluster_launch_gateway() {
  local tls=()
  rm -f "$CLUSTER_DIR/tls/enabled"
  if [ "${1:-}" = --tls ]; then
    cluster_tls_files || return 1
    tls=(--tls-cert "$CLUSTER_DIR/tls/server.pem" --tls-key "$CLUSTER_DIR/tls/server.key")
    : >"$CLUSTER_DIR/tls/enabled"
  fi
  cluster_port gateway >"$CLUSTER_DIR/gateway.port"
  # shellcheck disable=SC2086
  cluster_launch gateway "$(cluster_bin gateway)" --port "$(cluster_port gateway)" \
    --meta "$(cluster_meta_urls)" --cluster-secret-file "$CLUSTER_DIR/secret" \
    --credentials-file "$CLUSTER_DIR/credentials" --region "$CLUSTER_REGION" "${tls[@]}" \
    ${CAIRN_GATEWAY_OPTS:-}
}

_cluster_s3_ready() {
  local ak sk ca=()
  IFS=: read -r ak sk <"$CLUSTER_DIR/credentials"
  [ -f "$CLUSTER_DIR/tls/enabled" ] && ca=(--cacert "$CLUSTER_DIR/tls/ca.pem")
  curl -sf -o /dev/null --max-time 3 "${ca[@]}" --aws-sigv4 "aws:amz:$CLUSTER_REGION:s3" \
    -u "$ak:$sk" "$(cluster_s3_url)/"
}

# _cluster_check_alive NAME...: fails, with the log's last lines, if one exited.
_cluster_check_alive() {
  local n
  for n in "$@"; do
    cluster_alive "$n" && continue
    echo "cluster.sh: $n exited; last log lines:" >&2
    tail -n 20 "$(cluster_log "$n")" >&2
    return 1
  done
}

# _cluster_up_once NCHUNK GATEWAY(0|1) [--tls]: one attempt of cluster_up on CLUSTER_BASE.
_cluster_up_once() {
  local nchunk="$1" gw="$2" tls="${3:-}" i n p names=() metas ports=() busy="" deadline registered
  cluster_secret || return 1
  echo "$CLUSTER_BASE" >"$CLUSTER_DIR/base-port"
  metas="$(cluster_meta_names)"
  for n in $metas; do names+=("$n"); ports+=($((CLUSTER_BASE + ${n#meta}))); done
  for ((i = 1; i <= nchunk; i++)); do names+=("chunk$i"); done
  [ "$gw" = 1 ] && names+=(gateway)
  for ((i = 1; i <= nchunk; i++)); do ports+=($((CLUSTER_BASE + 100 + i))); done
  [ "$gw" = 1 ] && ports+=($((CLUSTER_BASE + 2000)))
  # Refuse ports already in use (clearer than a daemon's bind error).
  if ! cluster_alive "${names[0]}"; then
    _cluster_listening
    for p in "${ports[@]}"; do
      [ -z "${_CLUSTER_LISTENING[$p]:-}" ] || busy="$busy $p"
    done
    if [ -n "$busy" ]; then
      echo "cluster.sh: ports already in use:$busy (choose another --base-port)" >&2
      return 3
    fi
  fi
  # A replica that has a command line keeps it (one that joined has --join).
  for n in $metas; do
    cluster_alive "$n" && continue
    if [ -f "$CLUSTER_DIR/cmd/$n" ]; then cluster_start "$n" || return 1
    else cluster_launch_meta "${n#meta}" || return 1; fi
  done
  for ((i = 1; i <= nchunk; i++)); do cluster_alive "chunk$i" || cluster_launch_chunk "$i" || return 1; done
  if [ "$gw" = 1 ] && ! cluster_alive gateway; then
    # shellcheck disable=SC2086
    cluster_launch_gateway $tls || return 1
  fi
  # Every daemon listens (or one exited: a port taken since the check).
  deadline=$((SECONDS + 30))
  while command -v ss >/dev/null; do
    _cluster_check_alive "${names[@]}" || return 1
    _cluster_listening
    busy=""
    for p in "${ports[@]}"; do
      [ -n "${_CLUSTER_LISTENING[$p]:-}" ] || { busy=1; break; }
    done
    [ -z "$busy" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: not every daemon listens after 30 s (logs in $CLUSTER_DIR/logs)" >&2
      return 1
    fi
    sleep 0.05
  done
  if [ "$gw" = 1 ]; then
    deadline=$((SECONDS + 60))
    until _cluster_s3_ready; do
      _cluster_check_alive "${names[@]}" || return 1
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "cluster.sh: the gateway did not answer within 60 s (logs in $CLUSTER_DIR/logs)" >&2
        return 1
      fi
      sleep 0.05
    done
  fi
  # Placement needs the chunkservers registered and heartbeating.
  registered=0
  if [ "$nchunk" -gt 0 ]; then
    deadline=$((SECONDS + 30))
    while :; do
      registered=$(cat "$CLUSTER_DIR"/logs/chunk*.log 2>/dev/null | grep -c 'registered' || true)
      [ "$registered" -lt "$nchunk" ] && [ "$SECONDS" -lt "$deadline" ] || break
      sleep 0.05
    done
    [ "$registered" -ge "$nchunk" ] ||
      echo "cluster.sh: warning: only $registered of $nchunk chunkservers registered so far" >&2
  fi
  _cluster_check_alive "${names[@]}"
}

# _cluster_port_clash: a daemon's log says it could not bind its port.
_cluster_port_clash() { grep -qs 'cannot listen on' "$CLUSTER_DIR"/logs/*.log; }

# cluster_up [N] [--no-gateway] [--tls]: the standard cluster in CLUSTER_DIR: 3
# metadata replicas, N chunkservers (default 6; 0: none) and the gateway on
# CLUSTER_BASE's ports (starting only the daemons that are not running); waits
# until every daemon listens, the gateway answers a signed ListBuckets and the
# chunkservers registered; writes CLUSTER_DIR/cluster.env and prints the
# endpoint and keys. With CLUSTER_BASE=auto, picks a free range
# (cluster_pick_base) and, when a daemon loses its port to another process
# meanwhile, starts afresh on another range (three attempts). On failure the
# daemons it started are stopped. --tls: the gateway serves HTTPS
# (cluster_launch_gateway --tls); cluster.env adds AWS_CA_BUNDLE.
cluster_up() {
  local nchunk=6 gw=1 auto=0 fresh=0 attempt rc ak sk tls=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-gateway) gw=0 ;;
      --tls) tls=--tls ;;
      *) nchunk="$1" ;;
    esac
    shift
  done
  [ "$CLUSTER_BASE" != auto ] || auto=1
  [ -d "$CLUSTER_DIR/cmd" ] || fresh=1
  for attempt in 1 2 3; do
    if [ "$auto" = 1 ]; then
      cluster_pick_base "$nchunk" || return 1
      echo "cluster.sh: up in $CLUSTER_DIR on base port $CLUSTER_BASE (attempt $attempt)" >&2
    fi
    rc=0
    _cluster_up_once "$nchunk" "$gw" $tls || rc=$?
    [ "$rc" = 0 ] && break
    cluster_down >&2
    if [ "$auto" = 0 ] || [ "$fresh" = 0 ] || { [ "$rc" != 3 ] && ! _cluster_port_clash; }; then
      return 1
    fi
    # Empty again for the next range (the ports are in the command lines).
    rm -rf "${CLUSTER_DIR:?}"/* || return 1
    CLUSTER_BASE=auto
  done
  [ "$rc" = 0 ] || return 1
  IFS=: read -r ak sk <"$CLUSTER_DIR/credentials"
  {
    [ "$gw" = 0 ] || cat <<EOF
export S3_ENDPOINT=$(cluster_s3_url)
export AWS_ACCESS_KEY_ID=$ak
export AWS_SECRET_ACCESS_KEY=$sk
export AWS_DEFAULT_REGION=$CLUSTER_REGION
EOF
    [ "$gw" = 0 ] || [ ! -f "$CLUSTER_DIR/tls/enabled" ] ||
      echo "export AWS_CA_BUNDLE=$CLUSTER_DIR/tls/ca.pem"
    echo "export CAIRN_SECRET=$(cat "$CLUSTER_DIR/secret")"
    echo "export CAIRN_META=$(cluster_meta_urls)"
    # `cairn` (the hints below and in the docs) on PATH, once.
    local clidir
    clidir="$(cd "$(dirname "$(cluster_bin cli)")" && pwd)"
    echo "case \":\$PATH:\" in *\":$clidir:\"*) ;; *) export PATH=\"$clidir:\$PATH\" ;; esac"
  } >"$CLUSTER_DIR/cluster.env"
  chmod 600 "$CLUSTER_DIR/cluster.env"
  local nmeta
  nmeta="$(cluster_meta_names | wc -w)"
  if [ "$gw" = 0 ]; then
    echo "Cairn is up: $nmeta metadata replicas, $nchunk chunkservers, no gateway (logs: $CLUSTER_DIR/logs)"
    echo "  environment:   . $CLUSTER_DIR/cluster.env"
    return 0
  fi
  cat <<EOF
Cairn is up: $nmeta metadata replicas, $nchunk chunkservers, 1 gateway (logs: $CLUSTER_DIR/logs)
  S3 endpoint:   $(cluster_s3_url)   (region $CLUSTER_REGION)
  access key:    $ak
  secret key:    $sk
  environment:   . $CLUSTER_DIR/cluster.env
  try:           . $CLUSTER_DIR/cluster.env && aws --endpoint-url \$S3_ENDPOINT s3 mb s3://demo
                 cairn --meta \$CAIRN_META status
EOF
}

# cluster_status: each daemon running or stopped, then `cairn status` and
# the metadata group's members (`cairn meta status`).
cluster_status() {
  local n pid
  for n in $(cluster_names); do
    if pid="$(cluster_pid "$n")"; then printf '%-10s running  pid %s\n' "$n" "$pid"
    else printf '%-10s stopped\n' "$n"; fi
  done
  if [ -x "$(cluster_bin cli)" ] && [ -s "$CLUSTER_DIR/secret" ]; then
    CAIRN_SECRET="$(cat "$CLUSTER_DIR/secret")" "$(cluster_bin cli)" --meta "$(cluster_meta_urls)" status || true
    echo
    echo "Metadata group:"
    CAIRN_SECRET="$(cat "$CLUSTER_DIR/secret")" "$(cluster_bin cli)" --meta "$(cluster_meta_urls)" meta status || true
  fi
}

# cluster_replace_meta NAME: replaces metadata replica NAME as after a lost
# disk: kill -9, its data deleted, a new empty replica started under the next
# free name metaJ (port CLUSTER_BASE+J) with --join, `cairn meta replace`
# until it is a caught-up voter. NAME's command line moves to retired/; the
# other daemons' command lines and cluster.env name the new replica instead
# (the running ones follow the group by themselves). Prints metaJ.
cluster_replace_meta() {
  local old="$1" oldi j n id join oldurl newurl port cli
  if ! [[ "$old" =~ ^meta([0-9]+)$ ]] || [ ! -f "$CLUSTER_DIR/cmd/$old" ]; then
    echo "cluster.sh: no metadata replica '$old' in $CLUSTER_DIR (cluster.sh status)" >&2
    return 2
  fi
  oldi="${BASH_REMATCH[1]}"
  oldurl="http://127.0.0.1:$((CLUSTER_BASE + oldi))"
  cli=("$(cluster_bin cli)" --meta "$(cluster_meta_urls)")
  export CAIRN_SECRET
  CAIRN_SECRET="$(cat "$CLUSTER_DIR/secret")"
  id="$("${cli[@]}" meta status | awk -v u="$oldurl" '$2 == u { print $1 }')"
  if [ -z "$id" ]; then
    echo "cluster.sh: $old ($oldurl) is not a member of the metadata group (cairn meta status)" >&2
    return 1
  fi
  # The next name nobody had (retired ones included): its port is new too.
  j=0
  for n in $(ls "$CLUSTER_DIR/cmd" "$CLUSTER_DIR/retired" 2>/dev/null | grep -E '^meta[0-9]+$'); do
    [ "${n#meta}" -gt "$j" ] && j="${n#meta}"
  done
  j=$((j + 1))
  if [ "$j" -gt 99 ]; then echo "cluster.sh: no metadata port left (meta1..meta99)" >&2; return 1; fi
  port=$((CLUSTER_BASE + j))
  newurl="http://127.0.0.1:$port"
  _cluster_listening
  if [ -n "${_CLUSTER_LISTENING[$port]:-}" ]; then
    echo "cluster.sh: port $port (for meta$j) is in use" >&2
    return 1
  fi
  echo "cluster.sh: replacing $old (replica $id) by meta$j on $newurl" >&2
  cluster_kill "$old" KILL
  rm -rf "${CLUSTER_DIR:?}/$old"
  mkdir -p "$CLUSTER_DIR/retired"
  mv "$CLUSTER_DIR/cmd/$old" "$CLUSTER_DIR/retired/$old"
  join="$(cluster_meta_urls | cut -d, -f1)"
  # shellcheck disable=SC2086
  cluster_launch "meta$j" "$(cluster_bin meta)" --join "$join" --listen "127.0.0.1:$port" \
    --data-dir "$CLUSTER_DIR/meta$j" --cluster-secret-file "$CLUSTER_DIR/secret" \
    --garbage-grace "$CLUSTER_GARBAGE_GRACE" ${CAIRN_META_OPTS:-} || return 1
  "${cli[@]}" meta replace "$id" "$newurl" --wait >&2 || return 1
  # Restarts and new shells name the new replica.
  for n in $(ls "$CLUSTER_DIR/cmd"); do
    sed -i "s#127\.0\.0\.1:$((CLUSTER_BASE + oldi))\b#127.0.0.1:$port#g" "$CLUSTER_DIR/cmd/$n"
  done
  if [ -f "$CLUSTER_DIR/cluster.env" ]; then
    sed -i "s#^export CAIRN_META=.*#export CAIRN_META=$(cluster_meta_urls)#" "$CLUSTER_DIR/cluster.env"
  fi
  echo "meta$j"
}

# ---- the command line ------------------------------------------------------------

_cluster_usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 2 && /^# -+$/ { exit } NR > 1 { sub(/^# ?/, ""); print }' \
    "$CLUSTER_ROOT/scripts/cluster.sh"
}

_cluster_main() {
  set -euo pipefail
  local cmd="${1:-}" name="" dir=./var/cluster nchunk=6 base="" gw=1 tls=""
  [ $# -gt 0 ] && shift
  case "$cmd" in
    stop|start|replace) name="${1:-}"; [ $# -gt 0 ] && shift ;;
  esac
  while [ $# -gt 0 ]; do
    case "$1" in
      --dir) dir="$2"; shift 2 ;;
      --dir=*) dir="${1#*=}"; shift ;;
      --chunkservers) nchunk="$2"; shift 2 ;;
      --chunkservers=*) nchunk="${1#*=}"; shift ;;
      --base-port|--port-base) base="$2"; shift 2 ;;
      --base-port=*|--port-base=*) base="${1#*=}"; shift ;;
      --gateway-opts) export CAIRN_GATEWAY_OPTS="$2"; shift 2 ;;
      --gateway-opts=*) export CAIRN_GATEWAY_OPTS="${1#*=}"; shift ;;
      --no-gateway) gw=0; shift ;;
      --tls) tls=--tls; shift ;;
      -h|--help) _cluster_usage; exit 0 ;;
      *) echo "cluster.sh: unknown argument: $1" >&2; _cluster_usage >&2; exit 2 ;;
    esac
  done
  case "$nchunk" in ''|*[!0-9]*) echo "cluster.sh: --chunkservers wants a number" >&2; exit 2 ;; esac
  case "$cmd" in
    build) cluster_build; exit ;;
    -h|--help|"") _cluster_usage; exit 0 ;;
    up|down|status|stop|start|pids|replace) ;;
    *) echo "cluster.sh: unknown command '$cmd'" >&2; _cluster_usage >&2; exit 2 ;;
  esac
  CLUSTER_BASE=7000
  cluster_use "$dir"
  # The ports of an existing cluster are the ones it was started with.
  [ -z "$base" ] || CLUSTER_BASE="$base"
  case "$cmd" in
    up)
      cluster_build --if-missing
      # shellcheck disable=SC2086
      if [ "$gw" = 1 ]; then cluster_up "$nchunk" $tls; else cluster_up "$nchunk" --no-gateway; fi ;;
    down) cluster_down; echo "cluster.sh: stopped (data kept in $CLUSTER_DIR)" ;;
    status) cluster_status ;;
    pids) cluster_pids ;;
    stop)
      [ -n "$name" ] && [ -f "$CLUSTER_DIR/cmd/$name" ] || { echo "cluster.sh: no daemon '$name' in $CLUSTER_DIR" >&2; exit 2; }
      cluster_kill "$name" KILL ;;
    start)
      [ -n "$name" ] && [ -f "$CLUSTER_DIR/cmd/$name" ] || { echo "cluster.sh: no daemon '$name' in $CLUSTER_DIR" >&2; exit 2; }
      _cluster_start_wait "$name" ;;
    replace) cluster_replace_meta "$name" ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _cluster_main "$@"
fi

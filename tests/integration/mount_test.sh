#!/usr/bin/env bash
# A Cairn bucket mounted through cairn-gateway with real FUSE clients
# (scripts/mount.sh), on a cluster from scripts/cluster.sh (3 cairn-meta,
# 6 cairn-chunk, gateway, EC 4+2). Needs /dev/fuse and root (CI has both).
#
# s3fs-fuse: create/read/overwrite/delete, mkdir/rmdir, symlinks, mv of files
# and directories (keys checked over S3), names that need escaping,
# chmod/chown/touch kept in x-amz-meta-* (checked with HEAD and after a
# remount), a hard link refused,
# 3,000 entries in one directory (ls through the mount), a 2 GiB file written
# through the mount (multipart; sha256 through the mount after a remount and
# through aws s3 cp), appends to an inline, an erasure-coded and a multipart
# object (the unchanged parts are UploadPartCopy'd), truncate and pwrite,
# cp -a of common/ and diff -r plus modes and mtimes, git clone of a local
# repository, git commit and git fsck there, rsync -a twice (the second copies
# nothing) and rm -r. rclone mount: create/read/overwrite/delete, mkdir, mv of
# files and directories, a multipart file, cp -a and diff -r, every file in
# the bucket after the unmount. Last, the gateway's log: no 5xx, no aborted
# request and no 4xx but the expected 404s while the clients ran.
#
# Both mounts are unmounted by the EXIT trap, also on failure.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOUNT="$CAIRN_SRC/scripts/mount.sh"
DATA="$TEST_DIR/data"
MNT="$TEST_DIR/s3fs"
RMNT="$TEST_DIR/rclone"
export CAIRN_MOUNT_STATE="$TEST_DIR/mount-state"
mkdir -p "$DATA" "$MNT" "$RMNT"
BIG_MIB=${MOUNT_BIG_MIB:-2048}
NMANY=3000
BUCKET=mounted

[ -e /dev/fuse ] || fail "/dev/fuse is missing"
for t in s3fs rclone fusermount3 git rsync; do
  command -v "$t" >/dev/null || fail "$t is not installed (scripts/install-deps.sh)"
done

mount_cleanup() {
  local rc=$?
  local d
  for d in "$MNT" "$RMNT"; do
    if mountpoint -q "$d"; then
      "$MOUNT" "$d" --unmount --timeout 30 || fusermount3 -u -z "$d" || true
    fi
  done
  # A client mount.sh gave up on (its pid file is left) goes too.
  local pid
  for f in "$CAIRN_MOUNT_STATE"/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -F "$TEST_DIR" >/dev/null &&
      kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$CAIRN_MOUNT_STATE"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }; done
  fi
  # The big data goes even when the logs are kept.
  teardown "$rc" "$DATA" "$CDIR"/chunk*/ "$CAIRN_MOUNT_STATE"/*.cache
}
trap mount_cleanup EXIT

step "test data: $NMANY small files, a git repository"
mkdir -p "$DATA/many"
for i in $(seq -w 1 "$NMANY"); do echo "entry $i" > "$DATA/many/f$i"; done
cp -a "$CAIRN_SRC/common" "$DATA/common"
cp -a "$CAIRN_SRC/common" "$DATA/rcommon"   # for rclone: no symlink (rclone mount has none)
chmod 600 "$DATA/common/cn_log.h"
chmod 750 "$DATA/common/proto"
touch -d '2001-02-03 04:05:06' "$DATA/common/cn_util.c"
ln -s cn_util.c "$DATA/common/link-to-util"
# A repository of its own (three commits, a branch, a tag), so the test does
# not depend on the source tree being a git checkout.
REPO="$DATA/repo"
git init -q -b main "$REPO"
gitc() { git -C "$REPO" -c user.name=cairn -c user.email=cairn@localhost "$@"; }
cp -r "$CAIRN_SRC/common" "$REPO/common"
gitc add -A && gitc commit -q -m "common"
cp -r "$CAIRN_SRC/gateway" "$REPO/gateway"
gitc add -A && gitc commit -q -m "gateway"
gitc tag v1
gitc checkout -q -b side && echo side > "$REPO/side.txt" && gitc add -A && gitc commit -q -m side
gitc checkout -q main
rm -f "$REPO/gateway/gw_buf.c" && gitc commit -q -am "drop a file"

# debug: the gateway logs every request with its status (checked at the end).
CAIRN_GATEWAY_OPTS="--log-level debug" cluster_up 6
ENVF="$CDIR/cluster.env"
# shellcheck disable=SC1090
. "$ENVF"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT" --cli-read-timeout 120)
"${AWS[@]}" s3 mb "s3://$BUCKET" >/dev/null

# Direct S3 checks with curl's SigV4 (fast; aws is for the big transfers).
# Keys and prefixes here are plain ASCII; spaces are escaped.
CURL=(curl -sS --max-time 120 --aws-sigv4 "aws:amz:$AWS_DEFAULT_REGION:s3"
      -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
qenc() { local v="${1// /%20}"; echo "${v//\//%2F}"; } # a query value, as SigV4 signs it
url_of() { echo "$S3_ENDPOINT/$BUCKET/${1// /%20}"; }
has_key() { [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -I "$(url_of "$1")")" = 200 ]; }
get_key() { "${CURL[@]}" -f "$(url_of "$1")"; }
header_of() { # header_of KEY NAME: response header NAME of HEAD KEY
  "${CURL[@]}" -f -I "$(url_of "$1")" | tr -d '\r' | awk -v h="$(echo "$2" | tr '[:upper:]' '[:lower:]')" \
    'BEGIN { FS = ": " } tolower($1) == h { print $2 }'
}
meta_of() { header_of "$1" "x-amz-meta-$2"; } # meta_of KEY NAME: x-amz-meta-NAME of KEY
keys_under() { # keys_under PREFIX: every key below PREFIX (up to 1000), sorted
  "${CURL[@]}" -f "$S3_ENDPOINT/$BUCKET?list-type=2&prefix=$(qenc "$1")" |
    grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/' | sort || true
}
sha_of() { sha256sum < "$1" | cut -d' ' -f1; }
# stat_tree DIR: name, type, mode, size (files) and mtime of everything below DIR.
stat_tree() {
  (cd "$1" && find . -mindepth 1 -printf '%p %y %m %T@\n' | sed 's/\.[0-9]*$//' | sort) || true
  (cd "$1" && find . -type f -printf '%p %s\n' | sort) || true
}
mount_s3fs() { "$MOUNT" "$BUCKET" "$MNT" --env "$ENVF" --timeout 60 >/dev/null; }
umount_s3fs() { "$MOUNT" "$MNT" --unmount --timeout 120; }

step "s3fs: mount.sh $BUCKET (--help, a missing bucket fails cleanly)"
"$MOUNT" --help | grep -- '--unmount' >/dev/null || fail "mount.sh --help"
if "$MOUNT" nosuchbucket "$MNT" --env "$ENVF" --timeout 30 > "$TEST_DIR/nobucket.out" 2>&1; then
  fail "mounting a missing bucket succeeded"
fi
! mountpoint -q "$MNT" || fail "a failed mount left $MNT mounted"
mount_s3fs
mountpoint -q "$MNT" || fail "$MNT is not mounted"
[ -z "$(ls -A "$MNT")" ] || fail "a new bucket is not empty through the mount"

step "s3fs: create, read, overwrite, delete"
echo "first" > "$MNT/a.txt"
[ "$(cat "$MNT/a.txt")" = first ] || fail "read back a.txt"
[ "$(get_key a.txt)" = first ] || fail "a.txt over S3"
echo "second, longer" > "$MNT/a.txt"
[ "$(cat "$MNT/a.txt")" = "second, longer" ] || fail "overwritten a.txt"
[ "$(get_key a.txt)" = "second, longer" ] || fail "overwritten a.txt over S3"
: > "$MNT/empty"
[ -f "$MNT/empty" ] && [ ! -s "$MNT/empty" ] || fail "empty file"
[ "$(header_of empty content-length)" = 0 ] ||
  fail "empty object"
head -c 300000 /dev/urandom > "$DATA/ec.bin"   # erasure-coded (over the 16 KiB inline limit)
cp "$DATA/ec.bin" "$MNT/ec.bin"
same "$DATA/ec.bin" "$MNT/ec.bin"
rm "$MNT/a.txt"
[ ! -e "$MNT/a.txt" ] || fail "a.txt still there after rm"
! has_key a.txt || fail "key a.txt still there after rm"

step "s3fs: mkdir, rmdir, symlink, hard link refused"
mkdir "$MNT/d1"
has_key d1/ || fail "mkdir made no d1/ object"
[ $(( $(meta_of d1/ mode) & 8#7777 )) = $((8#755)) ] || fail "d1/ mode metadata: $(meta_of d1/ mode)"
mkdir -p "$MNT/d1/x/y"
echo in > "$MNT/d1/x/y/f"
rmdir "$MNT/d1/x" 2>/dev/null && fail "rmdir of a non-empty directory succeeded"
rm "$MNT/d1/x/y/f"
rmdir "$MNT/d1/x/y" "$MNT/d1/x"
[ ! -e "$MNT/d1/x" ] || fail "rmdir d1/x"
[ "$(keys_under d1/)" = "d1/" ] || fail "keys under d1/ after rmdir: $(keys_under d1/)"
rmdir "$MNT/d1"
! has_key d1/ || fail "rmdir left d1/"
ln -s ec.bin "$MNT/sym"
[ "$(readlink "$MNT/sym")" = ec.bin ] || fail "readlink"
same "$DATA/ec.bin" "$MNT/sym"
ln "$MNT/ec.bin" "$MNT/hard" 2>/dev/null && fail "a hard link was made (s3fs has none)"
[ ! -e "$MNT/hard" ] || fail "a failed hard link left a file"

step "s3fs: mv of files and directories"
echo moved > "$MNT/m1"
mv "$MNT/m1" "$MNT/m2"
[ "$(cat "$MNT/m2")" = moved ] && [ ! -e "$MNT/m1" ] || fail "mv m1 m2"
! has_key m1 && has_key m2 || fail "keys after mv m1 m2"
mv "$MNT/ec.bin" "$MNT/ec2.bin"
same "$DATA/ec.bin" "$MNT/ec2.bin"
mkdir -p "$MNT/tree/sub/deeper"
for f in one two "with space" sub/three sub/deeper/four; do echo "$f" > "$MNT/tree/$f"; done
cp "$DATA/ec.bin" "$MNT/tree/sub/ec.bin"
chmod 700 "$MNT/tree/sub"
mv "$MNT/tree" "$MNT/tree2"
[ ! -e "$MNT/tree" ] || fail "tree still there after mv"
for f in one two "with space" sub/three sub/deeper/four; do
  [ "$(cat "$MNT/tree2/$f")" = "$f" ] || fail "tree2/$f after mv"
done
same "$DATA/ec.bin" "$MNT/tree2/sub/ec.bin"
[ "$(stat -c %a "$MNT/tree2/sub")" = 700 ] || fail "mode of a moved directory"
[ -z "$(keys_under tree/)" ] || fail "keys left under tree/: $(keys_under tree/)"
want="$(printf '%s\n' tree2/ tree2/one tree2/sub/ tree2/sub/deeper/ tree2/sub/deeper/four \
        tree2/sub/ec.bin tree2/sub/three tree2/two "tree2/with space" | sort)"
[ "$(keys_under tree2/)" = "$want" ] || { keys_under tree2/; fail "keys under tree2/"; }
mv "$MNT/m2" "$MNT/tree2/sub/deeper/m3"
[ "$(cat "$MNT/tree2/sub/deeper/m3")" = moved ] || fail "mv into a directory"

step "s3fs: names that need escaping (list prefixes, copy sources)"
NAMES=('a b' 'p+q' 'pc%41' 'h#1' 'q?x' 'amp&=;' 'ü ñ 日本' "quo'te" '[br]{cb}' 'tilde~ star*')
for n in "${NAMES[@]}"; do
  mkdir -p "$MNT/names/$n"
  echo "$n" > "$MNT/names/$n/$n"
done
mv "$MNT/names" "$MNT/names2"
for n in "${NAMES[@]}"; do
  mv "$MNT/names2/$n/$n" "$MNT/names2/$n/$n.mv"
  [ "$(cat "$MNT/names2/$n/$n.mv")" = "$n" ] || fail "name '$n' after two renames"
done
[ "$(ls "$MNT/names2" | wc -l)" = ${#NAMES[@]} ] || fail "ls names2"
# every name as one directory object and one file, nothing left under names/
[ "$(keys_under names2/ | wc -l)" = $((2 * ${#NAMES[@]} + 1)) ] || { keys_under names2/; fail "keys under names2/"; }
[ -z "$(keys_under names/)" ] || fail "keys left under names/"

step "s3fs: chmod, touch, chown (x-amz-meta-*)"
echo meta > "$MNT/meta.txt"
chmod 640 "$MNT/meta.txt"
# touch -d, not -m: s3fs 1.90 ignores a utimensat whose atime is UTIME_OMIT.
touch -d '2001-02-03 04:05:06 UTC' "$MNT/meta.txt"
chown 1234:2345 "$MNT/meta.txt"
mkdir "$MNT/metadir"
chmod 711 "$MNT/metadir"
touch -d '2002-03-04 05:06:07 UTC' "$MNT/metadir"
[ $(( $(meta_of meta.txt mode) & 8#7777 )) = $((8#640)) ] || fail "x-amz-meta-mode of meta.txt: $(meta_of meta.txt mode)"
[ "$(meta_of meta.txt mtime)" = "$(date -d '2001-02-03 04:05:06 UTC' +%s)" ] ||
  fail "x-amz-meta-mtime of meta.txt: $(meta_of meta.txt mtime)"
[ "$(meta_of meta.txt uid)" = 1234 ] && [ "$(meta_of meta.txt gid)" = 2345 ] || fail "uid/gid metadata"
[ $(( $(meta_of metadir/ mode) & 8#7777 )) = $((8#711)) ] || fail "x-amz-meta-mode of metadir/"
[ "$(get_key meta.txt)" = meta ] || fail "chmod changed the bytes"

step "s3fs: $NMANY entries in one directory (aws s3 sync, ls through the mount)"
"${AWS[@]}" s3 sync --no-progress "$DATA/many" "s3://$BUCKET/many" >/dev/null
n="$(ls "$MNT/many" | wc -l)"
[ "$n" = "$NMANY" ] || fail "ls many: $n entries, want $NMANY"
n="$(ls -l "$MNT/many" | grep -c '^-')"
[ "$n" = "$NMANY" ] || fail "ls -l many: $n files, want $NMANY"
diff <(ls "$DATA/many") <(ls "$MNT/many") >/dev/null || fail "ls many lists other names"
[ "$(cat "$MNT/many/f0001") $(cat "$MNT/many/f$NMANY")" = "entry 0001 entry $NMANY" ] ||
  fail "reading entries of many"
# ... and made through the mount, in parallel.
mkdir "$MNT/many2"
seq 1 300 | xargs -P 16 -I{} sh -c 'echo "par {}" > "$1/many2/p{}"' _ "$MNT"
[ "$(ls "$MNT/many2" | wc -l)" = 300 ] || fail "300 parallel creates"
[ "$(keys_under many2/ | wc -l)" = 301 ] || fail "keys under many2/ (300 files + many2/)"

step "s3fs: a ${BIG_MIB} MiB file through the mount (multipart)"
# Streamed straight into the mount (no local copy); sha256 on the way.
head -c $((BIG_MIB * 1024 * 1024)) \
  < <(openssl enc -aes-128-ctr -pass pass:cairn-mount -nosalt -pbkdf2 < /dev/zero 2>/dev/null) | tee >(sha256sum | cut -d' ' -f1 > "$DATA/big.sha") > "$MNT/big"
for _ in $(seq 600); do [ -s "$DATA/big.sha" ] && break; sleep 0.1; done
BIG_SHA="$(cat "$DATA/big.sha")"
[ "$(stat -c %s "$MNT/big")" = $((BIG_MIB * 1024 * 1024)) ] || fail "size of big"
info="$(header_of big content-length) $(header_of big etag)"
[[ "$info" == "$((BIG_MIB * 1024 * 1024)) \""*'-'[0-9]*'"' ]] || fail "big is not a multipart object: $info"
step "s3fs: read the ${BIG_MIB} MiB back with aws s3 cp"
[ "$("${AWS[@]}" s3 cp --no-progress s3://$BUCKET/big - | sha256sum | cut -d' ' -f1)" = "$BIG_SHA" ] ||
  fail "big through aws differs"

step "s3fs: append (inline, erasure-coded, multipart), truncate, pwrite"
echo "line 1" > "$MNT/log.txt"
echo "line 2" >> "$MNT/log.txt"
[ "$(get_key log.txt)" = "$(printf 'line 1\nline 2')" ] || fail "append to inline"
cp "$DATA/ec.bin" "$DATA/ec.app"
cp "$DATA/ec.bin" "$MNT/ec.app"
for i in 1 2 3; do echo "appended $i" | tee -a "$DATA/ec.app" >> "$MNT/ec.app"; done
same "$DATA/ec.app" "$MNT/ec.app"
# 100 MiB: s3fs uploads it in parts; an append re-uploads the changed tail
# and copies the unchanged parts server-side (UploadPartCopy).
head -c $((100 * 1024 * 1024)) /dev/urandom > "$DATA/mp.bin"
cp "$DATA/mp.bin" "$MNT/mp.bin"
head -c 4000 /dev/urandom | tee -a "$DATA/mp.bin" >> "$MNT/mp.bin"
get_key mp.bin > "$DATA/mp.back"
same "$DATA/mp.bin" "$DATA/mp.back"
truncate -s 123456 "$MNT/ec.app" "$DATA/ec.app"
same "$DATA/ec.app" "$MNT/ec.app"
for f in "$MNT/ec.app" "$DATA/ec.app"; do
  printf 'XYZ' | dd of="$f" bs=1 seek=70000 conv=notrunc status=none
done
same "$DATA/ec.app" "$MNT/ec.app"

step "s3fs: remount; metadata, links and bytes survive"
umount_s3fs
! mountpoint -q "$MNT" || fail "still mounted after mount.sh --unmount"
mount_s3fs
[ "$(stat -c '%a %u %g %Y' "$MNT/meta.txt")" = "640 1234 2345 $(date -d '2001-02-03 04:05:06 UTC' +%s)" ] ||
  fail "meta.txt after remount: $(stat -c '%a %u %g %Y' "$MNT/meta.txt")"
[ "$(stat -c '%a %Y' "$MNT/metadir")" = "711 $(date -d '2002-03-04 05:06:07 UTC' +%s)" ] ||
  fail "metadir after remount: $(stat -c '%a %Y' "$MNT/metadir")"
[ "$(readlink "$MNT/sym")" = ec.bin ] && [ -L "$MNT/sym" ] || fail "symlink after remount"
same "$DATA/ec.app" "$MNT/ec.app"
[ "$(ls "$MNT/many" | wc -l)" = "$NMANY" ] || fail "ls many after remount"
step "s3fs: sha256 of the ${BIG_MIB} MiB through the mount"
[ "$(sha_of "$MNT/big")" = "$BIG_SHA" ] || fail "big through the mount differs"
rm "$MNT/big"
! has_key big || fail "rm big left the key"

step "s3fs: cp -a of a source tree, diff -r"
cp -a "$DATA/common" "$MNT/common"
diff -r --no-dereference "$DATA/common" "$MNT/common" || fail "cp -a: trees differ"
diff <(stat_tree "$DATA/common") <(stat_tree "$MNT/common") || fail "cp -a: modes, sizes or mtimes differ"

step "s3fs: git clone, commit, fsck"
git clone -q "$REPO" "$MNT/repo"
gm() { git -C "$MNT/repo" -c user.name=cairn -c user.email=cairn@localhost "$@"; }
gm fsck --full --strict --no-dangling || fail "git fsck in the clone"
[ -z "$(gm status --porcelain)" ] || { gm status --porcelain | head; fail "git status in the clone"; }
[ "$(gm rev-parse HEAD)" = "$(gitc rev-parse HEAD)" ] || fail "clone HEAD"
[ "$(gm rev-parse v1)" = "$(gitc rev-parse v1)" ] || fail "clone tag v1"
diff -r --exclude=.git "$REPO" "$MNT/repo" || fail "clone's work tree differs"
echo change >> "$MNT/repo/common/cn_log.h"
gm commit -q -am "through the mount"
gm checkout -q origin/side -- side.txt && gm commit -q -m "side file"
gm gc -q
gm fsck --full --strict --no-dangling || fail "git fsck after commit and gc"
[ "$(gm rev-list --count HEAD)" = 5 ] || fail "clone history: $(gm rev-list --count HEAD) commits"

step "s3fs: rsync -a twice (the second copies nothing)"
rsync -a --stats "$DATA/common/" "$MNT/rs/" > "$TEST_DIR/rsync1.out"
grep -q '^Number of regular files transferred: [1-9]' "$TEST_DIR/rsync1.out" ||
  { cat "$TEST_DIR/rsync1.out"; fail "first rsync transferred nothing"; }
diff -r --no-dereference "$DATA/common" "$MNT/rs" || fail "rsync: trees differ"
rsync -a --stats "$DATA/common/" "$MNT/rs/" > "$TEST_DIR/rsync2.out"
grep -q '^Number of regular files transferred: 0$' "$TEST_DIR/rsync2.out" &&
  grep -q '^Total transferred file size: 0 bytes$' "$TEST_DIR/rsync2.out" ||
  { cat "$TEST_DIR/rsync2.out"; fail "second rsync transferred files"; }
[ -z "$(rsync -a -i "$DATA/common/" "$MNT/rs/")" ] || fail "a third rsync itemizes changes"

step "s3fs: rm -r"
rm -r "$MNT/rs" "$MNT/many2"
[ -z "$(keys_under rs/)" ] && [ -z "$(keys_under many2/)" ] || fail "rm -r left keys"
umount_s3fs

step "rclone mount: create, read, overwrite, delete, mkdir, mv"
"$MOUNT" "$BUCKET" "$RMNT" --rclone --env "$ENVF" --timeout 60 >/dev/null
[ -f "$RMNT/meta.txt" ] && [ -d "$RMNT/common" ] || fail "rclone mount lists no s3fs files"
same "$DATA/ec.app" "$RMNT/ec.app"
for n in "${NAMES[@]}"; do
  [ "$(cat "$RMNT/names2/$n/$n.mv")" = "$n" ] || fail "rclone: name '$n'"
done
echo "r first" > "$RMNT/r.txt"
[ "$(cat "$RMNT/r.txt")" = "r first" ] || fail "rclone: read back"
echo "r second" > "$RMNT/r.txt"
[ "$(cat "$RMNT/r.txt")" = "r second" ] || fail "rclone: overwrite"
echo "to delete" > "$RMNT/gone.txt"
rm "$RMNT/gone.txt"
[ ! -e "$RMNT/gone.txt" ] || fail "rclone: rm"
mkdir -p "$RMNT/rdir/sub"
echo a > "$RMNT/rdir/a"; echo b > "$RMNT/rdir/sub/b"
head -c $((40 * 1024 * 1024)) /dev/urandom > "$DATA/r40"   # over rclone's 16 MiB upload cutoff
cp "$DATA/r40" "$RMNT/rdir/sub/r40"
mv "$RMNT/r.txt" "$RMNT/rdir/r.txt"
# rclone 1.60 loses a file whose upload is still running when its directory
# is renamed (docs/mounting.md): wait for the uploads first.
"$MOUNT" "$RMNT" --flush --timeout 120
[ -z "$(keys_under rdir/ | grep -v -x -e rdir/a -e rdir/sub/b -e rdir/sub/r40 -e rdir/r.txt)" ] &&
  [ "$(keys_under rdir/ | wc -l)" = 4 ] || fail "rclone: keys under rdir/ after --flush: $(keys_under rdir/)"
mv "$RMNT/rdir" "$RMNT/rdir2"
[ ! -e "$RMNT/rdir" ] && [ "$(cat "$RMNT/rdir2/sub/b")" = b ] && [ "$(cat "$RMNT/rdir2/r.txt")" = "r second" ] ||
  fail "rclone: mv of a directory"
same "$DATA/r40" "$RMNT/rdir2/sub/r40"
mkdir "$RMNT/emptydir" && rmdir "$RMNT/emptydir" && [ ! -e "$RMNT/emptydir" ] || fail "rclone: mkdir/rmdir"

step "rclone mount: cp -a of a source tree, diff -r"
# rclone 1.60 answers setxattr (the ACL cp -a copies) with EIO: that is the
# only error cp may report (docs/mounting.md).
cp -a "$DATA/rcommon" "$RMNT/common2" 2> "$TEST_DIR/rcp.err" || true
if grep -v "^cp: preserving permissions for .*: Input/output error$" "$TEST_DIR/rcp.err"; then
  fail "rclone: cp -a failed otherwise"
fi
diff -r "$DATA/rcommon" "$RMNT/common2" || fail "rclone: cp -a trees differ"
diff <(cd "$DATA/rcommon" && find . -type f -printf '%p %s %T@\n' | sed 's/\.[0-9]*$//' | sort) \
     <(cd "$RMNT/common2" && find . -type f -printf '%p %s %T@\n' | sed 's/\.[0-9]*$//' | sort) ||
  fail "rclone: sizes or mtimes differ"
"$MOUNT" "$RMNT" --unmount --timeout 120
! mountpoint -q "$RMNT" || fail "rclone: still mounted"

step "rclone's writes are in the bucket after the unmount"
[ "$(get_key rdir2/r.txt)" = "r second" ] || fail "rdir2/r.txt over S3"
get_key rdir2/sub/r40 > "$DATA/r40.back"
same "$DATA/r40" "$DATA/r40.back"
! has_key r.txt && ! has_key gone.txt && [ -z "$(keys_under rdir/)" ] || fail "rclone left old keys"
"${AWS[@]}" s3 sync --no-progress "s3://$BUCKET/common2" "$DATA/common2.back" >/dev/null
diff -r "$DATA/rcommon" "$DATA/common2.back" || fail "common2 in the bucket differs"

step "gateway log: no 5xx, no aborted request, no 4xx but probes for missing keys"
GWLOG="$CDIR/logs/gateway.log"
# (the checks below read the per-request debug lines of gw_s3's s3_done)
n="$(grep -cE 'DEBUG s3: .* -> [0-9]+ \(' "$GWLOG" || true)"
[ "$n" -gt 1000 ] || fail "only $n request lines in the gateway's debug log (format changed?)"
grep -E 'DEBUG s3: .* -> [0-9]+ ' "$GWLOG" | sed -E 's/.* -> ([0-9]+) \(([A-Za-z0-9]+)\).*/\1 \2/' |
  sort | uniq -c | sort -rn
# (This workload never closes a file it is reading early, so no client
# abandons a response half-way.)
# (each line ends with " req=ID": cn_log.h)
bad="$(grep -E 'DEBUG s3: .* -> (5[0-9][0-9] .*|[0-9]+ \(.*\) aborted)( req=[^ ]+)?$' "$GWLOG" || true)"
if [ -n "$bad" ]; then
  echo "$bad" | head -20
  fail "the gateway answered 5xx or aborted requests (above)"
fi
# s3fs probes key, key/ and key_$folder$ with HEAD (404 expected); the mount
# of nosuchbucket above fails on purpose. Any other 4xx is a request these
# clients need that the gateway refused.
bad="$(grep -E 'DEBUG s3: .* -> 4[0-9][0-9] ' "$GWLOG" | grep -v -E ' -> 404 \(HeadObject\)( req=[^ ]+)?$| /nosuchbucket/' || true)"
if [ -n "$bad" ]; then
  echo "$bad" | head -20
  fail "the gateway refused requests of the mount clients (above)"
fi
step "done in $((SECONDS - T0)) s"

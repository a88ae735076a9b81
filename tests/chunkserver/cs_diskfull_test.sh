#!/usr/bin/env bash
# Integration: a chunkserver on a small filesystem (an 8 MiB tmpfs made for the
# test). Puts that would go below the reserve are refused with 507 and leave
# nothing; a disk that fills up during a put (another writer) ends either in
# a complete, readable fragment or in 507 with nothing partial left.
source "$(dirname "$0")/lib.sh"

SMALL="$WORK/small"
mkdir -p "$SMALL"
mount -t tmpfs -o size=8m tmpfs "$SMALL" || fail "cannot mount a tmpfs (the test needs root)"
diskfull_cleanup() {
    local rc=$?
    cluster_down >/dev/null 2>&1 # nothing may hold the tmpfs
    umount -l "$SMALL" 2>/dev/null || true
    teardown "$rc"
}
trap diskfull_cleanup EXIT

# The store's own files come first; the reserve is 1 MiB.
start_cs s "$SMALL/data" --reserve 1M
G=$(group_id 1)
nothing_partial() {
    [ -z "$(ls "$SMALL/data/tmp")" ] || fail "temporaries left: $(ls "$SMALL/data/tmp")"
}

echo "== too large for the space left: refused up front"
head -c $((9 << 20)) /dev/urandom >"$WORK/huge"
got=$(tc s put "$G" 0 4 2 65536 "$WORK/huge" 2>&1 || true)
echo "$got" | grep >/dev/null "^status 507" || fail "huge put: $got"
echo "$got" | grep >/dev/null "X-Cairn-Error: nospace" || fail "no nospace reason: $got"
expect_status 404 s head "$G" 0
nothing_partial

echo "== fill up to the reserve"
head -c $((1 << 20)) /dev/urandom >"$WORK/one"
stored=0
for i in $(seq 0 15); do
    st=$(status_of s put "$G" "$i" 16 16 65536 "$WORK/one")
    if [ "$st" = 201 ]; then
        stored=$((stored + 1))
    elif [ "$st" = 507 ]; then
        break
    else
        fail "put $i: status $st"
    fi
done
echo "stored $stored fragments of 1 MiB before 507"
[ "$stored" -ge 4 ] && [ "$stored" -le 7 ] || fail "stored $stored, expected 4..7"
expect_status 404 s head "$G" "$stored"
nothing_partial
for i in $(seq 0 $((stored - 1))); do
    tc s get "$G" "$i" "$WORK/out" 2>/dev/null || fail "get $i"
    cmp "$WORK/one" "$WORK/out" || fail "fragment $i differs"
done
avail=$(df -B1 --output=avail "$SMALL" | tail -1)
[ "$avail" -ge $((1 << 20)) ] || fail "reserve not kept: $avail bytes free"

echo "== deleting makes room again"
expect_status 204 s delete "$G" 0
expect_status 201 s put "$G" "$stored" 16 16 65536 "$WORK/one"

echo "== the disk fills up during puts (another writer)"
stop_cs s
start_cs s "$SMALL/data" --reserve 0
for i in $(seq 0 15); do tc s delete "$G" "$i" >/dev/null 2>&1 || true; done
head -c $((3 << 20)) /dev/urandom >"$WORK/three"
G2=$(group_id 2)
outcomes=""
for round in 1 2 3 4 5 6; do
    rm -f "$SMALL/hog"
    # Leave ~3.5 MiB, then race a 3 MiB put against a writer taking it all.
    head -c $((4 << 20)) /dev/zero >"$SMALL/hog"
    (sleep "0.0$round"; dd if=/dev/zero of="$SMALL/hog" bs=64k oflag=append conv=notrunc \
        status=none 2>/dev/null || true) &
    hog=$!
    st=$(status_of s put "$G2" 0 4 2 65536 "$WORK/three")
    wait $hog || true
    case "$st" in
    201)
        tc s get "$G2" 0 "$WORK/out" 2>/dev/null || fail "acknowledged put unreadable"
        cmp "$WORK/three" "$WORK/out" || fail "acknowledged put differs"
        rm -f "$SMALL/hog"
        expect_status 204 s delete "$G2" 0
        ;;
    507)
        expect_status 404 s head "$G2" 0
        ;;
    *) fail "round $round: status $st" ;;
    esac
    nothing_partial
    outcomes="$outcomes $st"
done
echo "outcomes:$outcomes"
rm -f "$SMALL/hog"
stop_cs s
echo PASS

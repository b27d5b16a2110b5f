#!/bin/bash
# test_cli_ring_errors -- proves the ring CLI's edge cases of issue 8 give one
# clear line and the right exit status: an oversized `ring create` prints a
# short explanation naming the size and the free space (no HDF5-DIAG
# stack); a bad capacity points at --capacity, not at the type grammar;
# `ring rm ../x` is a usage error (2) like `shm rm`; `tail --timeout 0`
# prints what is there and exits 0 (1 with a message when nothing is);
# `--from -1` and `--from 99999999999999999999` are refused (2); a --from
# beyond the tail says it waits; `write --duration 0` is refused (2) and
# `--count 0` says it wrote nothing; `stat` on an empty stream says
# "empty"; --mode with setuid/execute bits is refused.
set -u
CLI=${H5TIER_CLI:?}
N=h5t-clierr-$$
TMP=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
cleanup() { $CLI ring rm --force $N >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT

free=$(df -B1 --output=avail "${H5TIER_SHM_DIR:-/dev/shm}" | tail -1)
cap=1024; while [ $((cap * 8)) -le $((free * 2)) ]; do cap=$((cap * 2)); done
$CLI ring create $N --dtype u8 --capacity $cap > "$TMP/out" 2>&1; st=$?
[ $st = 1 ] || fail "oversized create: status $st: $(cat $TMP/out)"
grep -q "HDF5-DIAG" "$TMP/out" && fail "oversized create printed the HDF5 stack: $(head -5 $TMP/out)"
[ $(wc -l < "$TMP/out") -le 3 ] || fail "oversized create: $(wc -l < $TMP/out) lines: $(cat $TMP/out)"
grep -q "free" "$TMP/out" || fail "oversized create does not say what is free: $(cat $TMP/out)"
[ -e /dev/shm/$N ] && fail "oversized create left /dev/shm/$N"

$CLI ring create $N --dtype u8 --capacity 1000 > "$TMP/out" 2>&1 && fail "capacity 1000 accepted"
grep -q "hint: --capacity" "$TMP/out" || fail "capacity hint: $(cat $TMP/out)"
grep -q "type grammar" "$TMP/out" && fail "capacity error points at the type grammar: $(cat $TMP/out)"
for m in 4600 0755 1600; do
  $CLI ring create $N --dtype u8 --capacity 16 --mode $m > "$TMP/out" 2>&1; st=$?
  [ $st = 2 ] || fail "--mode $m: status $st: $(cat $TMP/out)"
done

$CLI ring rm ../x > "$TMP/out" 2>&1; st=$?
[ $st = 2 ] || fail "ring rm ../x: status $st: $(cat $TMP/out)"

$CLI ring create $N --dtype u8 --capacity 16 > /dev/null || fail "create"
$CLI ring stat $N > "$TMP/out" || fail "stat"
grep -q "empty" "$TMP/out" || fail "stat of an empty stream: $(cat $TMP/out)"
grep -q "holds 0..0" "$TMP/out" && fail "stat of an empty stream says holds 0..0"
$CLI ring tail $N --timeout 0 > "$TMP/out" 2>&1; st=$?
[ $st = 1 ] || fail "tail --timeout 0 of an empty ring: status $st"
grep -q "no record" "$TMP/out" || fail "tail --timeout 0 of an empty ring: $(cat $TMP/out)"
grep -q "temporarily unavailable" "$TMP/out" && fail "tail --timeout 0 says EAGAIN: $(cat $TMP/out)"

$CLI ring write $N --count 0 2> "$TMP/out" || fail "write --count 0"
grep -q "wrote 0 records" "$TMP/out" || fail "write --count 0: $(cat $TMP/out)"
grep -q "seq" "$TMP/out" && fail "write --count 0 reports a seq range: $(cat $TMP/out)"
timeout 10 $CLI ring write $N --duration 0 > "$TMP/out" 2>&1; st=$?
[ $st = 2 ] || fail "write --duration 0: status $st (124 = ran forever): $(cat $TMP/out)"
$CLI ring write $N --count 5 2>/dev/null || fail "write 5"
timeout 10 $CLI ring tail $N --timeout 0 > "$TMP/out" 2>/dev/null; st=$?
[ $st = 0 ] || fail "tail --timeout 0 with records: status $st"
[ "$(wc -l < $TMP/out)" = 5 ] || fail "tail --timeout 0 printed $(wc -l < $TMP/out) records: $(cat $TMP/out)"
for f in -1 99999999999999999999 1e3; do
  timeout 10 $CLI ring tail $N --from $f > "$TMP/out" 2>&1; st=$?
  [ $st = 2 ] || fail "tail --from $f: status $st (124 = waited forever): $(cat $TMP/out)"
done
timeout 10 $CLI ring tail $N --from 100 --timeout 0.1 > "$TMP/out" 2>&1; st=$?
[ $st = 1 ] && grep -q "waiting for record 100" "$TMP/out" || fail "tail --from beyond the tail: $st: $(cat $TMP/out)"
exit 0

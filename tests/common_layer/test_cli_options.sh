#!/bin/bash
# test_cli_options -- proves every h5tier subcommand parses options the same
# GNU way (tools/cli.c, getopt_long): shm, persist, top, merge, ring and
# ring archive: `--opt=value` and `--opt value` give the
# same result, options may follow positional arguments, `--` ends the options
# so a name starting with '-' is taken as a name, and an unknown option, a
# missing value or a value given to a flag exits 2 with a message naming the
# option and pointing at --help.  Checked with real shm objects, real HDF5
# files (h5dump) and real multifile logs.
set -u
CLI=${H5TIER_CLI:?}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
N=h5t-opt-$$
TMP=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
  for n in $N-a $N-b -$N-d $N-x $N-r1 $N-r2 $N-r3 -$N-r4; do
    $CLI shm rm --force -- "$n" >/dev/null 2>&1; $CLI ring rm --force -- "$n" >/dev/null 2>&1
    rm -f "/dev/shm/$n" "/dev/shm/.$n.h5tier" "/dev/shm/.$n.readers"
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
command -v h5dump >/dev/null || exit 77

# usage_error SUBCOMMAND-WORDS... -- ARGS...: must exit 2, name the option
# (the first word starting with '-' of ARGS after '--') and point at --help.
usage_error() {
  local want=$1; shift
  "$CLI" "$@" > "$TMP/o" 2> "$TMP/e"; local rc=$?
  [ $rc -eq 2 ] || fail "'$*' exit $rc, want 2: $(cat $TMP/e)"
  grep -qF -- "$want" "$TMP/e" || fail "'$*' message does not name '$want': $(cat $TMP/e)"
  grep -q -- "--help" "$TMP/e" || fail "'$*' message does not point at --help: $(cat $TMP/e)"
}

# ---- a real HDF5 file to play with ----
"$PY" - "$TMP/src.h5" <<'PYEOF' || exit 77
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["x"] = np.arange(1000, dtype="i4")
PYEOF

# ---- shm: --mode=0600 and --mode 0600, options after positionals, -- ----
$CLI shm load "$TMP/src.h5" $N-a --mode=0640 || fail "shm load --mode=0640"
$CLI shm load --mode 0640 -- "$TMP/src.h5" $N-b || fail "shm load --mode 0640 --"
for n in $N-a $N-b; do
  m=$(stat -c %a /dev/shm/$n) ; [ "$m" = 640 ] || fail "shm $n mode $m, want 640"
done
$CLI shm info $N-a --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "shm info NAME --json (option after name)"
$CLI shm load -f "$TMP/src.h5" $N-a || fail "shm load -f (short option) over an existing object"
# a name starting with '-' only after --
usage_error "-$N-d" shm load "$TMP/src.h5" -$N-d
$CLI shm load -- "$TMP/src.h5" -$N-d || fail "shm load -- FILE -NAME"
$CLI shm ls --json | "$PY" -c "import json,sys; n=[e['name'] for e in json.load(sys.stdin)]; sys.exit(0 if '-$N-d' in n else 1)" \
  || fail "shm ls --json does not list -$N-d"
$CLI shm save -- -$N-d "$TMP/out.h5" || fail "shm save -- -NAME FILE"
h5dump -d /x "$TMP/out.h5" | grep -q "999" || fail "h5dump of the saved file"
$CLI shm rm -- -$N-d || fail "shm rm -- -NAME"
usage_error "--bogus" shm ls --bogus
usage_error "--bogus" shm ls --bogus=1
usage_error "--mode" shm load "$TMP/src.h5" $N-x --mode
usage_error "--json" shm ls --json=yes
usage_error "-z" shm info $N-a -z
usage_error "--mode" shm save $N-a "$TMP/o2.h5" --mode=0600   # save has no --mode
usage_error "bad --mode '9'" shm load "$TMP/src.h5" $N-x --mode=9
$CLI shm ls --help | grep -q "usage" || fail "shm ls --help"
$CLI shm rm $N-a $N-b --force || fail "shm rm NAME NAME --force"

# ---- persist: --object=X and --object X, -o, options after positionals ----
$CLI persist "$TMP/src.h5" "$TMP/p1.h5" --object=/x --chunk=64k || fail "persist --object=/x --chunk=64k"
$CLI persist --object /x --chunk 64k "$TMP/src.h5" "$TMP/p2.h5" || fail "persist --object /x --chunk 64k"
$CLI persist -o /x "$TMP/src.h5" "$TMP/p3.h5" || fail "persist -o /x"
for f in p1 p2 p3; do h5dump -d /x "$TMP/$f.h5" | grep -q "999" || fail "h5dump $f.h5"; done
usage_error "--chunk" persist "$TMP/src.h5" "$TMP/p4.h5" --chunk
usage_error "--nope" persist --nope "$TMP/src.h5" "$TMP/p4.h5"
usage_error "--chunk" persist --chunk=lots "$TMP/src.h5" "$TMP/p4.h5"
[ ! -e "$TMP/p4.h5" ] || fail "persist wrote a file after a usage error"

# ---- top: --interval=0.1 and --interval 0.1 (in a private shm dir: other
# processes' objects are no business of this test) ----
mkdir -p "$TMP/shmdir"; H5TIER_SHM_DIR="$TMP/shmdir" $CLI top --once --json --interval=0.1 | "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "top --interval=0.1"
H5TIER_SHM_DIR="$TMP/shmdir" $CLI top --once --interval 0.1 --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "top --interval 0.1"
usage_error "--interval" top --once --interval
usage_error "--interval" top --once --interval=x
usage_error "--frobnicate" top --frobnicate

# ---- merge: --threads=2, --threads 2, -j 2, -j2 ----
usage_error "--threads" merge --threads
usage_error "--threads" merge --threads=zero "$TMP/d" "$TMP/m.h5"
usage_error "--what" merge --what "$TMP/d" "$TMP/m.h5"
# the parse accepts both spellings: with a missing directory the command
# fails (exit 1) on the directory, not on the options (exit 2)
for spelling in "--threads=2" "--threads 2" "-j 2" "-j2"; do
  $CLI merge $spelling "$TMP/none" "$TMP/m.h5" 2> "$TMP/e"; rc=$?
  [ $rc -eq 1 ] || fail "merge $spelling: exit $rc, want 1 (no such dir): $(cat $TMP/e)"
done
$CLI merge "$TMP/none" "$TMP/m.h5" --buffer=64k 2> "$TMP/e"; rc=$?
[ $rc -eq 1 ] || fail "merge DIR OUT --buffer=64k (option last): exit $rc: $(cat $TMP/e)"

# ---- ring: create/write/tail/stat/rm and ring archive, both spellings ----
$CLI ring create $N-r1 --dtype=u8 --capacity=1024 > "$TMP/o" || fail "ring create --dtype=u8 --capacity=1024"
grep -q "1024 records of 8 bytes" "$TMP/o" || fail "ring create output: $(cat $TMP/o)"
$CLI ring create --dtype u8 --capacity 1024 $N-r2 > "$TMP/o" || fail "ring create --dtype u8 --capacity 1024 NAME"
grep -q "1024 records of 8 bytes" "$TMP/o" || fail "ring create output: $(cat $TMP/o)"
# several streams: option order still binds --dtype/--capacity to the --stream before them
$CLI ring create $N-r3 --stream=a --dtype='{seq:u8,v:f8[6],sum:u8}' --capacity=4k --stream b --dtype u2 --capacity 64 \
  > "$TMP/o" || fail "ring create with two streams"
grep -q "stream 'a': 4096 records of 64 bytes" "$TMP/o" && grep -q "stream 'b': 64 records of 2 bytes" "$TMP/o" \
  || fail "ring create streams: $(cat $TMP/o)"
$CLI ring write $N-r3 --stream=a --count=500 --batch=16 || fail "ring write --stream=a --count=500"
$CLI ring write --stream a --count 500 $N-r3 || fail "ring write --stream a --count 500 NAME"
$CLI ring tail $N-r3 --stream=a --from=oldest --count=1000 --timeout=0 --json --verify > "$TMP/t" \
  || fail "ring tail --opt=value"
"$PY" - "$TMP/t" <<'PYEOF' || fail "ring tail --json output"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1000, len(rows)
assert [r["seq"] for r in rows] == list(range(1000))
assert all(r["ok"] for r in rows)
PYEOF
$CLI ring tail --json --from 990 --timeout 0 --stream a $N-r3 | wc -l | grep -qx 10 || fail "ring tail --from 990 (spaced)"
$CLI ring stat $N-r3 --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "ring stat NAME --json"
$CLI ring archive $N-r3 "$TMP/a1.h5" --stream=a --count=1000 --timeout=5 -q || fail "ring archive --count=1000"
$CLI ring archive --stream a --count 1000 --timeout 5 --quiet $N-r3 "$TMP/a2.h5" || fail "ring archive --count 1000"
for f in a1 a2; do
  h5dump -H "$TMP/$f.h5" > /dev/null || fail "h5dump $f.h5"
  "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); n=len(f['/.h5tier/a/seq']); sys.exit(0 if n==1000 else 1)" "$TMP/$f.h5" \
    || fail "archive $f.h5 does not hold 1000 records"
done
# a ring named with a leading '-': only after --
usage_error "-$N-r4" ring create -$N-r4 --dtype u8 --capacity 64
$CLI ring create --dtype u8 --capacity 64 -- -$N-r4 > /dev/null || fail "ring create -- -NAME"
$CLI ring write --count 10 -- -$N-r4 || fail "ring write -- -NAME"
$CLI ring stat --json -- -$N-r4 | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["streams"][0]["tail"]==10 else 1)' \
  || fail "ring stat -- -NAME"
$CLI ring rm --force -- -$N-r4 || fail "ring rm -- -NAME"
[ ! -e "/dev/shm/-$N-r4" ] || fail "ring rm -- -NAME left the object"
# errors: exit 2, option named, --help pointed at
usage_error "--dtipe" ring create $N-x --dtipe=u8 --capacity 64
# a unique prefix is GNU behaviour: --cap 64 is --capacity 64
$CLI ring create $N-x --dtype u8 --cap 64 > "$TMP/o" || fail "ring create --cap 64 (unique prefix)"
grep -q "64 records" "$TMP/o" || fail "--cap output: $(cat $TMP/o)"
$CLI ring rm --force $N-x || fail "ring rm $N-x"
usage_error "--capacity" ring create $N-x --dtype u8 --capacity
usage_error "--capacity" ring create $N-x --dtype u8 --capacity=lots
usage_error "--count" ring write $N-r1 --count
usage_error "--verify" ring tail $N-r1 --verify=yes
usage_error "--bogus" ring stat $N-r1 --bogus
usage_error "--force" ring rm $N-r1 --force=1
usage_error "--count" ring archive $N-r1 "$TMP/x.h5" --count
usage_error "--nope" ring archive --nope $N-r1 "$TMP/x.h5"
[ ! -e "$TMP/x.h5" ] || fail "ring archive wrote a file after a usage error"
for n in $N-r1 $N-r2 $N-r3; do $CLI ring rm "$n" --force || fail "ring rm NAME --force"; done


# ---- tier cache rm and run (options of the merged tier helper's commands) ----
mkdir -p "$TMP/cache"
$CLI tier cache rm "$TMP/cache" --stale > "$TMP/o" || fail "tier cache rm DIR --stale"
grep -q "removed 0" "$TMP/o" || fail "tier cache rm output: $(cat $TMP/o)"
$CLI tier cache rm --file="$TMP/src.h5" "$TMP/cache" > "$TMP/o" || fail "tier cache rm --file=F DIR"
$CLI tier cache rm --file "$TMP/src.h5" "$TMP/cache" > "$TMP/o" || fail "tier cache rm --file F DIR"
usage_error "--file" tier cache rm "$TMP/cache" --file
usage_error "--bogus" tier cache rm "$TMP/cache" --bogus
for spelling in "--driver=nosuch" "--driver nosuch"; do
  $CLI run $spelling -- true > /dev/null 2> "$TMP/e"; rc=$?
  if grep -q "cannot find libh5tier_shim" "$TMP/e"; then break; fi   # no shim in this build: nothing to check
  [ $rc -eq 2 ] && grep -q "unknown driver 'nosuch'" "$TMP/e" || fail "run $spelling: exit $rc: $(cat $TMP/e)"
done
usage_error "--driver" run --driver
usage_error "--bogus" run --bogus -- true
usage_error "true" run --driver=shm true
echo "PASS"

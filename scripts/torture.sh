#!/usr/bin/env bash
# make torture: random SIGKILLs of the processes that write data users keep,
# with an invariant checker after every kill.  Not a benchmark, not timed.
#   scripts/torture.sh [--rounds N] [--only LIST] [BUILD_DIR]
# Scenarios (LIST is comma separated; default all):
#   ring-writer  `ring write` killed mid-put: the ring still opens, a reader
#                verifies every record it can read (payload checksums), and a
#                new writer takes over and continues the sequence
#   archiver     a lossless `ring archive` killed while `ring write` runs and
#                restarted: after every kill the archive opens and holds
#                seq 0..n-1 exactly once with valid checksums; at the end
#                it holds every record the writer published
#   shm-save     `shm save NAME OUT --force` killed: OUT is the old file or
#                an exact copy of the shm object, never anything else; a
#                later save leaves no temporary file of a dead process
#   persist      `persist SRC DST --force` killed: DST is the old file or a
#                complete copy (h5diff-equal to SRC); no temporary left
#                after the next run
#   journal      a shm writer with a backing file, committing a random range
#                per H5Fflush, killed: after `shm recover` the backing file is
#                exactly the state after some commit (tests/torture/torture_journal)
# Prints one line per scenario and a last line
#   torture: R rounds, V violations
# exit 0 when V == 0.  Violations are described above the summary, with the
# files kept under the printed directory.
set -uo pipefail
rounds=100
only=all
build=
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --rounds=*) rounds=${1#*=}; shift ;;
    --only) only=$2; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "torture: unknown option '$1'" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
top=$(cd "$(dirname "$0")/.." && pwd)
build=${build:-$top/build}
build=$(cd "$build" && pwd) || { echo "torture: no build directory '$build'" >&2; exit 2; }
cli=$build/h5tier
victim=$build/tests/torture_journal
py=${H5TIER_PYTHON:-/usr/bin/python3}
[ -x "$cli" ] || { echo "torture: $cli is not built (make build)" >&2; exit 2; }
case $rounds in ''|*[!0-9]*) echo "torture: --rounds takes a number" >&2; exit 2 ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-torture-XXXXXX")
tag="h5t-torture-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  for n in "$tag-ring" "$tag-arch"; do "$cli" ring rm "$n" --force >/dev/null 2>&1; done
  for n in "$tag-save" "$tag-jrnl"; do "$cli" shm rm "$n" --force >/dev/null 2>&1; done
  [ "${violations:-0}" -eq 0 ] && rm -rf "$tmp"
}
trap cleanup EXIT
violations=0
total_rounds=0
violate() { # SCENARIO ROUND TEXT
  violations=$((violations + 1))
  echo "VIOLATION [$1 round $2]: $3"
}
want() { [ "$only" = all ] || [[ ",$only," == *",$1,"* ]]; }
# sleep a random time in [0, MS) milliseconds
rsleep() { local ms=$((RANDOM % $1)); sleep "$(printf '0.%03d' "$ms")"; }
# a dead pid's leftovers: NAME.*PID files whose pid is gone
stale_tmps() { # DIR PATTERN-PREFIX
  local f p
  for f in "$1"/$2*; do
    [ -e "$f" ] || continue
    p=${f##*[!0-9]}
    [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null && echo "$f"
  done
}
payload_check=$(cat <<'PYEOF'
import sys, h5py, numpy as np, xxhash
path, p, exact = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = h5py.File(path, "r", swmr=True)
seq, d = f["/.h5tier/" + p.strip("/") + "/seq"][:], f[p][:]
lost = f["/.h5tier/" + p.strip("/") + "/lost"][:]
n = len(seq)
assert len(d) == n, ("data and seq lengths differ", len(d), n)
assert (seq == np.arange(n)).all(), "seq is not 0..n-1 (a duplicate or a gap)"
if n:
    raw = d.view(np.uint8).reshape(n, -1)
    # XXH3-64 (python3-xxhash) of bytes 0..size-9: the `ring write` payload checksum
    body = np.ascontiguousarray(raw[:, :-8]); L = body.shape[1]; flat = memoryview(body).cast("B")
    h = np.fromiter((xxhash.xxh3_64_intdigest(flat[i * L:(i + 1) * L]) for i in range(n)), dtype=np.uint64, count=n)
    assert (h == raw[:, -8:].copy().view("<u8")[:, 0]).all(), "a record's checksum is wrong (torn)"
    assert (raw[:, :8].copy().view("<u8")[:, 0] == seq).all(), "record seq != /.h5tier/PATH/seq"
assert len(lost) == 0, ("lost ranges in a lossless archive", lost)
assert exact < 0 or n == exact, ("records", n, "expected", exact)
print(n)
PYEOF
)
dtype='{seq:u8,v:f8[6],sum:u8}'

# ---- ring-writer -------------------------------------------------------------
if want ring-writer; then
  r=$tag-ring; v0=$violations
  "$cli" ring create "$r" --stream ev --dtype "$dtype" --capacity 4096 >/dev/null || violate ring-writer 0 "ring create failed"
  for i in $(seq 1 "$rounds"); do
    "$cli" ring write "$r" --stream ev --count 100M --batch $((1 + RANDOM % 64)) 2>"$tmp/rw.err" &
    w=$!; pids+=("$w")
    rsleep 40
    kill -9 "$w" 2>/dev/null; wait "$w" 2>/dev/null; st=$?
    [ $st -eq 137 ] || [ $st -eq 0 ] || violate ring-writer "$i" "writer exited $st before the kill: $(head -c 300 "$tmp/rw.err")"
    out=$(timeout 10 "$cli" ring stat "$r" 2>&1) || { violate ring-writer "$i" "ring stat after the kill: $out"; continue; }
    t0=$(echo "$out" | sed -n "s/.*stream 'ev':.*tail \([0-9]*\).*/\1/p")
    # every record still readable verifies (the reader may be lapped by nobody now)
    out=$(timeout 10 "$cli" ring tail "$r" --stream ev --from oldest --count 4096 --timeout 0.2 --json --verify 2>&1)
    echo "$out" | grep -q '"ok": false' && violate ring-writer "$i" "a record failed verification after the kill"
    # a new writer takes over and continues the sequence
    timeout 10 "$cli" ring write "$r" --stream ev --count 10 >/dev/null 2>"$tmp/rw2.err" \
      || violate ring-writer "$i" "a new writer could not take over: $(head -c 300 "$tmp/rw2.err")"
    t1=$(timeout 10 "$cli" ring stat "$r" 2>/dev/null | sed -n "s/.*stream 'ev':.*tail \([0-9]*\).*/\1/p")
    [ -n "$t0" ] && [ -n "$t1" ] && [ "$t1" -eq $((t0 + 10)) ] || violate ring-writer "$i" "tail $t0 -> $t1 after 10 puts"
  done
  "$cli" ring rm "$r" --force >/dev/null 2>&1
  echo "torture: ring-writer $rounds rounds, $((violations - v0)) violations"
  total_rounds=$((total_rounds + rounds))
fi

# ---- archiver ----------------------------------------------------------------
if want archiver; then
  r=$tag-arch; a=$tmp/arch.h5; v0=$violations
  "$cli" ring create "$r" --stream ev --dtype "$dtype" --capacity 4096 >/dev/null || violate archiver 0 "ring create failed"
  "$cli" ring archive "$r" "$a" --lossless --timeout 120 -q >/dev/null 2>"$tmp/ar.err" &
  ar=$!; pids+=("$ar")
  for _ in $(seq 1 500); do "$cli" ring stat "$r" 2>/dev/null | grep -q "tether 'archive'" && break; sleep 0.01; done
  total=$((rounds * 2000 + 1000))
  "$cli" ring write "$r" --stream ev --count "$total" --rate 20000 --batch 20 --tether-timeout 60000 2>"$tmp/aw.err" &
  w=$!; pids+=("$w")
  for i in $(seq 1 "$rounds"); do
    rsleep 100
    kill -9 "$ar" 2>/dev/null; wait "$ar" 2>/dev/null
    if [ -e "$a" ]; then
      out=$("$py" -c "$payload_check" "$a" /ev -1 2>&1) || violate archiver "$i" "archive after the kill: $(echo "$out" | tail -1)"
    fi
    "$cli" ring archive "$r" "$a" --lossless --timeout 120 -q >/dev/null 2>"$tmp/ar.err" &
    ar=$!; pids+=("$ar")
  done
  wait "$w" || violate archiver end "writer failed: $(head -c 300 "$tmp/aw.err")"
  sleep 0.5
  kill -INT "$ar" 2>/dev/null; wait "$ar" || violate archiver end "final archiver exit: $(head -c 300 "$tmp/ar.err")"
  out=$("$py" -c "$payload_check" "$a" /ev "$total" 2>&1) || violate archiver end "final archive: $(echo "$out" | tail -1)"
  "$cli" ring rm "$r" --force >/dev/null 2>&1
  echo "torture: archiver $rounds rounds, $((violations - v0)) violations"
  total_rounds=$((total_rounds + rounds))
fi

# ---- shm-save ----------------------------------------------------------------
if want shm-save; then
  n=$tag-save; v0=$violations
  "$py" -c "
import h5py, numpy as np
with h5py.File('$tmp/src.h5', 'w') as f:
    f.create_dataset('d', data=np.arange(16 << 20, dtype='u4'))
    f['d'].attrs['who'] = 'torture'
with h5py.File('$tmp/old.h5', 'w') as f:
    f.create_dataset('old', data=np.arange(1000))
" || violate shm-save 0 "making the source files failed"
  "$cli" shm load "$tmp/src.h5" "$n" >/dev/null || violate shm-save 0 "shm load failed"
  shmfile=${H5TIER_SHM_DIR:-/dev/shm}/$n
  for i in $(seq 1 "$rounds"); do
    cp "$tmp/old.h5" "$tmp/out.h5"
    "$cli" shm save "$n" "$tmp/out.h5" --force >/dev/null 2>&1 &
    s=$!; pids+=("$s")
    rsleep 150
    kill -9 "$s" 2>/dev/null; wait "$s" 2>/dev/null
    if ! cmp -s "$tmp/out.h5" "$tmp/old.h5" && ! cmp -s "$tmp/out.h5" "$shmfile"; then
      violate shm-save "$i" "out.h5 is neither the old file nor a copy of the shm object ($(stat -c %s "$tmp/out.h5") bytes)"
    fi
    # the next save succeeds and removes what the killed one left
    "$cli" shm save "$n" "$tmp/out.h5" --force >/dev/null 2>"$tmp/ss.err" || violate shm-save "$i" "next save: $(head -c 300 "$tmp/ss.err")"
    cmp -s "$tmp/out.h5" "$shmfile" || violate shm-save "$i" "the next save is not a copy of the shm object"
    left=$(stale_tmps "$tmp" "out.h5.")
    [ -z "$left" ] || { violate shm-save "$i" "temporary files of dead processes left: $left"; rm -f $left; }
  done
  "$cli" shm rm "$n" --force >/dev/null 2>&1
  echo "torture: shm-save $rounds rounds, $((violations - v0)) violations"
  total_rounds=$((total_rounds + rounds))
fi

# ---- persist -----------------------------------------------------------------
if want persist; then
  v0=$violations
  [ -e "$tmp/src.h5" ] || "$py" -c "
import h5py, numpy as np
with h5py.File('$tmp/src.h5', 'w') as f:
    f.create_dataset('d', data=np.arange(16 << 20, dtype='u4'))
with h5py.File('$tmp/old.h5', 'w') as f:
    f.create_dataset('old', data=np.arange(1000))
"
  "$py" -c "
import h5py, numpy as np
with h5py.File('$tmp/psrc.h5', 'w') as f:
    for g in range(20):
        grp = f.create_group('g%d' % g)
        for k in range(20):
            grp.create_dataset('s%d' % k, data=np.arange(100 * k + 1))
    f.create_dataset('big', data=np.arange(8 << 20, dtype='f8'))
"
  for i in $(seq 1 "$rounds"); do
    cp "$tmp/old.h5" "$tmp/p.h5"
    "$cli" persist "$tmp/psrc.h5" "$tmp/p.h5" --force >/dev/null 2>&1 &
    s=$!; pids+=("$s")
    rsleep 300
    kill -9 "$s" 2>/dev/null; wait "$s" 2>/dev/null
    if ! cmp -s "$tmp/p.h5" "$tmp/old.h5" && ! h5diff -q "$tmp/psrc.h5" "$tmp/p.h5" >/dev/null 2>&1; then
      violate persist "$i" "DST is neither the old file nor a complete copy of SRC"
    fi
    "$cli" persist "$tmp/psrc.h5" "$tmp/p.h5" --force >/dev/null 2>"$tmp/pe.err" || violate persist "$i" "next persist: $(head -c 300 "$tmp/pe.err")"
    h5diff -q "$tmp/psrc.h5" "$tmp/p.h5" >/dev/null 2>&1 || violate persist "$i" "the next persist differs from SRC"
    left=$(ls -a "$tmp" | grep '^\.p\.h5\.h5tier-tmp-' | while read -r f; do p=${f##*-}; kill -0 "$p" 2>/dev/null || echo "$tmp/$f"; done)
    [ -z "$left" ] || { violate persist "$i" "temporary files of dead processes left: $left"; rm -f $left; }
  done
  echo "torture: persist $rounds rounds, $((violations - v0)) violations"
  total_rounds=$((total_rounds + rounds))
fi

# ---- journal -----------------------------------------------------------------
if want journal; then
  v0=$violations
  if [ ! -x "$victim" ]; then
    violate journal 0 "$victim is not built"
  else
    n=$tag-jrnl; b=$tmp/backing.h5
    "$victim" init "$b" || violate journal 0 "init failed"
    last=0
    for i in $(seq 1 "$rounds"); do
      "$victim" run "$n" "$b" "$i" 2>"$tmp/j.err" &
      j=$!; pids+=("$j")
      rsleep 400
      kill -9 "$j" 2>/dev/null; wait "$j" 2>/dev/null; st=$?
      [ $st -eq 137 ] || violate journal "$i" "writer exited $st before the kill: $(head -c 300 "$tmp/j.err")"
      "$cli" shm rm "$n" --force >/dev/null 2>&1   # the next writer loads from the backing file
      out=$("$cli" shm recover "$b" 2>&1) || violate journal "$i" "shm recover: $out"
      k=$("$victim" check "$b" 2>"$tmp/jc.err") || { violate journal "$i" "$(head -c 300 "$tmp/jc.err")"; break; }
      [ "$k" -ge "$last" ] || violate journal "$i" "the commit counter went back from $last to $k"
      last=$k
      h5dump -H "$b" >/dev/null 2>&1 || violate journal "$i" "h5dump -H of the backing file failed"
    done
    "$cli" shm rm "$n" --force >/dev/null 2>&1
  fi
  echo "torture: journal $rounds rounds, $((violations - v0)) violations (last commit $last)"
  total_rounds=$((total_rounds + rounds))
fi

[ "$violations" -eq 0 ] || echo "torture: files kept in $tmp"
echo "torture: $total_rounds rounds, $violations violations"
[ "$violations" -eq 0 ]

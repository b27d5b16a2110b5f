#!/usr/bin/env python3
"""bench/bench_python.py -- the Python half of bench_python (bench/bench_python.c
runs it): read a ring that the C side filled, from the oldest record to the
tail, PASSES times, with h5tier.Reader.read() (copy-out batches: a new numpy
array per batch, the ordinary use) and prints one JSON line
{"records_per_s": ..., "mb_per_s": ..., "records": ...} (best pass).

    bench_python.py RING BATCH PASSES [read|view]

view: zero-copy views instead, each validated with view_done() after
summing one byte per record (so the records are touched)."""
import json
import sys
import time

import h5tier


def main():
    name, batch, passes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "read"
    ring = h5tier.Ring(name)
    st = ring["data"]
    best = 0.0
    total = 0
    with ring.reader(start="oldest", batch=batch, timeout=0) as rd:
        for _ in range(passes):
            info = ring.info()["streams"][0]
            rd.seek(info["oldest"])
            n = 0
            t0 = time.perf_counter()
            if mode == "read":
                read = rd.read
                while True:
                    try:
                        n += len(read())
                    except h5tier.Timeout:
                        break
            else:
                s = 0
                while True:
                    try:
                        v = rd.view()
                    except h5tier.Timeout:
                        break
                    s += int(v.reshape(len(v), -1)[:, 0].sum())
                    rd.view_done()
                    n += len(v)
            dt = time.perf_counter() - t0
            total += n
            best = max(best, n / dt)
    print(json.dumps({"records_per_s": best, "mb_per_s": best * st.record_size / 1e6, "records": total}))


if __name__ == "__main__":
    main()

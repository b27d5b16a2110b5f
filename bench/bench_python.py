#!/usr/bin/env python3
"""bench/bench_python.py -- the Python half of bench_python (bench/bench_python.c
runs it as a child and alternates with its own C reader, pass by pass, so
both see the same machine).  Reads commands on stdin, one per line:

    RING BATCH read|view      one pass over RING from its oldest record to
                              the tail; prints the records per second
    quit

read: h5tier.Reader.read() (copy-out batches: a numpy array per batch, the
ordinary use).  view: zero-copy views, each validated with view_done() after
touching one byte per record.  Standalone:

    echo "myring 1024 read" | PYTHONPATH=python python3 bench/bench_python.py
"""
import sys
import time

import h5tier


def one_pass(rd, ring, mode):
    rd.seek(ring.info()["streams"][0]["oldest"])
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
    return n / (time.perf_counter() - t0)


def main():
    readers = {}
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        name, batch, mode = words[0], int(words[1]), words[2]
        key = (name, batch)
        if key not in readers:
            ring = h5tier.Ring(name)
            readers[key] = (ring, ring.reader(start="oldest", batch=batch, timeout=0))
        ring, rd = readers[key]
        print("%.6g" % one_pass(rd, ring, mode), flush=True)
    for ring, rd in readers.values():
        rd.close()


if __name__ == "__main__":
    main()

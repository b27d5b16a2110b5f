#!/usr/bin/env python3
"""Follow a ring live and plot a rolling histogram (docs/python.md).

    follow_histogram.py [--ring NAME] [--stream S] [--field F] [--seconds T]
                        [--window W] [--out hist.png]

Without --ring it makes a demo: a ring of detector events
{seq:u8,ts:f8,energy:f4,adc:u2[16]} and a Python producer thread putting
events whose energy peak drifts, so the plot shows something moving.  The
follower reads batches as they arrive, keeps one histogram per 0.1 s slice,
and at the end saves a PNG: the energy histogram over time (a waterfall) and
the rolling histogram of the last --window seconds.
"""
import argparse
import collections
import os
import threading
import time

import numpy as np

import h5tier


def demo_producer(ring, stop, rate=200_000):
    """Put events at about `rate` per second in batches of 1000."""
    rng = np.random.default_rng(0)
    ev = np.zeros(1000, ring["events"].dtype)
    t0 = time.monotonic()
    seq = 0
    with ring.writer() as w:
        while not stop.is_set():
            t = time.monotonic() - t0
            peak = 100 + 40 * np.sin(t * 2.0)            # a peak that drifts
            ev["seq"] = np.arange(seq, seq + len(ev))
            ev["ts"] = t
            ev["energy"] = np.where(rng.random(len(ev)) < 0.7, rng.normal(peak, 8, len(ev)),
                                    rng.uniform(0, 250, len(ev)))
            ev["adc"] = rng.integers(0, 4096, (len(ev), 16))
            w.put_many("events", ev)
            seq += len(ev)
            ahead = seq / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ring")
    ap.add_argument("--stream", default="events")
    ap.add_argument("--field", default="energy")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--window", type=float, default=1.0)
    ap.add_argument("--bins", type=int, default=100)
    ap.add_argument("--range", type=float, nargs=2, default=(0, 250))
    ap.add_argument("--out", default="hist.png")
    a = ap.parse_args()

    stop = threading.Event()
    producer = None
    name = a.ring
    if name is None:                                    # the demo: make a ring and feed it
        name = "h5tier-demo-%d" % os.getpid()
        ring = h5tier.create(name, {"events": ("{seq:u8,ts:f8,energy:f4,adc:u2[16]}", 1 << 16)})
        producer = threading.Thread(target=demo_producer, args=(ring, stop), daemon=True)
    ring = h5tier.Ring(name)
    edges = np.linspace(a.range[0], a.range[1], a.bins + 1)
    slice_s = 0.1
    slices = []                                         # (time, histogram) per 0.1 s
    rolling = collections.deque()
    current = np.zeros(a.bins, np.int64)
    total = 0
    try:
        with ring.reader(a.stream, start="latest", timeout=0.2) as rd:
            if producer:
                producer.start()
            t0 = time.monotonic()
            next_slice = t0 + slice_s
            while time.monotonic() - t0 < a.seconds:
                try:
                    batch = rd.read()                   # a numpy array of records
                except h5tier.Timeout:
                    batch = None
                if batch is not None:
                    values = batch[a.field] if batch.dtype.names else batch.reshape(len(batch), -1)[:, 0]
                    current += np.histogram(values, edges)[0]
                    total += len(batch)
                now = time.monotonic()
                if now >= next_slice:
                    slices.append((now - t0, current))
                    rolling.append(current)
                    while len(rolling) > a.window / slice_s:
                        rolling.popleft()
                    current = np.zeros(a.bins, np.int64)
                    next_slice += slice_s
            lost = rd.lost
    finally:
        stop.set()
        if producer:
            producer.join()
            h5tier.remove(name, force=True)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if slices:
        img = np.array([h for _, h in slices]).T
        ax1.imshow(img, aspect="auto", origin="lower", cmap="viridis",
                   extent=(0, slices[-1][0], a.range[0], a.range[1]))
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel(a.field)
    ax1.set_title("ring %s/%s: %d records, %d lost" % (name, a.stream, total, lost))
    roll = np.sum(rolling, axis=0) if rolling else np.zeros(a.bins)
    ax2.stairs(roll, edges, fill=True)
    ax2.set_xlabel(a.field)
    ax2.set_ylabel("records")
    ax2.set_title("rolling histogram, last %.1f s" % a.window)
    fig.tight_layout()
    fig.savefig(a.out, dpi=80)
    print("%s: %d records (%d lost) in %.1f s -> %s" % (name, total, lost, a.seconds, a.out))


if __name__ == "__main__":
    main()

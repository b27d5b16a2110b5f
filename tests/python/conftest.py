"""Shared fixtures of the Python tests: the CLI of this build, unique shm
names (pid + counter, since other suites share /dev/shm), cleanup, and a
checker of the self-checking payload of `h5tier ring write`."""
import itertools
import os
import shutil
import subprocess
import sys

import numpy as np
import xxhash
import pytest

SRC = os.environ.get("H5TIER_SRC_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("H5TIER_BUILD_DIR") or os.path.join(SRC, "build")
CLI = os.environ.get("H5TIER_CLI") or os.path.join(BUILD, "h5tier")
TEST_BIN = os.environ.get("H5TIER_TEST_BIN") or os.path.join(BUILD, "tests")
sys.path.insert(0, os.path.join(SRC, "python"))

_count = itertools.count()
SHM_DIR = os.environ.get("H5TIER_SHM_DIR") or "/dev/shm"


def shm_path(name):
    """Where shm object NAME lives ($H5TIER_SHM_DIR, else /dev/shm)."""
    return os.path.join(SHM_DIR, name)


def cli(*args, check=True, **kw):
    """Run the h5tier CLI; returns the CompletedProcess (text)."""
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("h5tier %s: exit %d\n%s%s" % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
    return p


@pytest.fixture
def shm_name(request):
    """A function returning unique shm names; everything made is removed."""
    made = []

    def make(tag="r"):
        n = "h5t-py-%d-%d-%s" % (os.getpid(), next(_count), tag)
        made.append(n)
        return n
    yield make
    for n in made:
        subprocess.run([CLI, "ring", "rm", "--force", n], capture_output=True)
        for p in (shm_path(n), shm_path("." + n + ".h5tier")):
            try:
                os.unlink(p)
            except OSError:
                pass


def payload_sums(raw):
    """XXH3-64 (python3-xxhash, seed 0) of bytes [0, size - 8) of each row of
    a 2-D uint8 array: the checksum `h5tier ring write` puts in a record's
    last 8 bytes (src/ring/payload.h)."""
    body = np.ascontiguousarray(raw[:, :raw.shape[1] - 8])
    n, size = body.shape
    flat = memoryview(body).cast("B")
    return np.fromiter((xxhash.xxh3_64_intdigest(flat[i * size:(i + 1) * size]) for i in range(n)),
                       dtype=np.uint64, count=n)


def payload_check(records):
    """For uint8 records of `h5tier ring write` (size >= 16): the seq
    embedded in bytes 0..7 and whether each record's XXH3-64 checksum (last 8
    bytes) matches."""
    raw = np.ascontiguousarray(records).view(np.uint8).reshape(len(records), -1)
    size = raw.shape[1]
    assert size >= 16
    seq = raw[:, :8].copy().view("<u8")[:, 0]
    want = raw[:, size - 8:].copy().view("<u8")[:, 0]
    return seq, payload_sums(raw) == want


@pytest.fixture
def tmpdir_path(tmp_path):
    return tmp_path


def have(tool):
    return shutil.which(tool) is not None

"""Proves the docs/python.md example runs: python/examples/follow_histogram.py
follows a live ring fed by a Python producer thread, loses nothing at 200k
records/s, and saves a PNG with matplotlib."""
import os
import subprocess
import sys

import pytest

from conftest import SRC


def test_follow_histogram_example(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "hist.png"
    p = subprocess.run([sys.executable, os.path.join(SRC, "python", "examples", "follow_histogram.py"),
                        "--seconds", "1.5", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "records (0 lost)" in p.stdout, p.stdout
    n = int(p.stdout.split(": ")[1].split()[0])
    assert n > 10000
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

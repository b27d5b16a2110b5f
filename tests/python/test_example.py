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
                        "--seconds", "1.0", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "records (0 lost)" in p.stdout, p.stdout
    n = int(p.stdout.split(": ")[1].split()[0])
    assert n > 10000
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_pip_installs_the_package_from_the_source_tree(tmp_path):
    """pip builds and installs python/ (offline: Debian's setuptools, no build
    isolation); the installed copy finds the library through H5TIER_LIB."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.skip("pip is not installed (python3-pip)")
    target = tmp_path / "site"
    src = tmp_path / "src"        # a copy: setuptools writes build/ next to the sources
    import shutil
    shutil.copytree(os.path.join(SRC, "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
                        "--no-index", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    from conftest import BUILD
    env = dict(os.environ, PYTHONPATH=str(target), H5TIER_LIB=os.path.join(BUILD, "libh5tier.so"))
    p = subprocess.run([sys.executable, "-c", "import h5tier; print(h5tier.__file__); print(h5tier.lib_path)"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith(str(target))

"""Proves `h5tier top` reports what rings and shm files do: --once --json on
rings made here (a live C writer's records/s and MB/s, a dead writer, a
tethered reader's lag, a lossy reader's losses, a shm file's writer), the
text form, names read from shm printed escaped, and the live curses screen
driven in tmux (capture-pane shows the expected rows; 'q' quits)."""
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

import h5tier
from conftest import CLI, cli


@pytest.fixture
def scene(shm_name, tmp_path):
    live, dead, f = shm_name("live"), shm_name("dead"), shm_name("file")
    cli("ring", "create", live, "--capacity", "64k", "--stream", "events", "--dtype", "{seq:u8,ts:f8,adc:u2[4]}",
        "--stream", "frames", "--dtype", "u2[64,64]", "--capacity", "16")
    cli("ring", "create", dead, "--dtype", "u1[64]", "--capacity", "1k")
    # a tethered reader left behind (lag), with a name carrying an escape byte
    tether = h5tier.Ring(live).reader("events", start="latest", tether="arch\x1bive")
    w = subprocess.Popen([CLI, "ring", "write", live, "--stream", "events", "--rate", "4000", "--duration", "20",
                          "--tether-timeout", "100000"], stderr=subprocess.DEVNULL)
    # a lossless archiver process on the live ring (its tether and its reader slot)
    arch = subprocess.Popen([CLI, "ring", "archive", live, str(tmp_path / "arch.h5"), "--stream", "events",
                             "--lossless", "--duration", "20", "-q"], stderr=subprocess.DEVNULL)
    # a lossy reader lapped on the small ring, then its writer killed
    lossy = h5tier.Ring(dead).reader(start="oldest")
    cli("ring", "write", dead, "--count", "5000")
    lossy.read(timeout=0)
    d = subprocess.Popen([CLI, "ring", "write", dead, "--rate", "10", "--duration", "60"], stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    d.send_signal(signal.SIGKILL)
    d.wait()
    shm = h5tier.shm_file(f, "w")
    shm["x"] = np.arange(100000)
    shm.flush()
    time.sleep(0.3)
    yield {"live": live, "dead": dead, "file": f, "writer": w, "archiver": arch}
    arch.terminate()
    arch.wait()
    shm.close()
    w.kill()
    w.wait()
    tether.close()
    lossy.close()
    h5tier.ring.lib.h5tier_ring_untether(live.encode(), b"events", b"arch\x1bive")


def test_top_once_json(scene):
    out = cli("top", "--once", "--json", "--interval", "0.5", scene["live"], scene["dead"], scene["file"]).stdout
    top = json.loads(out)
    rings = {r["name"]: r for r in top["rings"]}
    assert set(rings) == {scene["live"], scene["dead"]}
    live = rings[scene["live"]]
    assert live["writer_alive"] and live["writer_pid"] == scene["writer"].pid
    ev = {s["name"]: s for s in live["streams"]}["events"]
    tet = {t["name"]: t for t in ev["tethers"]}
    assert 500 < ev["records_per_s"] < 20000, ev["records_per_s"]   # a 4000/s writer, on a loaded host
    assert ev["mb_per_s"] == pytest.approx(ev["records_per_s"] * 24 / 1e6, abs=2e-3)
    assert "arch\x1bive" in tet     # escaped as \u001b in the JSON text
    assert "\\u001b" in out and "\x1b" not in out
    assert tet["arch\x1bive"]["lag"] > 1000 and tet["arch\x1bive"]["pid"] == os.getpid()
    arch = [r for r in ev["readers"] if r["pid"] == scene["archiver"].pid]
    assert arch and arch[0]["archiver"] and arch[0]["tethered"] and arch[0]["process"] == "h5tier"
    assert arch[0]["lag"] < ev["tail"]
    assert tet["archive"]["archiver"] and tet["archive"]["pid"] == scene["archiver"].pid
    mine = [r for r in ev["readers"] if r["pid"] == os.getpid()]
    assert mine and mine[0]["tethered"] and mine[0]["lag"] > 1000
    dead = rings[scene["dead"]]
    assert not dead["writer_alive"] and dead["writer_pid"] > 0
    rd = [r for r in dead["streams"][0]["readers"] if r["pid"] == os.getpid()][0]
    assert rd["lost"] == 5000 - 1024 and rd["laps"] == 1
    files = {f["name"]: f for f in top["shm_files"]}
    f = files[scene["file"]]
    assert f["writer_pid"] == os.getpid() and f["writer_alive"] and f["eof"] > 800000


def test_top_names_are_escaped_and_utf8_kept(shm_name):
    name = shm_name("é ü%")                     # spaces, % and UTF-8 are legal shm names
    h5tier.create(name, {"data": ("u8", 64)})
    out = cli("top", "--once", "--json", "--interval", "0.1", name).stdout
    top = json.loads(out)
    assert [r["name"] for r in top["rings"]] == [name]
    text = cli("top", "--once", "--interval", "0.1", name).stdout
    assert any(l.startswith(name) for l in text.splitlines()), text


def test_top_once_text(scene):
    out = cli("top", "--once", "--interval", "0.3", scene["live"], scene["dead"], scene["file"]).stdout
    assert "\x1b" not in out and "arch\\x1bive" in out
    lines = out.splitlines()
    row = [l for l in lines if l.startswith(scene["dead"])][0]
    assert "DEAD" in row
    assert any(l.startswith(scene["file"]) and " shm " in l for l in lines)
    assert any(l.split()[:2] == ["events", "stream"] for l in lines)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (scripts/deps.sh installs it)")
def test_top_curses_screen_in_tmux(scene):
    sock = "h5t-py-%d" % os.getpid()
    tm = ["tmux", "-L", sock, "-f", "/dev/null"]
    cmd = "%s top %s %s %s" % (CLI, scene["live"], scene["dead"], scene["file"])
    subprocess.run(tm + ["new-session", "-d", "-s", "top", "-x", "200", "-y", "40", cmd], check=True,
                   env=dict(os.environ, TERM="xterm"))
    try:
        screen = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.5)
            screen = subprocess.run(tm + ["capture-pane", "-p", "-t", "top"], capture_output=True,
                                    text=True).stdout
            rows = screen.splitlines()
            ev = [r for r in rows if r.split()[:2] == ["events", "stream"]]
            # a rate is shown once two samples were taken
            if ev and ev[0].split()[2] not in ("-",) and "h5tier top" in screen:
                break
        assert "h5tier top" in screen and "2 rings, 1 shm file" in screen, screen
        rows = screen.splitlines()
        assert any(r.startswith(scene["live"]) and "alive" in r for r in rows), screen
        assert any(r.startswith(scene["dead"]) and "DEAD" in r for r in rows), screen
        assert any(r.startswith(scene["file"]) for r in rows), screen
        ev = [r for r in rows if r.split()[:2] == ["events", "stream"]][0]
        rate = ev.split()[2]
        assert rate != "-" and (rate.endswith("k") or float(rate) > 500), ev
        assert any("tether 'arch\\x1bive'" in r for r in rows), screen
        assert any(r.split()[:2] == ["archiver", str(scene["archiver"].pid)] for r in rows), screen
        subprocess.run(tm + ["send-keys", "-t", "top", "q"], check=True)
        for _ in range(50):
            if subprocess.run(tm + ["has-session", "-t", "top"], capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("h5tier top did not quit on 'q'")
    finally:
        subprocess.run(tm + ["kill-server"], capture_output=True)


def test_top_usage_errors():
    p = cli("top", check=False, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "--once" in p.stderr
    p = cli("top", "--json", check=False)
    assert p.returncode == 2 and "--json needs --once" in p.stderr
    p = cli("top", "--once", "--interval", "0", check=False)
    assert p.returncode == 2 and "--interval" in p.stderr
    assert "example" in cli("top", "--help").stdout

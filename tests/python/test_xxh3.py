"""Proves that python3-xxhash's XXH3-64 gives, for the same bytes and seed,
exactly the value of the C libxxhash the library links (called here through
ctypes), over lengths that cross every code path of XXH3 (0, 1-3, 4-8,
9-16, 17-128, 129-240, long inputs with and without a partial stripe and
block, 1 MiB) and several seeds: the Python checkers of ring payloads
(conftest.payload_check, scripts/torture.sh, scripts/demo_ring.sh,
tests/ring/test_archive_cli.sh) then check the same checksum `h5tier ring
write` writes."""
import ctypes
import ctypes.util
import os

import xxhash


def c_xxh3():
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    lib = ctypes.CDLL(name)
    lib.XXH3_64bits_withSeed.restype = ctypes.c_uint64
    lib.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    return lib


def test_python_xxh3_equals_c_libxxhash():
    lib = c_xxh3()
    data = os.urandom(1 << 20)
    lengths = list(range(0, 260)) + [1023, 1024, 1025, 4095, 4096, 4097, 8192, 65536 + 13, 1 << 20]
    seeds = [0, 1, 0x6d66646174610001, (1 << 64) - 1]
    n = 0
    for seed in seeds:
        for length in lengths:
            b = data[:length]
            want = lib.XXH3_64bits_withSeed(b, length, seed)
            got = xxhash.xxh3_64_intdigest(b, seed=seed)
            assert got == want, (length, seed, hex(got), hex(want))
            n += 1
    assert n == len(seeds) * len(lengths)
    # a known answer (XXH3-64 of the empty input, seed 0)
    assert xxhash.xxh3_64_intdigest(b"") == 0x2D06800538D394C2

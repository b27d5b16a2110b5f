# tests/shm/plant.py PATH EOF BACKING [MODE]: write a well-formed h5tier shm
# control object (magic, version, size, eof, backing path) at PATH, as a
# hostile user would plant it.  Layout: src/shm/shm_internal.h (h5tier_shmc_t).
import os, struct, sys
path, eof, backing = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode("utf-8", "surrogateescape")
mode = int(sys.argv[4], 8) if len(sys.argv) > 4 else 0o666
buf = bytearray(16384)
struct.pack_into("<QII", buf, 0, 0x314354534D543548, 1, 8320)  # magic, version, sizeof(h5tier_shmc_t)
struct.pack_into("<QiIQQQ", buf, 16, 7, 0, 0, 0, eof, 65536)  # generation, writer pid, flags, start, eof, page
buf[56:56 + len(backing)] = backing
fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, mode)
os.write(fd, buf)
os.fchmod(fd, mode)
os.close(fd)

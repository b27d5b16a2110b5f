#!/usr/bin/env bash
# Proves the install works for a consumer: `cmake --install` into a fresh
# prefix puts the library, headers, CLI, man pages, pkg-config file and CMake
# package there; a tiny program builds against it both with
# find_package(h5tier) and with pkg-config, and runs.
set -euo pipefail
build=${H5TIER_BUILD_DIR:?}
# A sanitizer build installs a library a plain consumer cannot load: packaging is
# tested by the plain build.
if grep -q "^H5TIER_SANITIZE:STRING=." "$build/CMakeCache.txt"; then echo "SKIP: sanitizer build"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/h5tier.h include/h5tier_sys.h bin/h5tier; do
  [ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$tmp"/prefix/lib*/libh5tier.so* >/dev/null
ls "$tmp"/prefix/lib*/libh5tier.a >/dev/null
pc=$(ls "$tmp"/prefix/lib*/pkgconfig/h5tier.pc)
cfg=$(ls "$tmp"/prefix/lib*/cmake/h5tier/h5tierConfig.cmake)
[ -n "$pc" ] && [ -n "$cfg" ]
"$tmp/prefix/bin/h5tier" --version | grep -q '^h5tier '

mkdir -p "$tmp/app"
cat > "$tmp/app/main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <h5tier.h>
int main(void)
{
    uint64_t v = 0;
    if (h5tier_parse_size("64k", &v) != 0 || v != 65536) return 1;
    if (strcmp(h5tier_strerror(-H5TIER_ENOTHDF5), "not an HDF5 file")) return 2;
    puts("consumer ok");
    return 0;
}
C
cat > "$tmp/app/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(h5tier REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE h5tier::h5tier)
C
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/app/build" >/dev/null
"$tmp/app/build/consumer" | grep -q "consumer ok"

# pkg-config
export PKG_CONFIG_PATH=$(dirname "$pc")
cc -o "$tmp/app/pc" "$tmp/app/main.c" $(pkg-config --cflags --libs h5tier)
LD_LIBRARY_PATH=$(dirname "$(ls "$tmp"/prefix/lib*/libh5tier.so | head -1)") "$tmp/app/pc" | grep -q "consumer ok"
echo "install, find_package and pkg-config: ok"

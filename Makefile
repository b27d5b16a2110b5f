# h5tier -- the two commands a new user needs:
#   make demo   build, then show the main job at work
#   make test   build, then run the whole suite
# Both install missing Debian packages first (as root; otherwise they print
# the apt-get command).  Other targets: bench, bench-quick, test-asan,
# test-tsan, fuzz, torture, install, clean.
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
PREFIX  ?= /usr/local
CTEST_FLAGS ?= --output-on-failure -j$(JOBS) --timeout 600

.PHONY: all deps build demo test bench bench-quick test-asan test-tsan fuzz torture install clean
.PHONY: build-matrix test-hdf5-1.14 check-hdf5 coverage

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

bench: build
	bench/run.sh full $(BUILD)

bench-quick: build
	bench/run.sh quick $(BUILD)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DH5TIER_SANITIZE=address,undefined -DH5TIER_BUILD_BENCH=OFF -DH5TIER_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_FLAGS)

# The concurrent tests (names containing _mt or _concurrent) under ThreadSanitizer.
test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DH5TIER_SANITIZE=thread -DH5TIER_BUILD_BENCH=OFF -DH5TIER_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  setarch $$(uname -m) -R ctest $(CTEST_FLAGS) -R '_mt|_concurrent'

# Developers and CI: Debug, RelWithDebInfo and Release with GCC and Release
# with clang, each warning-free under -Werror (H5TIER_WERROR=ON), in build-matrix/.
build-matrix: deps
	@scripts/deps.sh g++ clang
	scripts/build-matrix.sh

# The whole suite against HDF5 1.14 (Debian trixie root, cached in
# /var/cache/h5tier), including the driver as a VFD plugin under stock tools.
test-hdf5-1.14:
	scripts/test-hdf5-1.14.sh

# HDF5 1.10.8's own test suite (Debian source package) with our driver on
# every test's file access list: make check-hdf5 DRIVER=shm (or sec2).
DRIVER ?= shm
check-hdf5: build
	scripts/check-hdf5.sh $(DRIVER) $(BUILD)

# Line and branch coverage per area (gcovr), from the whole suite.
coverage: deps
	@scripts/deps.sh gcovr
	scripts/coverage.sh

# libFuzzer (clang, ASan+UBSan) on every parser of untrusted bytes, each for
# FUZZ_SECONDS; findings are copied to tests/fuzz/regress/, which make test replays.
FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Crash loops: ROUNDS random SIGKILLs of each writer of kept data (ring writer,
# archiver, shm save, persist, journal commits), invariants checked after each
# (scripts/torture.sh; a 4-round variant runs in make test).
ROUNDS ?= 1000
torture: build
	scripts/torture.sh --rounds $(ROUNDS) $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-matrix build-fuzz build-coverage

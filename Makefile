# The two set-up commands: `make run` and `make test`. Each installs what is missing, fetches ggml
# (cached), configures and builds.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
ARGS ?=

.PHONY: setup configure build run test test-asan fuzz clean

setup:
	bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/rbees-workerd serve $(ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

# The whole unit and integration suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (CMakePresets.json, build-asan/), less the soak and the front end's load tests (label app-load),
# whose RSS bounds cannot hold under ASan's quarantine of freed memory; see
# docs/RELIABILITY.md.
test-asan: setup
	cmake --preset asan
	cmake --build --preset asan -j$(JOBS)
	@# LeakSanitizer stops threads with ptrace, which some containers forbid: then it is switched off.
	RBEES_ASAN_OPTIONS=$$(bash scripts/lsan-works.sh || echo detect_leaks=0) ctest --preset asan -j$(JOBS)

# Each libFuzzer target for FUZZ_SECONDS (clang; build-fuzz/).
FUZZ_SECONDS ?= 30
fuzz:
	bash scripts/setup.sh fuzz
	JOBS=$(JOBS) bash fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)

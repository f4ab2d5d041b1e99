# The two commands of the quick start: `make run` and `make test`. Both install missing
# Debian packages first (scripts/install-deps is a no-op when everything is there).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORCHAGENT_WERROR=ON

.PHONY: all deps build build-asan run test test-fast bench format clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer build of the same sources.
build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DORCHAGENT_WERROR=ON \
		-DORCHAGENT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Until the HTTP daemon lands (issue 4), `make run` shows the jail working: it runs a
# command in the default image and prints what the jail measured.
run: build
	@$(BUILD)/cli/orchagent jail --json --image images/host.yaml -- \
		/bin/sh -c 'echo "hello from $$(hostname) as uid $$(id -u) in $$(pwd)"; ls /'

# Every test of the release build, then the unit and jail tests again under ASan+UBSan.
test: build build-asan
	@cd $(BUILD) && ctest --output-on-failure --timeout 300
	@cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 300 -L 'unit|jail'

# Release build only (quicker while iterating).
test-fast: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 300

bench: build
	@bench/run

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

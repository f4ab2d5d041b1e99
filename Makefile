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

# The daemon on 127.0.0.1:8080 with the embedded SQLite store under ./var; it prints the
# URL and the admin key of org `local` (docs/operator.md). Ctrl-C drains and stops it.
LISTEN   ?= 127.0.0.1:8080
DATA_DIR ?= ./var
run: build
	@$(BUILD)/api/orchagentd --listen $(LISTEN) --data-dir $(DATA_DIR)

# Every test of the release build, then the unit, jail and HTTP-layer tests again under
# ASan+UBSan (the end-to-end tests drive the release daemon only).
test: build build-asan
	@cd $(BUILD) && ctest --output-on-failure --timeout 300
	@cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 300 -L 'unit|jail|http'

# Release build only (quicker while iterating).
test-fast: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 300

bench: build
	@bench/run

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# The two commands a new user needs:
#   make run    install what is missing, build, start the server on SQLite
#   make test   install what is missing, build, run every test
#
# Builds: build/ (gcc, warnings are errors), build-asan/ (clang with
# AddressSanitizer and UndefinedBehaviorSanitizer), build-fuzz/ (clang,
# libFuzzer harnesses, run briefly as a smoke test).

BUILD      ?= build
DATA       ?= ./var
MESON_OPTS ?= --buildtype=debugoptimized -Dwerror=true

.PHONY: all deps build run test test-unit test-asan test-fuzz bench clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	@mkdir -p $(DATA)
	ZTIAM_DATA=$(DATA) $(BUILD)/src/ztiam serve

build-asan/build.ninja:
	CC=clang meson setup build-asan --buildtype=debug -Dwerror=true \
	    -Db_sanitize=address,undefined -Db_lundef=false

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz --buildtype=debugoptimized \
	    -Dwerror=true -Dfuzz=true -Db_lundef=false

test: deps $(BUILD)/build.ninja build-asan/build.ninja build-fuzz/build.ninja
	ninja -C $(BUILD)
	ninja -C build-asan
	ninja -C build-fuzz
	@tests/run-all.sh $(BUILD) build-asan build-fuzz

bench: build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz

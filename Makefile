# wsedge: the commands. `make test` takes a fresh Debian 12 clone to green tests.
SHELL := /bin/bash
.DEFAULT_GOAL := build

BUILD_DIR     ?= build
SANITIZE_DIR  ?= build-sanitize
FUZZ_DIR      ?= build-fuzz
BUILD_TYPE    ?= RelWithDebInfo
JOBS          ?= $(shell nproc)
FUZZ_SECONDS  ?= 20
CTEST_ARGS    ?=
PREFIX        ?= /usr/local
DESTDIR       ?=

# Root installs directly; anyone else goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Everything the build, the tests and the fuzzers need, from Debian.
DEB_PACKAGES := \
  cmake g++ make pkg-config ca-certificates \
  liburing-dev android-libboringssl-dev libyaml-cpp-dev libcli11-dev libre2-dev \
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libsystemd-dev \
  clang clang-format libclang-rt-14-dev \
  python3 python3-websockets python3-prometheus-client python3-aiohttp nodejs node-ws openssl \
  wrk redis-server libhiredis-dev

# The Socket.IO app tests' packages, from npm (pinned by the lockfile).
APPS_DIR := tests/integration/apps

.PHONY: deps build test test-sanitize fuzz bench-micro demo compare lint install clean help

help:
	@echo "make demo           wss:// through wsedge to an echo backend, loaded for 10 s"
	@echo "make deps           install missing Debian packages (apt-get)"
	@echo "make build          configure and build ($(BUILD_TYPE)) in $(BUILD_DIR)/"
	@echo "make test           deps + build + every test (unit and integration)"
	@echo "make test-sanitize  the same tests under ASan + UBSan in $(SANITIZE_DIR)/"
	@echo "make fuzz           build the libFuzzer targets with clang, run each $(FUZZ_SECONDS)s"
	@echo "make bench-micro    run wsedge-micro and check the codec targets"
	@echo "make compare        wsedge against nginx, HAProxy and Caddy (bench/compare.sh)"
	@echo "make lint           the house rules CI checks: format, no repeated code"
	@echo "make install        build, then install under PREFIX ($(PREFIX)), staged in DESTDIR if set"

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "make deps: all packages present"; \
	fi
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; }
	@if [ ! -f $(APPS_DIR)/node_modules/.package-lock.json ] || \
	    [ $(APPS_DIR)/package-lock.json -nt $(APPS_DIR)/node_modules/.package-lock.json ]; then \
	  echo "make deps: npm ci in $(APPS_DIR)"; \
	  npm ci --prefix $(APPS_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error; \
	fi

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-sanitize: deps
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DWSEDGE_SANITIZE=ON
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWSEDGE_FUZZ=ON -DWSEDGE_BUILD_TESTS=OFF -DWSEDGE_BUILD_BENCH=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS)
	tests/fuzz/run_all.sh $(FUZZ_DIR)/tests/fuzz $(FUZZ_SECONDS)

demo: deps
	bench/demo.sh

compare: deps
	bench/compare.sh

lint: deps
	.ci/house-rules

# The prefix goes into the build's cache so that a plain `cmake --install` agrees.
install:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR)

bench-micro: build
	/usr/bin/python3 bench/micro_report.py $(BUILD_DIR)/bench/wsedge-micro

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR) build-release conf/examples/demo-certs

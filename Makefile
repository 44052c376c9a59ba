# Thin wrapper over CMake. `make run` and `make test` install what is missing first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps build configure run test test-unit test-conformance test-interop test-fuzz-smoke \
        test-asan fuzz bench bench-peers clean run-cluster

all: build

deps:
	@./scripts/install-deps

$(BUILD)/build.ninja $(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

configure: $(BUILD)/build.ninja

build: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@./scripts/bundle-web

# Serves the demo chat on http://localhost:8000 (config/demo.toml, in-memory broker);
# CONFIG=FILE runs with another configuration instead.
run: build
	./$(BUILD)/switchboard --config $(if $(CONFIG),$(CONFIG),config/demo.toml)

# The demo chat on a local cluster: redis-server, three nodes on the Redis broker
# (127.0.0.1:8001-8003) and nginx on http://localhost:8000 (deploy/nginx.conf);
# LB=haproxy uses deploy/haproxy.cfg instead. Ctrl-C stops everything.
run-cluster: build
	@BUILD=$(BUILD) ./scripts/run-cluster

# Every suite: unit (ctest), conformance, interop (Node ws + Chromium), TLS, fuzz smoke.
test: build
	@BUILD=$(BUILD) ./tests/run-all

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure

test-asan: deps
	@test -f $(BUILD_ASAN)/CMakeCache.txt || cmake -S . -B $(BUILD_ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@BUILD=$(BUILD_ASAN) SB_ASAN=1 ./tests/run-all --no-fuzz

$(BUILD_FUZZ)/CMakeCache.txt:
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_FUZZ=ON -DSB_TESTS=OFF >/dev/null

# Runs each libFuzzer target for FUZZ_SECONDS (default 60), growing fuzz/corpus/<target>/.
fuzz: deps $(BUILD_FUZZ)/CMakeCache.txt
	@cmake --build $(BUILD_FUZZ) -j $(JOBS)
	@./tests/fuzz/run --build $(BUILD_FUZZ) --seconds $${FUZZ_SECONDS:-60} --keep-corpus

bench: build
	@./bench/run
	@BUILD=$(BUILD) ./bench/run-cluster-fanout --out bench/CLUSTER-RESULTS.md

# Switchboard against nchan, Node ws and Socket.IO (bench/run-peers): every case, 3 repetitions;
# writes bench/results/<date>/ and the peers block of bench/RESULTS.md.
bench-peers: build
	@BUILD=$(BUILD) ./bench/run-peers

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

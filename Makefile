# LogStream -- the front door.  `make run` and `make test` are all a
# newcomer needs on Debian 12 (as root, or with sudo).
#
#   make run        build and run examples/quickstart.yaml (DURATION=0: forever)
#   make test       build and run the whole test suite
#   make test-asan  the suite under AddressSanitizer + UBSan
#   make valgrind   the unit suites under valgrind (leaks are errors)
#   make bench      benchmarks (figures in docs/benchmarks.md)
#   make fuzz       run each libFuzzer driver for FUZZ_SECONDS (clang)
#   make nab        score the anomaly detector on the NAB corpus (NAB_DATA)
#   make patterns-accuracy  the template miner on the Loghub samples
#                   (LOGHUB_DATA): grouping accuracy per system and average
#   make chaos      kill nodes of local clusters while a topology runs, verify
#   make clean

BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_BENCH ?= build-bench
BUILD_FUZZ ?= build-fuzz
DURATION ?= 30
FUZZ_SECONDS ?= 60
# The Numenta Anomaly Benchmark corpus, read in place (docs/anomaly.md).
NAB_DATA ?= $(abspath $(CURDIR)/../shared/datasets/nab)
# The Loghub 2k samples, read in place (docs/patterns.md).
LOGHUB_DATA ?= $(abspath $(CURDIR)/../shared/datasets/loghub)
# Warnings are errors in CI (CI=true) and wherever WERROR=true is set.
WERROR ?= $(if $(filter true 1,$(CI)),true,false)
MESON_TEST = meson test --print-errorlogs --num-processes 2

.PHONY: all deps build run test test-asan valgrind bench fuzz chaos nab \
	patterns-accuracy clean

all: build

deps:
	@sh tools/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=$(WERROR)

build: deps $(BUILD)/build.ninja
	@meson configure $(BUILD) -Dwerror=$(WERROR) >/dev/null
	ninja -C $(BUILD)

# The quickstart writes its files (errors.jsonl, dead-letters.jsonl,
# last-run.json) into $(BUILD)/quickstart/.
run: build
	@mkdir -p $(BUILD)/quickstart
	cd $(BUILD)/quickstart && $(abspath $(BUILD))/cmd/logstream run $(abspath examples/quickstart.yaml) --duration $(DURATION) --data-dir .

# The dashboard's test drives headless Chromium (installed when missing).
test: build
	@sh tools/deps.sh chromium
	@rm -f $(BUILD)/meson-logs/testlog.json
	@$(MESON_TEST) -C $(BUILD) --no-rebuild >$(BUILD)/test-output.txt 2>&1; \
	  status=$$?; tail -n 60 $(BUILD)/test-output.txt | grep -vE '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): ' ; \
	  python3 tools/test-summary.py $(BUILD)

test-asan: deps
	@test -f $(BUILD_ASAN)/build.ninja || meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=$(WERROR)
	ninja -C $(BUILD_ASAN)
	@rm -f $(BUILD_ASAN)/meson-logs/testlog.json
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON_TEST) -C $(BUILD_ASAN) --no-rebuild --timeout-multiplier 4 >$(BUILD_ASAN)/test-output.txt 2>&1; \
	  tail -n 40 $(BUILD_ASAN)/test-output.txt | grep -vE '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): '; \
	  python3 tools/test-summary.py $(BUILD_ASAN)

valgrind: build
	@sh tools/deps.sh valgrind
	@rm -f $(BUILD)/meson-logs/testlog-valgrind.json
	@$(MESON_TEST) -C $(BUILD) --no-rebuild --suite runtime --suite schemas --suite topology --suite actors \
	  --wrapper 'valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect' \
	  --timeout-multiplier 10 >$(BUILD)/valgrind-output.txt 2>&1; \
	  tail -n 40 $(BUILD)/valgrind-output.txt | grep -vE '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): '; \
	  python3 tools/test-summary.py $(BUILD) testlog-valgrind

bench: deps
	@test -f $(BUILD_BENCH)/build.ninja || meson setup $(BUILD_BENCH) --buildtype=release -Dtests=false
	ninja -C $(BUILD_BENCH)
	sh bench/run.sh $(BUILD_BENCH)

fuzz: deps
	@test -f $(BUILD_FUZZ)/build.ninja || CC=clang CXX=clang++ meson setup $(BUILD_FUZZ) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD_FUZZ)
	@for f in $(BUILD_FUZZ)/tests/fuzz/*_fuzz; do \
	  name=$$(basename $$f _fuzz); echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  mkdir -p $(BUILD_FUZZ)/corpus-$$name; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(BUILD_FUZZ)/corpus-$$name tests/fuzz/corpus/$$name || exit 1; \
	done

# The detector over every series of the NAB corpus (one configuration for
# all), scored with the NAB method: the standard, reward_low_FP_rate and
# reward_low_FN_rate profiles (docs/anomaly.md, figures in
# docs/benchmarks.md).
nab: build
	$(BUILD)/cmd/logstream nab --data $(NAB_DATA) --verbose

# The template miner over the eight Loghub samples (one configuration for
# all), scored with the Loghub grouping accuracy (docs/patterns.md,
# figures in docs/benchmarks.md).
patterns-accuracy: build
	$(BUILD)/cmd/logstream patterns --loghub $(LOGHUB_DATA)

# Every chaos scenario on fresh local clusters (chaos/README.md); about
# 10 minutes.  Exit status 1 when any result was lost, duplicated or wrong.
chaos: build
	python3 chaos/run.py --all --bin $(abspath $(BUILD))/cmd/logstream

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_BENCH) $(BUILD_FUZZ)

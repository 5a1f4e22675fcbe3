#!/bin/sh
# bench/run.sh -- run every benchmark of a build and print one line per
# figure (what `make bench` shows; the figures are discussed in
# docs/benchmarks.md).
#
#   sh bench/run.sh BUILD_DIR [NAME...]
#
# NAME is any of pingpong fanin ring spawn pipeline state state-rss remote
# remote-tls placement anomaly patterns session query index job failover
# (default: all, in that order).  remote-tls is remote_bench --tls (mutual
# TLS over tls+tcp://).  job is `logstream job run` (count by service and
# level, top-20 words) on the corpus's JSON lines.  index is index_bench
# against SQLite FTS5 on the 1 M-line corpus
# of ../shared/tools/make_corpus.py, written once under BUILD_DIR/corpus
# (LS_BENCH_CORPUS=FILE: another corpus).
# state-rss is state_bench --rss 10000000.  remote and placement are C
# programs like the others; failover is bench/failover_bench.py, run with
# python3 on BUILD_DIR/cmd/logstream (a 3-node cluster on loopback).
# Environment knobs, passed on to the programs:
#   LS_BENCH_RUNS=N     runs per figure (the median is printed; failover:
#                       leader kills)
#   LS_BENCH_SCALE=F    multiply every message/actor/event count by F
#                       (e.g. 0.01 for a quick sanity run under valgrind)
#   LS_BENCH_WORKERS=N  scheduler threads (default: one per core)
#   LS_BENCH_WRAPPER=.. a command to run each program under (valgrind ...)
#   LS_BENCH_TIMEOUT=S  kill a program that runs longer (default 300 s)
#
# Every program also checks that nothing was lost (each message, actor and
# event is counted); the script exits non-zero if any check failed.
set -u

if [ $# -lt 1 ] || [ ! -d "$1/bench" ]; then
	echo "usage: sh bench/run.sh BUILD_DIR [pingpong|fanin|ring|spawn|pipeline|state|state-rss|remote|remote-tls|placement|anomaly|patterns|session|query|index|job|ingest|failover]..." >&2
	echo "(BUILD_DIR is a meson build directory, e.g. build-bench)" >&2
	exit 2
fi
build=$1
dir=$build/bench
logstream=$1/cmd/logstream
here=$(dirname "$0")
shift
names=${*:-pingpong fanin ring spawn pipeline state state-rss remote remote-tls placement anomaly patterns session query index job ingest failover}

# Context on stderr, so that stdout holds only the figures.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "# $(nproc 2>/dev/null || echo '?') cores, ${cpu:-unknown CPU}, Linux $(uname -r)" >&2
load=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo 0)
echo "# load average $load before the run" >&2
case $load in
0.[0-4]*) ;;
*) echo "# note: the machine is busy; figures will be low and noisy" >&2 ;;
esac

# A runtime bug must not hang `make bench`: no program runs longer than
# this (normally each takes 2-20 s; more under a wrapper such as valgrind).
guard=
if command -v timeout >/dev/null 2>&1; then
	guard="timeout -k 10 ${LS_BENCH_TIMEOUT:-300}"
fi

status=0
start=$(date +%s)
for n in $names; do
	prog=$dir/${n}_bench
	if [ "$n" = failover ]; then
		# A cluster of real node processes; the wrapper does not apply.
		if [ ! -x "$logstream" ]; then
			echo "FAIL failover: $logstream not built" >&2
			status=1
		elif ! $guard python3 "$here/failover_bench.py" "$logstream"; then
			echo "FAIL failover: exited with an error (see above)" >&2
			status=1
		fi
		continue
	fi
	args=
	if [ "$n" = ingest ]; then
		# file and syslog-TCP sources into a null sink, one node
		corpus=${LS_BENCH_CORPUS:-$build/corpus/logs-1M.log}
		if [ ! -f "$corpus" ]; then
			gen=$here/../../shared/tools/make_corpus.py
			python3 "$gen" 1M --out "$build/corpus" >&2 || status=1
		fi
		if ! $guard python3 "$here/ingest_bench.py" "$logstream" "$corpus"; then
			echo "FAIL ingest: exited with an error (see above)" >&2
			status=1
		fi
		continue
	fi
	if [ "$n" = job ]; then
		# MapReduce jobs of `logstream job run` on the JSON lines of the
		# same 1 M-line corpus: count by (service, level), top-20 words.
		corpus=${LS_BENCH_CORPUS_JSONL:-$build/corpus/logs-1M.jsonl}
		if [ ! -f "$corpus" ]; then
			gen=$here/../../shared/tools/make_corpus.py
			python3 "$gen" 1M --out "$build/corpus" >&2 || status=1
		fi
		for spec in "count --by service,level" "words -n 20"; do
			# shellcheck disable=SC2086 # spec is words
			line=$($guard "$logstream" job run $spec --format json \
			    --output /dev/null "$corpus" 2>&1 | tail -n 1)
			case $line in
			"job: done:"*) echo "job ${spec%% *}: ${line#job: done: }" ;;
			*) echo "FAIL job $spec: $line" >&2; status=1 ;;
			esac
		done
		continue
	fi
	if [ "$n" = index ]; then
		# The corpus: made once, under the build directory (not the repo).
		corpus=${LS_BENCH_CORPUS:-$build/corpus/logs-1M.log}
		if [ ! -f "$corpus" ]; then
			gen=$here/../../shared/tools/make_corpus.py
			if ! python3 "$gen" 1M --out "$build/corpus" >&2; then
				echo "FAIL index: cannot make the corpus with $gen" >&2
				status=1
				continue
			fi
		fi
		args=$corpus
	fi
	if [ "$n" = state-rss ]; then
		# Memory of 10 M keys of state on the default budget.
		prog=$dir/state_bench
		args="--rss 10000000"
	fi
	if [ "$n" = remote-tls ]; then
		prog=$dir/remote_bench
		args="--tls"
	fi
	if [ ! -x "$prog" ]; then
		echo "FAIL $n: $prog not built" >&2
		status=1
		continue
	fi
	# shellcheck disable=SC2086 # the wrapper is a command line
	# shellcheck disable=SC2086 # args are words
	if ! $guard ${LS_BENCH_WRAPPER:-} "$prog" $args; then
		echo "FAIL $n: exited with an error (see above)" >&2
		status=1
	fi
done
echo "# total $(($(date +%s) - start)) s" >&2
exit $status

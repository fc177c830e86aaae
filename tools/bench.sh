#!/bin/sh
# make bench: start a broker on free loopback ports with a scratch data
# directory on the same disk as the repo, run the benchmarks against it,
# print their figures (ratios against references measured in the same run).
set -e
B=${1:-build}
SCRATCH=$(mktemp -d "${PWD}/build/bench-XXXXXX")
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export RAPPORT_BROKER_ENDPOINT="tcp://127.0.0.1:$(free_port)"
export RAPPORT_FEED_ENDPOINT="tcp://127.0.0.1:$(free_port)"
export RAPPORT_DATA_DIR="$SCRATCH/var"
export RAPPORT_LOG_LEVEL=warn
"$B/bin/rapport-broker" 2>"$SCRATCH/broker.log" &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; wait $BROKER 2>/dev/null; rm -rf "$SCRATCH"' EXIT
/usr/bin/python3 tools/wait_broker.py "$RAPPORT_BROKER_ENDPOINT"
# First, while the journal is short (the reminders process replays it). The
# reference: the journal taking batches of 1,000 events one at a time, as
# the reminders clock appends its firings.
BENCH_REMINDERS_REFERENCE=$("$B/bench/bench_journal" --integrator "$RAPPORT_BROKER_ENDPOINT" 1 1000 1 |
    awk '/^RESULT/ {print $2}') \
    "$B/bench/bench_reminders" "$RAPPORT_BROKER_ENDPOINT" "$SCRATCH" "$B/bin/rapport-reminders" \
    "${BENCH_REMINDERS:-10000}"
echo
# The journal's reference (one LMDB commit per event) is kept for the
# events-in figures at the end of bench_http.sh: ratios against it.
BENCH_REFERENCE_FILE="$SCRATCH/reference.rate" \
    "$B/bench/bench_journal" "$RAPPORT_BROKER_ENDPOINT" "$SCRATCH" "${BENCH_SECONDS:-3}"
BENCH_JOURNAL_REFERENCE=$(cat "$SCRATCH/reference.rate" 2>/dev/null || true)
export BENCH_JOURNAL_REFERENCE
echo
"$B/bench/bench_router" "$RAPPORT_BROKER_ENDPOINT" "${BENCH_REQUESTS:-200000}"
echo
"$B/bench/bench_reports" "$SCRATCH" "${BENCH_DEALS:-100000}"
echo
tools/bench_http.sh "$B"

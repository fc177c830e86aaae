#!/bin/sh
# make run: start the broker, then every other service that is built, on
# loopback, with the data directory ./var (RAPPORT_DATA_DIR overrides).
# Logs go to the terminal; Ctrl-C (or SIGTERM) stops everything cleanly.
B=${1:-build}
export RAPPORT_DATA_DIR="${RAPPORT_DATA_DIR:-$PWD/var}"
export RAPPORT_BROKER_ENDPOINT="${RAPPORT_BROKER_ENDPOINT:-tcp://127.0.0.1:5555}"
export RAPPORT_FEED_ENDPOINT="${RAPPORT_FEED_ENDPOINT:-tcp://127.0.0.1:5556}"
mkdir -p "$RAPPORT_DATA_DIR"
PIDS=""
stop() {
    trap - INT TERM EXIT
    [ -n "$PIDS" ] && kill $PIDS 2>/dev/null
    wait
}
trap stop INT TERM EXIT

"$B/bin/rapport-broker" &
PIDS="$!"
/usr/bin/python3 tools/wait_broker.py "$RAPPORT_BROKER_ENDPOINT" || exit 1
for program in "$B"/bin/rapport-*; do
    case "$program" in *rapport-broker) continue ;; esac
    "$program" &
    PIDS="$PIDS $!"
done
echo "rapport: running (data in $RAPPORT_DATA_DIR, requests on $RAPPORT_BROKER_ENDPOINT," \
     "feed on $RAPPORT_FEED_ENDPOINT); Ctrl-C stops"
wait

#!/bin/sh
# make run: start the broker, then every other service that is built, on
# loopback, with the data directory ./var (RAPPORT_DATA_DIR overrides).
# Logs go to the terminal; Ctrl-C (or SIGTERM) stops everything cleanly.
B=${1:-build}
export RAPPORT_DATA_DIR="${RAPPORT_DATA_DIR:-$PWD/var}"
export RAPPORT_BROKER_ENDPOINT="${RAPPORT_BROKER_ENDPOINT:-tcp://127.0.0.1:5555}"
export RAPPORT_FEED_ENDPOINT="${RAPPORT_FEED_ENDPOINT:-tcp://127.0.0.1:5556}"
mkdir -p "$RAPPORT_DATA_DIR"
# The gateway's bootstrap admin key: RAPPORT_ADMIN_KEY if set, else the one
# generated on the first run and kept (mode 600) in the data directory.
if [ -z "$RAPPORT_ADMIN_KEY" ]; then
    KEYFILE="$RAPPORT_DATA_DIR/admin.key"
    if [ ! -s "$KEYFILE" ]; then
        (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$KEYFILE")
        echo "rapport: generated the admin API key (kept in $KEYFILE):"
        echo "    $(cat "$KEYFILE")"
    fi
    RAPPORT_ADMIN_KEY=$(cat "$KEYFILE")
    export RAPPORT_ADMIN_KEY
fi
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
    case "$program" in *rapport-broker | *rapport-probe) continue ;; esac  # the probe is for health checks
    "$program" &
    PIDS="$PIDS $!"
done
echo "rapport: running (data in $RAPPORT_DATA_DIR, requests on $RAPPORT_BROKER_ENDPOINT," \
     "feed on $RAPPORT_FEED_ENDPOINT); Ctrl-C stops"
# Run while a service runs and make (our parent) does: a SIGTERM sent to
# make alone (a supervisor, `kill <make pid>`) is not passed on to us, so
# its going away stops everything too. A trapped signal ends the short
# wait at once. (A child that exited is a zombie until waited for.)
PARENT=$PPID
running() {
    for pid in $PIDS; do
        [ -r "/proc/$pid/stat" ] && awk '{ exit $3 == "Z" }' "/proc/$pid/stat" && return 0
    done
    return 1
}
while running && kill -0 "$PARENT" 2>/dev/null; do
    sleep 1 &
    wait $!
done

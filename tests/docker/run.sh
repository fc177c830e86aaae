#!/bin/sh
# make docker-test: Rapport on a real Docker engine, with docker/compose.yml
# run unchanged (tests/docker/test_compose.py says what is checked).
#
#  1. the engine: DOCKER_HOST's (or the default socket's) if one answers;
#     else our own dockerd as root with --storage-driver=vfs and its own
#     --data-root, --exec-root and unix socket, stopped by its pid at exit.
#     Its data root ($RAPPORT_DOCKER_ROOT, default /var/lib/rapport-docker)
#     is kept between runs: base images and build layers are reused, and
#     anything missing is made again.
#  2. the base images, made with debootstrap when missing (tools/docker-base.sh);
#  3. the image, built once from the work tree (docker/Dockerfile);
#  4. the compose story (pytest), `down -v` at the end whatever happened.
#
# Runs are serialized by a lock: two at once would share one engine.
set -eu
cd "$(dirname "$0")/../.."
ROOT=${RAPPORT_DOCKER_ROOT:-/var/lib/rapport-docker}
RUN=${RAPPORT_DOCKER_RUN:-/run/rapport-docker}
IMAGE=${RAPPORT_IMAGE:-rapport:docker-test}
mkdir -p "$ROOT" "$RUN"

exec 9>"$RUN.lock"
flock 9

START=$(date +%s)
LAST=$START
phase() {
    now=$(date +%s)
    echo "docker-test: $1 ($((now - LAST)) s)"
    LAST=$now
}

DOCKERD_PID=""
SUMMARY=""
stop_engine() {
    [ -n "$DOCKERD_PID" ] || return 0
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    i=0
    while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID" 2>/dev/null
    DOCKERD_PID=""
    echo "docker-test: engine stopped"
}
# pytest's summary line comes last, after the engine's shutdown, for CI.
finish() {
    stop_engine
    [ -n "$SUMMARY" ] && echo "$SUMMARY"
}
trap finish EXIT
trap 'exit 130' INT TERM

if docker info >/dev/null 2>&1; then
    echo "docker-test: using the running engine (${DOCKER_HOST:-default socket})"
else
    export DOCKER_HOST="unix://$RUN/docker.sock"
    old=$(cat "$RUN/dockerd.pid" 2>/dev/null || true)
    if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = dockerd ]; then
        # Left by a run that was killed before it could stop it: ours to stop.
        DOCKERD_PID=$old
        stop_engine
    fi
    rm -f "$RUN/dockerd.pid"
    dockerd --storage-driver=vfs --data-root="$ROOT/data" --exec-root="$RUN/exec" \
        -H "$DOCKER_HOST" --pidfile="$RUN/dockerd.pid" --log-level=warn \
        >"$RUN/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 120 ] || ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            tail -20 "$RUN/dockerd.log"
            echo "docker-test: dockerd did not start" >&2
            exit 1
        fi
        sleep 0.5
    done
    phase "started dockerd (vfs, pid $DOCKERD_PID, $DOCKER_HOST)"
fi

RAPPORT_DOCKER_CACHE=${RAPPORT_DOCKER_CACHE:-$ROOT/base} tools/docker-base.sh
phase "base images ready"

# The classic builder when BuildKit's client (buildx) is absent, as with
# Debian's docker.io; compose 1.29 builds that way too.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
# The build stage is tagged too, so pruning old images keeps its layers
# (the compilers' apt layer) cached for the next run.
build() {
    docker build "$@" -f docker/Dockerfile . >"$RUN/build.log" 2>&1 ||
        { tail -40 "$RUN/build.log"; echo "docker-test: build failed" >&2; exit 1; }
}
build --target build -t "$IMAGE-build"
build -t "$IMAGE"
# Old builds of ours are dangling now; on an engine that is not ours, its
# owner decides what to prune.
[ -n "$DOCKERD_PID" ] && docker image prune -f >/dev/null
phase "image $IMAGE built"

echo 1 >"$RUN/pytest.rc"
{
    RAPPORT_DOCKER_TEST=1 RAPPORT_IMAGE="$IMAGE" RAPPORT_DOCKER_RUN="$RUN" \
        /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/docker/test_compose.py &&
        echo 0 >"$RUN/pytest.rc"
} 2>&1 | tee "$RUN/pytest.log"
status=$(cat "$RUN/pytest.rc")
SUMMARY=$(grep -E '^=* ?[0-9]+ (passed|failed)|^[0-9]+ (passed|failed)|no tests ran' "$RUN/pytest.log" | tail -1)
phase "compose tests"
echo "docker-test: total $(( $(date +%s) - START )) s"
exit $status

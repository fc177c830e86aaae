#!/bin/sh
# Install the Debian packages Rapport needs to build, test and benchmark
# (or those named as arguments: tools/docker-deps.sh), but only those that
# are missing, so a second run costs nothing.
set -e
PKGS="build-essential pkg-config libczmq-dev libzmq3-dev libmsgpack-dev liblmdb-dev lmdb-utils
      libevent-dev libjansson-dev libsodium-dev libical-dev libcurl4-openssl-dev tzdata cppcheck clang-format
      python3 python3-zmq python3-msgpack python3-pytest python3-jsonschema wrk nginx-light"
[ $# -gt 0 ] && PKGS="$*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing

#!/bin/sh
# Install what `make docker-test` needs beyond tools/deps.sh: a Docker
# engine (Debian's docker.io: dockerd, containerd, runc), Compose
# (docker-compose 1.29; a Compose v2 `docker compose` is used instead when
# present) and debootstrap for the base images. Only missing packages are
# installed, so a second run costs nothing; plain `make test` never runs this.
set -e
PKGS="docker.io docker-compose debootstrap iptables"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "docker-deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing

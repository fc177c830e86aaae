#!/bin/sh
# Install what `make docker-test` needs beyond tools/deps.sh: a Docker
# engine (Debian's docker.io: dockerd, containerd, runc), Compose
# (docker-compose 1.29; a Compose v2 `docker compose` is used instead when
# present) and debootstrap for the base images. Only missing packages are
# installed (tools/deps.sh), so a second run costs nothing; plain `make
# test` never runs this.
exec "$(dirname "$0")/deps.sh" docker.io docker-compose debootstrap iptables

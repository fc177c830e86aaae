#!/bin/sh
# Make the base images docker/Dockerfile builds on, debian:bookworm and
# debian:bookworm-slim, in the engine that DOCKER_HOST names, when they are
# missing and cannot be pulled (machines without an image registry).
#
# They are made as Debian's own images are: debootstrap --variant=minbase,
# then for -slim the documentation, manuals and translations removed and
# excluded from later installs. The root file systems are kept as tar files
# in $RAPPORT_DOCKER_CACHE (default /var/cache/rapport-docker) so the next
# run on this machine imports them in seconds; a missing or broken cache
# only costs the debootstrap again (about a minute).
#
# The Debian mirror is the one this machine's apt uses (RAPPORT_DEBIAN_MIRROR
# overrides); http_proxy from the environment reaches debootstrap.
set -e
CACHE=${RAPPORT_DOCKER_CACHE:-/var/cache/rapport-docker}
SUITE=bookworm

have() { docker image inspect "$1" >/dev/null 2>&1; }
pull() { timeout 120 docker pull -q "$1" >/dev/null 2>&1; }

mirror() {
    [ -n "$RAPPORT_DEBIAN_MIRROR" ] && { echo "$RAPPORT_DEBIAN_MIRROR"; return; }
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '$1 == "URIs:" && $2 ~ /\/debian\/?$/ { print $2; exit }')
    [ -z "$m" ] && m=$(cat /etc/apt/sources.list 2>/dev/null |
        awk '$1 == "deb" && $3 == "'$SUITE'" { print $2; exit }')
    echo "${m:-http://deb.debian.org/debian}"
}

# Make both tar files from one debootstrap.
bootstrap() {
    root="$CACHE/rootfs"
    rm -rf "$root"
    mkdir -p "$CACHE"
    echo "docker-base: debootstrap --variant=minbase $SUITE from $(mirror)"
    debootstrap --variant=minbase "$SUITE" "$root" "$(mirror)" > "$CACHE/debootstrap.log" 2>&1 ||
        { tail -20 "$CACHE/debootstrap.log"; exit 1; }
    # As Debian's images: the security and update suites, empty apt lists,
    # no host files that the engine provides at run time.
    rm -f "$root/etc/apt/sources.list" "$root/etc/hostname" "$root/etc/resolv.conf"
    cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
           "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
    tar -C "$root" --numeric-owner -cf "$CACHE/$SUITE.tar.tmp" .
    # -slim: what Debian's slim images leave out, now and for later installs.
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* \
           "$root"/usr/share/locale/* "$root"/usr/share/doc/*/[!c]*
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright -type f -delete
    cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
SLIM
    tar -C "$root" --numeric-owner -cf "$CACHE/$SUITE-slim.tar.tmp" .
    mv "$CACHE/$SUITE.tar.tmp" "$CACHE/$SUITE.tar"
    mv "$CACHE/$SUITE-slim.tar.tmp" "$CACHE/$SUITE-slim.tar"
    rm -rf "$root"
}

import() { [ -s "$CACHE/$2.tar" ] && docker import "$CACHE/$2.tar" "$1" >/dev/null; }

for image in debian:$SUITE debian:$SUITE-slim; do
    have "$image" && continue
    pull "$image" && { echo "docker-base: pulled $image"; continue; }
    name=${image#debian:}
    if import "$image" "$name"; then
        echo "docker-base: $image from $CACHE/$name.tar"
        continue
    fi
    bootstrap
    import "$image" "$name" || { echo "docker-base: cannot import $image" >&2; exit 1; }
    echo "docker-base: $image made with debootstrap"
done

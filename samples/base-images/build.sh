#!/usr/bin/env bash
# Builds the base images that samples and tests run on, from Debian's packages, because no
# container registry is reachable where kompy is developed. Each image is built once and
# reused; pass --force to rebuild.
#
#   kompy/busybox:1  busybox-static applets in an otherwise empty root file system
#   kompy/python:3   debootstrap minbase bookworm with python3 (and redis-server)
#
# It also gives kompy/busybox:1 the name of `kompy convert`'s default helper image,
# busybox:1.36-musl (depends_on waits, volume seeds: sh, nc and a static busybox), when the
# engine has no image of that name, so that converted manifests run on kompy's built-in
# cluster without a registry, as `kind load docker-image` provides an image to kind's nodes.
# An engine that can pull the real one is not affected once it has it (docker pull replaces
# the tag); `docker image rm busybox:1.36-musl` removes the stand-in.
set -euo pipefail
force=0
[[ "${1:-}" == "--force" ]] && force=1

need_image() { [[ $force == 1 ]] || ! docker image inspect "$1" >/dev/null 2>&1; }
apt_install() {
    dpkg -s "$@" >/dev/null 2>&1 && return 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if need_image kompy/busybox:1; then
    apt_install busybox-static
    root="$work/busybox"
    mkdir -p "$root"/{bin,etc,tmp,var/www,root,home,proc,sys,dev,run}
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000:app:/home:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\napp:x:1000:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import \
        -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - kompy/busybox:1 >/dev/null
    echo "built kompy/busybox:1" >&2
fi

if need_image kompy/python:3; then
    apt_install debootstrap
    root="$work/python"
    debootstrap --variant=minbase --include=python3,redis-server bookworm "$root" \
        >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV PYTHONUNBUFFERED=1' -c 'CMD ["python3"]' - kompy/python:3 >/dev/null
    echo "built kompy/python:3" >&2
fi

helper=busybox:1.36-musl
if ! docker image inspect "$helper" >/dev/null 2>&1; then
    docker tag kompy/busybox:1 "$helper"
    echo "tagged kompy/busybox:1 as $helper (kompy convert's default helper image)" >&2
fi

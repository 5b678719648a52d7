#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io when missing, start dockerd
# when it is not running. Needs root for both; does nothing when `docker info` already works.
set -euo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "ensure-docker: installing Debian's docker.io" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
    echo "ensure-docker: starting dockerd" >&2
    nohup dockerd >/var/log/kompy-dockerd.log 2>&1 &
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && exit 0
        sleep 0.5
    done
    echo "ensure-docker: dockerd did not answer within 60 s; see /var/log/kompy-dockerd.log" >&2
    exit 1
fi

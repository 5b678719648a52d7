#!/usr/bin/env bash
# The test command (README "Quick start"): installs what the tests need, then runs them.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
bash samples/base-images/ensure-docker.sh
bash samples/base-images/build.sh
# The fidelity suite (tests/integration/fidelity) runs every case under Debian's docker-compose
# 1.29, the behaviour reference, before running it converted.
# The registry tests (tests/integration/registrykit.py) run Debian's docker-registry (the CNCF
# distribution registry) on 127.0.0.1, with htpasswd (apache2-utils) for its bcrypt users.
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
# The Ingress tests (tests/integration/cluster/test_ingress.py) reach made-up hosts as a user
# does: curl --resolve shop.local:PORT:127.0.0.1.
command -v curl >/dev/null 2>&1 || missing+=(curl)
# NetworkPolicies (tests/integration/cluster/test_network_policy.py) are iptables rules.
command -v iptables-restore >/dev/null 2>&1 || missing+=(iptables)
# The dashboard's browser tests (tests/integration/dashboard) drive Debian's headless chromium
# through its chromedriver (Selenium, a [test] extra).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec python3 -m pytest -q -p no:cacheprovider --durations=25 "$@"

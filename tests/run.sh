#!/usr/bin/env bash
# The test command (README "Quick start"): installs what the tests need, then runs them.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
bash samples/base-images/ensure-docker.sh
bash samples/base-images/build.sh
exec python3 -m pytest -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Quick start: install kompy from this checkout and convert the bundled web-app sample.
#   bash samples/quickstart.sh            manifests to out/webapp/, then a summary
# Needs Python >= 3.11 and pip; no Docker engine or cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e .
kompy config -f samples/webapp/compose.yaml --services
kompy convert -f samples/webapp/compose.yaml -o out/webapp
echo "manifests written to out/webapp/:"
ls -1 out/webapp

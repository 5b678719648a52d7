#!/bin/sh
# Stock kubectl 1.27 to 1.33 (every version installed beside the kubectl on the PATH) run
# the conformance session of tests/integration/cluster/test_kubectl_conformance.py against
# one built-in cluster on the Docker engine, one version after another; CI runs three of
# them (1.27, 1.30, 1.33). Prints each version's result and the time of the whole run.
#   bash benchmarks/kubectl_conformance.sh            # all versions
#   KOMPY_KUBECTL_VERSIONS=29,31 bash benchmarks/kubectl_conformance.sh
set -eu
cd "$(dirname "$0")/.."
export KOMPY_KUBECTL_VERSIONS="${KOMPY_KUBECTL_VERSIONS:-all}"
start=$(date +%s)
python3 -m pytest -p no:cacheprovider -v --durations=0 \
    tests/integration/cluster/test_kubectl_conformance.py
echo "kubectl conformance ($KOMPY_KUBECTL_VERSIONS): $(( $(date +%s) - start )) s"

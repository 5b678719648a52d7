"""YAML for all of kompy: the one package that imports ruamel.yaml (reading with positions,
writing deterministic block YAML, and plain load/dump for kubeconfigs and ``-o yaml``)."""

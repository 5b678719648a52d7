"""kompy: from a Compose project to Kubernetes manifests, and a small local cluster to run them."""

__version__ = "0.1.0"

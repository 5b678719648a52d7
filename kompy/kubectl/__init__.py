"""kubectl-shaped commands (apply, get, describe, delete, logs, exec, scale, port-forward,
rollout): clients of the Kubernetes API that work on any cluster, never importing the
built-in cluster."""

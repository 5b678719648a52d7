"""The built-in cluster: store, API server, daemon (cluster-api) and runtime (cluster-runtime)."""

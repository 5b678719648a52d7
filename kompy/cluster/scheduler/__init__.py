"""The scheduler of a one-node cluster: registers the node and binds pending pods to it."""

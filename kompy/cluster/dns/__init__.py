"""Cluster DNS, as CoreDNS serves a kubeadm cluster: Services, their endpoints and pods by
name under ``cluster.local``, other names from the node's resolvers (dnspython in ``wire``)."""

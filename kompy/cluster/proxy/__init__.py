"""The Service proxy: ClusterIPs and published ports relayed to ready endpoints."""

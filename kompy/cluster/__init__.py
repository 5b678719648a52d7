"""The built-in cluster: a small Kubernetes on the Docker engine, laid out as Kubernetes is
(apiserver, store, controllers, scheduler, kubelet, proxy, and the daemon that runs them)."""

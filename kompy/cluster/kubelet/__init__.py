"""The kubelet: pod workers that run pods as containers, pod spec translation, volumes,
probes, pod status, logs and exec, hosts files, and the container backends behind the
ContainerBackend interface (the Docker engine's, and an in-memory fake for tests)."""

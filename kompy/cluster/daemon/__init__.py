"""The cluster daemon: its process (start, stop, status), its state folder, and the wiring
that starts the scheduler, controllers, kubelet and proxy against the API server."""

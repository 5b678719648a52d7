"""The inner loop on the built-in cluster: building images, `kompy up` / `kompy down`."""

"""The inner loop on the built-in cluster: `kompy up` / `kompy down` (build images, apply,
wait until ready) and `kompy dev` (watch, sync, restart, rebuild, stream logs, clean up)."""

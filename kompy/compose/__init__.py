"""Loading Compose projects as ``docker compose config`` does: discovery, ``.env`` files,
interpolation, merging several files, ``include`` and ``extends``, profiles, validation."""

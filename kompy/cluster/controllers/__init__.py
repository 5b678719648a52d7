"""Controllers of the built-in cluster: level-triggered loops over shared informers."""

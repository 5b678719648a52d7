"""The cluster's storage: objects, resource versions and watch history in SQLite."""

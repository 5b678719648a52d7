"""The scheduler (kube-scheduler): filters and scores the nodes for each pending pod, and
binds it to the best."""

"""Well-known labels and annotations: API conventions that the cluster's controllers and
kubelet, kubectl-shaped commands and ``kompy dev`` all read or write, named once.

https://kubernetes.io/docs/reference/labels-annotations-taints/
"""

from __future__ import annotations

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
# A Deployment's annotations that are bookkeeping, not the user's: a ReplicaSet does not
# inherit them (upstream's skipCopyAnnotation), and `rollout undo` keeps the Deployment's own
# values of them (kubectl's annotationsToSkip, the same set). The rest, change-cause among
# them, travel between the two.
BOOKKEEPING_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION,
    "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
})

# A pod annotation (RFC 3339 time, fraction allowed) asking the kubelet to restart the pod's
# app containers in place, keeping their files: written by `kompy dev`
# (kompy/dev/sync.py), acted on by kompy/cluster/kubelet/podworker.py.
RESTART_ANNOTATION = "kompy.dev/restart-requested-at"

# A StorageClass so annotated "true" is the default one: claims that name no class get it
# (DefaultStorageClass admission), and `kubectl get sc` shows it as "NAME (default)".
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")

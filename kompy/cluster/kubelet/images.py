"""The kubelet's images: which image a container runs, pulled as its ``imagePullPolicy``
says, with ErrImagePull / ImagePullBackOff as the kubelet reports them, and the sandbox's
"pause" image. https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
Pulls use the pod's ``imagePullSecrets`` (pullsecrets.py) as the kubelet does: each matching
credential in turn, or none at all when no secret serves the image's registry.
"""

from __future__ import annotations

import time
from typing import Any

from kompy.client.events import EventRecorder
from kompy.client.objects import Obj
from kompy.cluster.kubelet.backend import ContainerBackend, ImageInfo, ImagePullError
from kompy.cluster.kubelet.pullsecrets import Lookup, credentials_for

PAUSE_IMAGES = ("kompy/busybox:1", "busybox:latest")
# The longest wait between pulls of an image that failed (kubelet's maxPullBackOff).
MAX_PULL_BACKOFF = 300.0
IMAGE_CACHE_SECONDS = 10.0


class Hold(Exception):
    """Stop this sync here; ``retry`` seconds later (or on the next event) try again."""

    def __init__(self, retry: float | None = None) -> None:
        super().__init__()
        self.retry = retry


class ImagePuller:
    def __init__(self, backend: ContainerBackend, recorder: EventRecorder,
                 secrets: Lookup | None = None) -> None:
        self.backend = backend
        self.recorder = recorder
        self.secrets = secrets
        self._pause: str | None = None
        self._images: dict[str, tuple[ImageInfo, float]] = {}

    def pause_image(self) -> str:
        """The sandbox image: the first local one of PAUSE_IMAGES, else the last pulled."""
        if self._pause is None:
            for ref in PAUSE_IMAGES:
                if self.backend.image(ref) is not None:
                    self._pause = ref
                    break
            else:
                self.backend.pull(PAUSE_IMAGES[-1])
                self._pause = PAUSE_IMAGES[-1]
        return self._pause

    def ensure(self, pod: Obj, c: dict[str, Any], waiting: dict[str, tuple[str, str]],
               pull_failures: dict[str, int]) -> str:
        """The image of container ``c``, pulled as its ``imagePullPolicy`` says; a failed
        pull notes the container's waiting reason and raises :class:`Hold` with a back-off."""
        ref = str(c.get("image") or "")
        cname = str(c.get("name"))
        policy = c.get("imagePullPolicy") or ("Always" if ref.endswith(":latest") or ":" not in
                                               ref.rsplit("/", 1)[-1] else "IfNotPresent")
        info = self._local_image(ref)
        # A local image without a registry digest was built or imported here: pulling it
        # could only fail, so "Always" uses it as it is.
        if info is not None and (policy != "Always" or not info.repo_digests):
            if cname not in pull_failures and cname not in waiting:
                self.recorder.normal(pod, "Pulled", f'Container image "{ref}" already '
                                     "present on machine")
            pull_failures.pop(cname, None)
            return ref
        if policy == "Never":
            waiting[cname] = ("ErrImageNeverPull",
                                    f'Container image "{ref}" is not present with pull '
                                    "policy of Never")
            raise Hold()
        self.recorder.normal(pod, "Pulling", f'Pulling image "{ref}"')
        try:
            self._pull(pod, ref)
        except ImagePullError as error:
            if info is not None:
                return ref
            failures = pull_failures.get(cname, 0) + 1
            pull_failures[cname] = failures
            reason = "ErrImagePull" if failures == 1 else "ImagePullBackOff"
            waiting[cname] = (reason, error.message)
            self.recorder.warning(pod, "Failed", f"Failed to pull image \"{ref}\": "
                                  f"{error.message}")
            if failures > 1:
                self.recorder.normal(pod, "BackOff", f'Back-off pulling image "{ref}"')
            raise Hold(min(5.0 * 2 ** (failures - 1), MAX_PULL_BACKOFF)) from error
        pull_failures.pop(cname, None)
        self.recorder.normal(pod, "Pulled", f'Successfully pulled image "{ref}"')
        return ref

    def _pull(self, pod: Obj, ref: str) -> None:
        """Pull with each credential the pod's pull secrets have for the registry (the
        last failure is the one reported), or anonymously when they have none."""
        found = credentials_for(pod, ref, self.secrets) if self.secrets else []
        if not found:
            self.backend.pull(ref)
            return
        failure: ImagePullError | None = None
        for auth in found:
            try:
                self.backend.pull(ref, auth)
                return
            except ImagePullError as error:
                failure = error
        assert failure is not None
        raise failure

    def user_of(self, ref: str) -> str:
        """The USER the local image ``ref`` runs as ("" for root, or when it is not here)."""
        info = self._local_image(ref)
        return info.user if info is not None else ""

    def _local_image(self, ref: str) -> ImageInfo | None:
        """Image inspection, remembered for a few seconds: a Deployment's pods all start
        from the same image at once."""
        now = time.monotonic()
        cached = self._images.get(ref)
        if cached is not None and now - cached[1] < IMAGE_CACHE_SECONDS:
            return cached[0]
        info = self.backend.image(ref)
        if info is not None:
            self._images[ref] = (info, now)
        return info

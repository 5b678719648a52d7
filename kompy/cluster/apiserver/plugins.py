"""The admission plugins that read other objects of the namespace, in kube-apiserver's
order: Priority (pods' priority from their PriorityClass, the classes' own rules),
DefaultStorageClass and the claim resize rules (storage), LimitRanger (defaults, then
bounds), ResourceQuota last, on what the others made of the object.

Run by the handlers under the lock that also stores the object, after the name of a
``generateName`` object is chosen (their messages name it, as upstream's do)."""

from __future__ import annotations

from kompy.client.objects import Obj
from kompy.client.resources import Resource
from kompy.cluster.apiserver import limitranger, priority, quota, storage
from kompy.cluster.apiserver.quota import Listing


def admit(res: Resource, obj: Obj, listing: Listing, old: Obj | None = None
          ) -> list[quota.Charge]:
    """Change ``obj`` as the mutating plugins do, or raise the first plugin's refusal;
    returns the quotas' usage to record once the object is stored."""
    priority.admit(res, obj, listing, old)
    storage.admit(res, obj, listing, old)
    limitranger.admit(res, obj, listing, old)
    return quota.check(res, obj, listing, old)


__all__ = ["admit"]

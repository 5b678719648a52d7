"""The kubectl-like commands (apply, get, describe, delete, logs, scale), all through
the Kubernetes API (KubeClient), so they work the same on the built-in and real clusters.

Each returns an exit code and writes through ``out`` (text for standard output), so the CLI
stays a thin layer and tests can capture output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from kompy.client import KubeClient, resources, tables
from kompy.client.errors import ApiError, NotFound
from kompy.client.objects import Obj
from kompy.client.selectors import selector_from_match
from kompy.errors import MultiError, UserError
from kompy.kubectl import deletion, manifests, printers

Out = Callable[[str], None]


# What ``kubectl get all`` lists.
ALL = ("pods", "services", "daemonsets", "deployments", "replicasets", "statefulsets", "jobs",
       "cronjobs")


def _split_kind_name(kind: str, names: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """``pods a b`` / ``pod/a deploy/b`` / ``pods`` / ``all`` -> [(kind, name)...]."""
    if kind == "all" and not names:
        return [(k, None) for k in ALL]
    if "/" in kind:
        return [tuple(x.split("/", 1)) for x in (kind, *names)]  # type: ignore[misc]
    if "," in kind and not names:
        return [(k, None) for k in kind.split(",")]
    return [(kind, n) for n in names] or [(kind, None)]


def read_for_apply(targets: tuple[str, ...]) -> list[manifests.Manifest]:
    """The manifests to apply; none is an error, before any cluster is asked (as kubectl)."""
    found = manifests.read(targets)
    if not found:
        # kubectl's words, and its exit status (1) for them: scripts test for it.
        nothing = UserError("no objects passed to apply",
                            hint=f"{', '.join(targets)} holds no Kubernetes object")
        nothing.exit_code = 1
        raise nothing
    return found


def apply(client: KubeClient, targets: tuple[str, ...], namespace: str | None, out: Out,
          found: list[manifests.Manifest] | None = None) -> int:
    errors: list[UserError] = []
    for manifest in found if found is not None else read_for_apply(targets):
        obj = manifest.obj
        if namespace and _known(obj) and resources.for_object(obj).namespaced:
            obj.setdefault("metadata", {}).setdefault("namespace", namespace)
        try:
            result, action = client.apply_result(obj)
        except ApiError as error:
            errors.append(UserError(error.message, location=manifest.location, hint=error.hint))
            continue
        res = resources.for_object(result)
        out(f"{res.qualified}/{result['metadata']['name']} {action}\n")
    if errors:
        raise MultiError(errors) if len(errors) > 1 else errors[0]
    return 0


def _known(obj: Obj) -> bool:
    try:
        resources.for_object(obj)
    except NotFound:
        return False
    return True


def get(client: KubeClient, kind: str, names: tuple[str, ...], *, namespace: str | None,
        all_namespaces: bool, output: str | None, selector: str | None, watch: bool,
        out: Out) -> int:
    pairs = _split_kind_name(kind, names)
    objs_by_kind: list[tuple[str, list[Obj]]] = []
    single = len(pairs) == 1 and pairs[0][1] is not None
    ns = None if all_namespaces else (namespace or client.namespace)
    last_rv = ""
    for kind_name, name in pairs:
        res = resources.lookup(kind_name)
        if name is not None:
            objs_by_kind.append((res.plural, [client.get(res.plural, name, ns)]))
        else:
            listing = client.list(res.plural, ns if res.namespaced else None, selector)
            last_rv = listing["metadata"].get("resourceVersion", "")
            items = listing["items"]
            if res.plural == "events":
                items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
            objs_by_kind.append((res.plural, items))
    widths: list[int] = []
    if output in ("yaml", "json", "name"):
        out(printers.render([o for _, objs in objs_by_kind for o in objs], output, single))
    elif not any(objs for _, objs in objs_by_kind):
        where = "" if all_namespaces or not ns else f" in {ns} namespace"
        sys.stderr.write(f"No resources found{where}.\n")
    else:
        first = True
        for plural, objs in objs_by_kind:
            if not objs:
                continue
            rows = tables.table_rows(plural, objs, wide=output == "wide",
                                       all_namespaces=all_namespaces and resources.lookup(
                                           plural).namespaced)
            widths = printers.column_widths(rows)
            out(("" if first else "\n") + printers.format_table(rows, widths))
            first = False
    if watch:
        return _watch(client, pairs[0][0], pairs[0][1], ns, all_namespaces, output, selector,
                      last_rv, widths, out)
    return 0


def _watch(client: KubeClient, kind: str, name: str | None, ns: str | None,
           all_namespaces: bool, output: str | None, selector: str | None, rv: str,
           widths: list[int], out: Out) -> int:
    """Print each change as a row, keeping the columns of the table printed first."""
    res = resources.lookup(kind)
    field = f"metadata.name={name}" if name else None
    if not rv:
        rv = client.list(res.plural, ns if res.namespaced else None)["metadata"][
            "resourceVersion"]
    for _type, obj in client.watch(res.plural, ns if res.namespaced else None, rv, selector,
                                   field_selector=field):
        if output in ("yaml", "json", "name"):
            out(printers.render([obj], output, True))
        else:
            rows = tables.table_rows(res.plural, [obj], wide=output == "wide",
                                       all_namespaces=all_namespaces and res.namespaced,
                                       header=False)
            widths = [max(w, n) for w, n in zip(widths + [0] * len(rows[0]),
                                                printers.column_widths(rows), strict=False)]
            out(printers.format_table(rows, widths))
    return 0


def delete(client: KubeClient, kind: str | None, names: tuple[str, ...],
           files: tuple[str, ...], namespace: str | None, selector: str | None,
           out: Out, *, wait: bool = True, timeout: float = 0) -> int:
    """Delete, then (``wait``, kubectl's default) wait until the objects are gone, at most
    ``timeout`` seconds (0: for ever)."""
    targets: list[tuple[str, str, str | None]] = []
    for manifest in manifests.read(files) if files else []:
        meta = manifest.obj.get("metadata") or {}
        targets.append((str(manifest.obj.get("kind")), str(meta.get("name")),
                        meta.get("namespace") or namespace))
    if kind:
        pairs = _split_kind_name(kind, names)
        for kind_name, name in pairs:
            if name is None:
                if not selector:
                    raise UserError("name what to delete: KIND NAME, KIND/NAME, -l SELECTOR or "
                                    "-f FILE")
                res = resources.lookup(kind_name)
                for item in client.list(res.plural, namespace or client.namespace,
                                        selector)["items"]:
                    targets.append((kind_name, item["metadata"]["name"], namespace))
            else:
                targets.append((kind_name, name, namespace))
    if not targets:
        raise UserError("nothing to delete", hint="kompy delete KIND NAME, or -f FILE")
    missing: list[UserError] = []
    terminating: list[deletion.Deleted] = []
    for kind_name, name, ns in targets:
        res = resources.lookup(kind_name)
        try:
            left = client.delete(res.plural, name, ns)
        except NotFound as error:
            missing.append(UserError(error.message))
            continue
        out(f'{res.qualified} "{name}" deleted\n')
        if left is not None:  # still there: finalizers or a grace period to wait out
            terminating.append(deletion.Deleted(res, name, ns,
                                                str((left.get("metadata") or {}).get("uid"))))
    if wait:
        deletion.wait_gone(client, terminating, timeout)
    if missing:
        raise MultiError(missing) if len(missing) > 1 else missing[0]
    return 0


def target_pods(client: KubeClient, target: str, namespace: str | None) -> list[Obj]:
    """``POD`` or ``pod/NAME``: that pod; ``TYPE/NAME`` (deploy/web, svc/web, job/x...): the
    pods its selector selects that are not being deleted (UserError for none)."""
    if "/" not in target:
        return [client.get("pods", target, namespace)]
    kind, name = target.split("/", 1)
    res = resources.lookup(kind)
    if res.kind == "Pod":
        return [client.get("pods", name, namespace)]
    owner = client.get(res.plural, name, namespace)
    selector = _selector(owner, res.kind)
    if not selector:
        raise UserError(f"{target} selects no pods")
    ns = owner["metadata"].get("namespace") or namespace
    pods = [p for p in client.list("pods", ns, selector)["items"]
            if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not pods:
        raise UserError(f"no pods found for {target}",
                        hint=f"kompy get pods -l {selector} -n {ns or client.namespace}")
    return pods


def _selector(owner: Obj, kind: str) -> str:
    spec = owner.get("spec") or {}
    if kind == "Service":
        return ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
    if kind == "Job" and not spec.get("selector"):
        return f"job-name={owner['metadata']['name']}"
    reqs = selector_from_match(spec.get("selector"))
    return ",".join(f"{r.key}={r.values[0]}" for r in reqs if r.op == "=")


def resolve_pod(client: KubeClient, target: str, namespace: str | None) -> Obj:
    """A pod by name, or the first (ready, running, oldest) pod of ``deploy/NAME``,
    ``svc/NAME``..."""
    pods = target_pods(client, target, namespace)
    pods.sort(key=lambda p: (not _ready(p), (p.get("status") or {}).get("phase") != "Running",
                             p["metadata"].get("creationTimestamp", "")))
    first: Obj = pods[0]
    return first


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def scale(client: KubeClient, kind: str, name: str | None, replicas: int,
          namespace: str | None, out: Out) -> int:
    if name is None and "/" in kind:
        kind, name = kind.split("/", 1)
    if not name:
        raise UserError("name the object to scale: kompy scale deploy/NAME --replicas N")
    res = resources.lookup(kind)
    if res.kind not in ("Deployment", "ReplicaSet", "StatefulSet"):
        raise UserError(f"cannot scale a {res.kind}",
                        hint="scale a Deployment, ReplicaSet or StatefulSet")
    if replicas < 0:
        raise UserError("--replicas must be 0 or more")
    client.patch(res.plural, name, namespace, {"spec": {"replicas": replicas}})
    out(f"{res.qualified}/{name} scaled\n")
    return 0

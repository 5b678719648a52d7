"""Docker's volume initialisation as init containers (kompy/convert/seeding.py): which mounts
get a seed, in which image, as whom. The script itself runs on the real engine in
tests/integration/test_volume_seeding.py."""

from __future__ import annotations

from typing import Any

from kompy.convert.seeding import BUSYBOX, SEED_PATH, TOOLS_PATH, seed_script
from kompy.model import Dependency, Service, ServiceVolume

from .helpers import container, find, pod_spec, run


def _vol(source: str | None, target: str, **kwargs: Any) -> ServiceVolume:
    return ServiceVolume(type="volume", source=source, target=target, **kwargs)


def _inits(conversion: Any, name: str, kind: str = "Deployment") -> list[dict[str, Any]]:
    inits: list[dict[str, Any]] = pod_spec(find(conversion, kind, name)).get(
        "initContainers", [])
    return inits


def test_named_and_anonymous_volumes_are_seeded_in_the_service_image() -> None:
    web = Service(name="web", image="node-app:1", user="1000",
                  volumes=(_vol("data", "/srv/data"), _vol(None, "/app/node_modules"),
                           ServiceVolume(type="tmpfs", target="/tmp/t")))
    conversion = run(web, named_volumes=("data",))
    tools, data, anon = _inits(conversion, "web")
    assert tools["name"] == "kompy-tools"
    assert tools["image"] == "busybox:1.36-musl"
    assert tools["command"] == ["/bin/busybox", "cp", "/bin/busybox", BUSYBOX]
    assert tools["securityContext"]["runAsUser"] == 65534
    for seed, volume, target in ((data, "data", "/srv/data"),
                                 (anon, "web-anon1", "/app/node_modules")):
        assert seed["name"] == f"seed-{volume}"
        assert seed["image"] == "node-app:1"  # the image holds the files
        assert seed["command"][:3] == [BUSYBOX, "sh", "-c"]
        assert f"t={target}\n" in seed["command"][3]
        # root, as Docker's daemon, whatever the service's user
        assert seed["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
        assert seed["volumeMounts"] == [
            {"name": "kompy-tools", "mountPath": TOOLS_PATH, "readOnly": True},
            {"name": volume, "mountPath": SEED_PATH}]
    spec = pod_spec(find(conversion, "Deployment", "web"))
    assert {"name": "kompy-tools", "emptyDir": {}} in spec["volumes"]
    assert container(find(conversion, "Deployment", "web"))["securityContext"] == {
        "runAsUser": 1000}


def test_seeds_run_before_the_depends_on_waits() -> None:
    web = Service(name="web", image="w", volumes=(_vol("data", "/data"),),
                  depends_on={"db": Dependency()})
    db = Service(name="db", image="d", expose=("5432",))
    names = [c["name"] for c in _inits(run(web, db, named_volumes=("data",)), "web")]
    assert names == ["kompy-tools", "seed-data", "wait-for-db"]


def test_nocopy_no_volume_init_bind_mounts_and_no_volumes_need_no_seed() -> None:
    nocopy = Service(name="a", image="x", volumes=(_vol("data", "/data", volume_nocopy=True),))
    assert _inits(run(nocopy, named_volumes=("data",)), "a") == []
    plain = Service(name="b", image="x", volumes=(_vol("data", "/data"),))
    conversion = run(plain, named_volumes=("data",), volume_init=False)
    assert _inits(conversion, "b") == []
    volumes = pod_spec(find(conversion, "Deployment", "b"))["volumes"]
    assert [v["name"] for v in volumes] == ["data"]
    bare = Service(name="c", image="x")
    assert _inits(run(bare), "c") == []


def test_subpath_claim_templates_and_shared_volumes() -> None:
    a = Service(name="a", image="a:1", volumes=(_vol("data", "/var/lib/db",
                                                     volume_subpath="pg"),))
    sts = run(a, named_volumes=("data",), controller="statefulset")
    seed = _inits(sts, "a", "StatefulSet")[1]
    assert seed["volumeMounts"][1] == {"name": "data", "mountPath": SEED_PATH,
                                       "subPath": "pg"}
    # Two containers of one pod mounting one volume: one seed, from the first (Docker fills
    # a volume when its first container is created).
    web = Service(name="web", image="web:1", volumes=(_vol("shared", "/one"),),
                  labels={"kompose.service.group": "g"})
    side = Service(name="side", image="side:1", volumes=(_vol("shared", "/two"),),
                   labels={"kompose.service.group": "g"})
    grouped = run(web, side, named_volumes=("shared",), service_group_mode="label")
    seeds = [c for c in _inits(grouped, "g") if c["name"].startswith("seed-")]
    assert [(c["name"], c["image"]) for c in seeds] == [("seed-shared", "side:1")]


def test_volumes_from_borrows_without_seeding_again() -> None:
    owner = Service(name="owner", image="o", volumes=(_vol("data", "/data"),))
    user = Service(name="user", image="u", other={"volumes_from": ["owner"]})
    conversion = run(owner, user, named_volumes=("data",))
    assert [c["name"] for c in _inits(conversion, "owner")] == ["kompy-tools", "seed-data"]
    assert _inits(conversion, "user") == []


def test_restricted_seeds_as_the_user_and_keeps_ownership() -> None:
    api = Service(name="api", image="api:1", user="1000:1000",
                  volumes=(_vol("data", "/data"),))
    conversion = run(api, named_volumes=("data",), security="restricted")
    tools, seed = _inits(conversion, "api")
    assert seed["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000}
    assert "chown" not in seed["command"][3]
    assert tools["securityContext"]["runAsNonRoot"] is True


def test_the_script_quotes_the_target_and_checks_emptiness_first() -> None:
    script = seed_script("/var/lib/my data/")
    lines = script.splitlines()
    assert lines[2] == f"b={BUSYBOX} v={SEED_PATH} t='/var/lib/my data'"
    # emptiness (lost+found aside) is decided before anything is written
    assert lines.index('for f in $($b ls -A $v); do [ "$f" = lost+found ] || exit 0; done') < \
        lines.index('$b cp -a "$t/." $v/')
    assert '$b chown "$($b stat -c %u:%g "$t")" $v' in lines
    assert seed_script("/").splitlines()[2].endswith(" t=/")

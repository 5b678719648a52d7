"""The dashboard's table rows from API objects (kompy/dashboard/rows.py)."""

from __future__ import annotations

from kompy.dashboard import rows
from kompy.dashboard.metrics import usage_of
from kompy.dashboard.streams import line_html, split_lines, sse


def _deployment(**status: object) -> dict[str, object]:
    return {"metadata": {"name": "web", "namespace": "shop", "generation": 2,
                         "annotations": {"deployment.kubernetes.io/revision": "4"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "web", "image": "shop/web:1"}]}}},
            "status": {"observedGeneration": 2, **status}}


def test_a_deployment_row_reads_as_rollout_status_does() -> None:
    done = rows.workload_row("Deployment", _deployment(
        replicas=3, updatedReplicas=3, readyReplicas=3, availableReplicas=3))
    assert (done.ready, done.state, done.revision, done.images) == ("3/3", "complete", "4",
                                                                    ("shop/web:1",))
    assert done.scalable and done.restartable and done.undoable and not done.triggerable
    rolling = rows.workload_row("Deployment", _deployment(replicas=4, updatedReplicas=1,
                                                          readyReplicas=3))
    assert rolling.state == "rolling (1 of 3 updated)"
    old = rows.workload_row("Deployment", _deployment(replicas=4, updatedReplicas=3))
    assert old.state == "rolling (old replicas terminating)"
    stale = _deployment(replicas=3, updatedReplicas=3, availableReplicas=3)
    stale["status"]["observedGeneration"] = 1  # type: ignore[index]
    assert rows.deployment_state(stale) == "progressing"


def test_a_cronjob_row_offers_run_now() -> None:
    cj = {"metadata": {"name": "nightly", "namespace": "shop"},
          "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
              "containers": [{"name": "c", "image": "busybox"}]}}}}}, "status": {}}
    row = rows.workload_row("CronJob", cj)
    assert row.triggerable and not row.scalable
    assert row.state == "schedule 0 3 * * *" and row.images == ("busybox",)


def test_a_secret_row_has_keys_and_never_values() -> None:
    secret = {"metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque",
              "data": {"password": "c2VjcmV0"}, "stringData": {"user": "admin"}}
    row = rows.secret_row(secret)
    assert row.keys == ("password", "user")
    assert "c2VjcmV0" not in repr(row) and "admin" not in repr(row)


def test_service_links_are_the_published_host_ports_and_load_balancers() -> None:
    svc = {"metadata": {"name": "web", "namespace": "shop",
                        "annotations": {"kompy.dev/host-ports": "8080:8000/TCP,5353:53/UDP"}},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}}
    assert [link.url for link in rows.service_links(svc)] == ["http://127.0.0.1:8080",
                                                              "http://127.0.0.1:80"]


def test_ingress_links_follow_rules_and_tls() -> None:
    ing = {"metadata": {"name": "shop", "namespace": "shop"},
           "spec": {"tls": [{"hosts": ["secure.local"]}], "rules": [
               {"host": "shop.local", "http": {"paths": [{"path": "/api"}]}},
               {"host": "secure.local", "http": {"paths": [{"path": "/"}]}}]}}
    assert [link.url for link in rows.ingress_row(ing).links] == [
        "http://shop.local/api", "https://secure.local/"]
    # A rule without a host, and an Ingress with only a default backend: any host, here.
    ing["spec"]["rules"].append({"http": {"paths": [{"path": "/any"}]}})
    assert rows.ingress_row(ing).links[-1].url == "http://127.0.0.1/any"
    fallback = {"metadata": {"name": "all", "namespace": "shop"},
                "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}
    assert [link.url for link in rows.ingress_row(fallback).links] == ["http://127.0.0.1/"]


def test_events_are_newest_first_and_warnings_flagged() -> None:
    events = [{"metadata": {"name": "a", "namespace": "x"}, "type": "Normal",
               "lastTimestamp": "2026-01-01T10:00:00Z", "involvedObject": {"kind": "Pod"}},
              {"metadata": {"name": "b", "namespace": "x"}, "type": "Warning",
               "lastTimestamp": "2026-01-01T11:00:00Z", "involvedObject": {"kind": "Pod"}}]
    newest = rows.events_newest_first(events)
    assert [e.warning for e in newest] == [True, False]


def test_pod_metrics_are_summed_over_containers() -> None:
    listing = {"items": [{"metadata": {"name": "p", "namespace": "x"}, "containers": [
        {"usage": {"cpu": "250m", "memory": "64Mi"}}, {"usage": {"cpu": "1", "memory": "1Mi"}}]}]}
    assert usage_of(listing) == {("x", "p"): (1250, 65 * 1024 * 1024)}
    pod = {"metadata": {"name": "p", "namespace": "x"}, "spec": {"containers": [{"name": "c"}]},
           "status": {"phase": "Running"}}
    row = rows.pod_row(pod, (1250, 65 * 1024 * 1024))
    assert (row.cpu, row.memory) == ("1250m", "65Mi")


def test_log_lines_are_split_across_chunks_and_escaped() -> None:
    assert list(split_lines(iter([b"one\ntw", b"o\nthr", b"ee"]))) == ["one", "two", "three"]
    assert line_html("<script>x</script>") == \
        '<span class="line">&lt;script&gt;x&lt;/script&gt;\n</span>'
    assert sse("lines", "a\nb") == "event: lines\ndata: a\ndata: b\n\n"

"""Running a CronJob now, as `kubectl create job --from=cronjob/NAME` does."""

from __future__ import annotations

from kompy.kubectl.cronjob import INSTANTIATE, job_from_cronjob, manual_job_name


def test_the_job_is_the_template_owned_by_the_cronjob() -> None:
    cj = {"apiVersion": "batch/v1", "kind": "CronJob",
          "metadata": {"name": "nightly", "namespace": "shop", "uid": "u-1"},
          "spec": {"jobTemplate": {"metadata": {"labels": {"app": "n"},
                                                "annotations": {"team": "a"}},
                                   "spec": {"backoffLimit": 2}}}}
    job = job_from_cronjob(cj, "nightly-manual-x")
    meta = job["metadata"]
    assert meta["annotations"] == {"team": "a", INSTANTIATE: "manual"}
    assert meta["labels"] == {"app": "n"} and meta["namespace"] == "shop"
    assert meta["ownerReferences"][0]["uid"] == "u-1"
    assert meta["ownerReferences"][0]["controller"] is True
    assert job["spec"] == {"backoffLimit": 2}


def test_manual_names_fit_a_label_value() -> None:
    name = manual_job_name("x" * 80)
    assert len(name) <= 63 and "-manual-" in name

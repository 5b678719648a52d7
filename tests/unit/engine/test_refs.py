"""Image references and Skaffold's --default-repo rewriting."""

from __future__ import annotations

import pytest

from kompy.engine.refs import parse, registry_of, rewrite_default_repo, with_tag


@pytest.mark.parametrize(("ref", "registry"), [
    ("web", "docker.io"), ("library/web:1", "docker.io"), ("myorg/web", "docker.io"),
    ("127.0.0.1:5000/web:abc", "127.0.0.1:5000"), ("localhost/web", "localhost"),
    ("gcr.io/proj/web@sha256:00", "gcr.io"),
    ("registry.example.com/a/b/c:1", "registry.example.com"),
])
def test_registry_of(ref: str, registry: str) -> None:
    assert registry_of(ref) == registry


def test_parse_and_with_tag() -> None:
    ref = parse("127.0.0.1:5000/a/web:1@sha256:ab")
    assert (ref.name, ref.tag, ref.digest) == ("127.0.0.1:5000/a/web", "1", "sha256:ab")
    assert str(ref) == "127.0.0.1:5000/a/web:1@sha256:ab"
    assert with_tag("127.0.0.1:5000/web", "abc") == "127.0.0.1:5000/web:abc"
    assert with_tag("web:latest", "abc") == "web:abc"


# The examples of https://skaffold.dev/docs/environment/image-registries/ and Skaffold's tests.
@pytest.mark.parametrize(("image", "repo", "expected"), [
    ("gcr.io/k8s-skaffold/skaffold-example1", "aws_account_id.dkr.ecr.region.amazonaws.com",
     "aws_account_id.dkr.ecr.region.amazonaws.com/gcr_io_k8s-skaffold_skaffold-example1"),
    ("gcr.io/k8s-skaffold/skaffold-example1", "gcr.io/myproject/myrepo",
     "gcr.io/myproject/myrepo/gcr.io/k8s-skaffold/skaffold-example1"),
    ("gcr.io/myproject/myimage", "gcr.io/myproject/subrepo", "gcr.io/myproject/subrepo/myimage"),
    ("gcr.io/myproject/subrepo/myimage", "gcr.io/myproject/subrepo",
     "gcr.io/myproject/subrepo/myimage"),
    ("webapp-web", "127.0.0.1:5000", "127.0.0.1:5000/webapp-web"),
    ("webapp-web:latest", "127.0.0.1:5000/", "127.0.0.1:5000/webapp-web:latest"),
    ("myorg/web:1.2", "registry.example.com/team", "registry.example.com/team/myorg_web:1.2"),
    ("web", "us-docker.pkg.dev/my-project/repo", "us-docker.pkg.dev/my-project/repo/web"),
    ("web", None, "web"),
])
def test_default_repo_rewriting(image: str, repo: str | None, expected: str) -> None:
    assert rewrite_default_repo(image, repo) == expected


def test_rewritten_names_are_truncated_to_255() -> None:
    out = rewrite_default_repo("a" * 300 + ":tag", "r.example.com")
    assert out == ("r.example.com/" + "a" * 300)[:255] + ":tag"

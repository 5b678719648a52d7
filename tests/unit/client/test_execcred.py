"""Exec credential plugins, run for real: small shell scripts as the plugins."""

from __future__ import annotations

import datetime
import io
import json
import shutil
import stat
from pathlib import Path

import pytest

from kompy.client import execcred
from kompy.client.execcred import ExecConfig
from kompy.errors import ClusterError

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"


def plugin(tmp_path: Path, body: str, name: str = "plugin") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def credential(token: str = "tok", api: str = V1, expires: str | None = None) -> str:
    status: dict[str, str] = {"token": token}
    if expires:
        status["expirationTimestamp"] = expires
    return json.dumps({"apiVersion": api, "kind": "ExecCredential", "status": status})


def run(config: ExecConfig) -> tuple[execcred.Credential, str]:
    err = io.StringIO()
    return execcred.run_plugin(config, stdin=io.StringIO(), stderr=err), err.getvalue()


def test_token_env_args_and_exec_info(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    command = plugin(tmp_path, f"""
printf '%s\\n' "$KUBERNETES_EXEC_INFO" "$PROFILE" "$*" > {seen}
echo 'fetching a token' >&2
cat <<'EOF'
{credential("abc", V1BETA1, "2999-01-01T00:00:00Z")}
EOF
""")
    info = json.dumps({"server": "https://h", "config": {"audience": "x"}})
    config = ExecConfig(command=command, args=("--cluster", "c"), env=(("PROFILE", "dev"),),
                        api_version=V1BETA1, cluster_info=info, user="u")
    cred, err = run(config)
    assert cred.token == "abc" and cred.cert is None
    assert cred.expires == datetime.datetime(2999, 1, 1, tzinfo=datetime.UTC)
    assert not cred.expired()
    assert err == "fetching a token\n"  # the plugin's stderr reaches the user as it comes
    exec_info, profile, args = seen.read_text().splitlines()
    assert json.loads(exec_info) == {
        "kind": "ExecCredential", "apiVersion": V1BETA1,
        "spec": {"interactive": False, "cluster": {"server": "https://h",
                                                   "config": {"audience": "x"}}}}
    assert profile == "dev" and args == "--cluster c"


def test_without_provide_cluster_info_the_spec_has_interactive_only(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    command = plugin(tmp_path, f"""printf '%s' "$KUBERNETES_EXEC_INFO" > {seen}
echo '{credential()}'""")
    run(ExecConfig(command=command, interactive_mode="Never"))
    assert json.loads(seen.read_text())["spec"] == {"interactive": False}


def test_client_certificate_from_the_plugin(tmp_path: Path) -> None:
    answer = json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {
        "clientCertificateData": "CERT", "clientKeyData": "KEY"}})
    cred, _ = run(ExecConfig(command=plugin(tmp_path, f"echo '{answer}'")))
    assert cred.token is None and cred.cert is not None
    crt, key = cred.cert
    assert Path(crt).read_text() == "CERT" and Path(key).read_text() == "KEY"
    assert stat.S_IMODE(Path(key).stat().st_mode) == 0o600


def test_not_installed_gives_the_install_hint(tmp_path: Path) -> None:
    config = ExecConfig(command="kompy-no-such-plugin", user="eks",
                        install_hint="Install aws-cli: https://aws.amazon.com/cli/")
    with pytest.raises(ClusterError) as caught:
        run(config)
    assert caught.value.message == ("credential plugin 'kompy-no-such-plugin' of user 'eks' "
                                    "is not installed: 'kompy-no-such-plugin' was not found")
    assert caught.value.hint == "Install aws-cli: https://aws.amazon.com/cli/"


def test_failure_is_one_line_with_the_first_stderr_line_and_never_the_output(
        tmp_path: Path) -> None:
    command = plugin(tmp_path, """
echo '{"status": {"token": "SECRET-TOKEN"}}'
echo 'F1206 03:42:26.225445    4076 cred.go:145] print credential failed: no account' >&2
echo 'Please run: gcloud auth login' >&2
exit 3""")
    with pytest.raises(ClusterError) as caught:
        run(ExecConfig(command=command, user="gke"))
    assert caught.value.message == ("credential plugin 'plugin' of user 'gke' failed with exit "
                                    "code 3: print credential failed: no account")
    assert "SECRET-TOKEN" not in caught.value.format()


@pytest.mark.parametrize(("body", "message"), [
    ("echo 'token: abc'", "printed no ExecCredential (its output is not JSON)"),
    (f"echo '{credential(api=V1BETA1)}'",
     f"answered with apiVersion '{V1BETA1}'; the kubeconfig asks for '{V1}'"),
    (f"echo '{json.dumps({'apiVersion': V1, 'kind': 'ExecCredential'})}'",
     "returned no status"),
    (f"echo '{json.dumps({'apiVersion': V1, 'kind': 'ExecCredential', 'status': {}})}'",
     "returned neither a token nor a client certificate"),
    (f"echo '{json.dumps({'apiVersion': V1, 'kind': 'ExecCredential', 'status': {'clientKeyData': 'K'}})}'",  # noqa: E501
     "only a client certificate or only its key, not both"),
    (f"echo '{credential(expires='soon')}'", "expirationTimestamp that is not RFC 3339: 'soon'"),
    ("exit 1", "failed with exit code 1 and printed nothing"),
    ("echo 'Usage of plugin:' >&2; echo '  --flag' >&2; exit 2",
     "failed with exit code 2: it printed its usage (check the exec args in the kubeconfig)"),
])
def test_bad_answers(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ClusterError) as caught:
        run(ExecConfig(command=plugin(tmp_path, body)))
    assert caught.value.message.endswith(message), caught.value.message
    assert "abc" not in caught.value.format() and "\n" not in caught.value.message


def test_always_interactive_needs_a_terminal(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="needs a terminal"):
        run(ExecConfig(command=plugin(tmp_path, f"echo '{credential()}'"),
                       interactive_mode="Always"))


def test_cached_until_expiry_and_refreshed_after_401(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # Each run appends a line; the token is the run's number; the first one has expired.
    command = plugin(tmp_path, f"""echo run >> {runs}
n=$(wc -l < {runs})
if [ "$n" = 1 ]; then expires=2000-01-01T00:00:00Z; else expires=2999-01-01T00:00:00Z; fi
printf '{{"apiVersion":"{V1}","kind":"ExecCredential","status":{{"token":"t%s",\
"expirationTimestamp":"%s"}}}}' "$n" "$expires"
""")
    auth = execcred.ExecAuthenticator(ExecConfig(command=command, interactive_mode="Never"))
    first = auth.get()
    assert first.token == "t1" and first.expired()
    second = auth.get()  # expired: fetched again
    assert second.token == "t2"
    assert auth.get() is second  # cached
    assert auth.refresh(first) is True  # already rotated since `first`: no new run
    assert runs.read_text().count("run") == 2
    assert auth.refresh(second) is True  # a 401 with the current one: run again
    assert auth.get().token == "t3"


def test_one_authenticator_per_stanza() -> None:
    config = ExecConfig(command="x", user="u")
    assert execcred.authenticator(config) is execcred.authenticator(
        ExecConfig(command="x", user="u"))


@pytest.mark.skipif(shutil.which("gke-gcloud-auth-plugin") is None,
                    reason="gke-gcloud-auth-plugin not installed")
@pytest.mark.parametrize(("args", "expected"), [
    (("--help",), "failed with exit code 2: it printed its usage (check the exec args in "
                  "the kubeconfig)"),
    (("--bogus",), "failed with exit code 2: unknown flag: --bogus"),
])
def test_gke_plugin_usage_errors(args: tuple[str, ...], expected: str) -> None:
    with pytest.raises(ClusterError) as caught:
        run(ExecConfig(command="gke-gcloud-auth-plugin", args=args, user="gke",
                       api_version=V1BETA1))
    assert caught.value.message == ("credential plugin 'gke-gcloud-auth-plugin' of user "
                                    f"'gke' {expected}")


@pytest.mark.skipif(shutil.which("gke-gcloud-auth-plugin") is None,
                    reason="gke-gcloud-auth-plugin not installed")
def test_gke_plugin_without_credentials_says_why_in_one_line(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    # No gcloud account, no application default credentials: the plugin fails (exit 1) with
    # a klog line; the message is that line without klog's header.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with pytest.raises(ClusterError) as caught:
        run(ExecConfig(command="gke-gcloud-auth-plugin", user="gke", api_version=V1BETA1,
                       args=("--use_application_default_credentials",)))
    message = caught.value.message
    assert message.startswith("credential plugin 'gke-gcloud-auth-plugin' of user 'gke' "
                              "failed with exit code 1: print credential failed")
    assert "\n" not in message

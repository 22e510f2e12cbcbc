"""How the operator finds and authenticates to the API server without the official client:
kubeconfigs as kubectl reads them, the pod's service account, exec credential plugins, tokens
that rotate or expire, and Kopf logging in the same way."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.utils.quantity import parse_quantity as official_parse_quantity

from jupyter_k8s.api.common import QUANTITY_PATTERN, parse_quantity
from jupyter_k8s.handlers.lifecycle import login
from jupyter_k8s.kube import Kube
from jupyter_k8s.kube import connection as conn_mod
from jupyter_k8s.kube.connection import (
    Connection,
    KubeconfigError,
    TokenSource,
    from_kubeconfig,
    in_cluster,
    load_connection,
)
from tests.support.local_api import JsonHandler, local_server

REPO = Path(__file__).resolve().parents[2]


def _kubeconfig(path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "contexts": [
            {"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "team"}}
        ],
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:6443/"}}],
        "users": [{"name": "u", "user": user}],
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_a_kubeconfig_reads_like_kubectl_relative_paths_and_inline_data(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    cfg = _kubeconfig(
        tmp_path / "config",
        {"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"},
        {
            "server": "https://127.0.0.1:6443/",
            "certificate-authority-data": base64.b64encode(b"CA PEM").decode(),
            "tls-server-name": "kubernetes",
        },
    )
    conn = from_kubeconfig(str(cfg))
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.cert_file == str(tmp_path / "pki/admin.crt")  # relative to the kubeconfig
    assert conn.key_file == str(tmp_path / "pki/admin.key")
    assert conn.ca_file and Path(conn.ca_file).read_bytes() == b"CA PEM"
    assert stat.S_IMODE(os.stat(conn.ca_file).st_mode) == 0o600  # a private copy
    assert conn.namespace == "team" and conn.tls_server_name == "kubernetes"
    assert conn.authorization() is None  # certificates only


def test_several_kubeconfig_files_merge_and_the_first_wins(tmp_path: Path) -> None:
    first = _kubeconfig(tmp_path / "a", {"token": "from-a"})
    second = _kubeconfig(tmp_path / "b", {"token": "from-b"})
    conn = from_kubeconfig(f"{first}{os.pathsep}{second}")
    assert conn.authorization() == "Bearer from-a"


def test_a_kubeconfig_that_names_nothing_usable_says_what_is_missing(tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path / "config", {"token": "t"})
    with pytest.raises(KubeconfigError, match="context 'prod' is not defined"):
        from_kubeconfig(str(cfg), context="prod")
    with pytest.raises(KubeconfigError, match="cannot read kubeconfig"):
        from_kubeconfig(str(tmp_path / "absent"))
    provider = _kubeconfig(tmp_path / "gcp", {"auth-provider": {"name": "gcp", "config": {}}})
    with pytest.raises(KubeconfigError, match="auth-provider 'gcp'"):
        from_kubeconfig(str(provider))


def test_without_a_cluster_or_kubeconfig_the_error_says_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(conn_mod, "SERVICE_ACCOUNT", tmp_path / "no-service-account")
    with pytest.raises(KubeconfigError, match=r"not in a cluster.*no kubeconfig"):
        load_connection()


def test_in_a_pod_the_service_account_token_is_read_again_when_rotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("first\n")
    (tmp_path / "namespace").write_text("jupyter-k8s-system")
    (tmp_path / "ca.crt").write_text("CA")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    clock = [1000.0]
    monkeypatch.setattr(conn_mod.time, "time", lambda: clock[0])
    conn = in_cluster(tmp_path)
    assert conn.server == "https://[fd00::1]:443"
    assert conn.namespace == "jupyter-k8s-system" and conn.ca_file == str(tmp_path / "ca.crt")
    assert conn.authorization() == "Bearer first"
    (tmp_path / "token").write_text("second\n")  # the kubelet rotated it
    clock[0] += conn_mod.TOKEN_FILE_REREAD_S - 1
    assert conn.authorization() == "Bearer first"
    clock[0] += 2
    assert conn.authorization() == "Bearer second"
    # No expiry for Kopf: re-reading the file is ours; Kopf logs in again on a 401 only.
    assert conn.token is not None and conn.token.expires_at() is None


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An exec credential plugin (as `aws eks get-token`) that counts its runs and records the
    KUBERNETES_EXEC_INFO it was given."""
    script = tmp_path / "get-token"
    runs = tmp_path / "runs"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, os, sys
            runs = {str(runs)!r}
            n = (int(open(runs).read()) if os.path.exists(runs) else 0) + 1
            open(runs, "w").write(str(n))
            open(runs + ".info", "w").write(os.environ["KUBERNETES_EXEC_INFO"])
            if os.environ.get("FAIL"):
                sys.exit("no credentials: run aws sso login")
            print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential", "status": {{"token": f"tok-{{n}}-" + sys.argv[1],
                "expirationTimestamp": os.environ["EXPIRES"]}}}}))
            """
        )
    )
    script.chmod(0o755)
    yield script, runs


def test_an_exec_plugin_is_run_once_until_its_token_nears_expiry(
    tmp_path: Path, plugin: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    script, runs = plugin
    exec_spec = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": f"./{script.name}",  # relative to the kubeconfig, as client-go does
        "args": ["eks"],
        "env": [{"name": "EXPIRES", "value": "2030-01-01T00:10:00Z"}],
    }
    conn = from_kubeconfig(str(_kubeconfig(tmp_path / "config", {"exec": exec_spec})))
    ten_to = 1893456600.0 - 10  # 2030-01-01T00:10:00Z, ten seconds before
    monkeypatch.setattr(conn_mod.time, "time", lambda: ten_to - 120)
    assert conn.authorization() == "Bearer tok-1-eks"
    assert conn.authorization() == "Bearer tok-1-eks"  # cached
    assert json.loads(Path(f"{runs}.info").read_text())["spec"] == {"interactive": False}
    monkeypatch.setattr(conn_mod.time, "time", lambda: ten_to - 40)  # within the margin
    assert conn.authorization() == "Bearer tok-2-eks"
    assert conn.token and conn.token.expires_at() == datetime.fromtimestamp(ten_to - 50, UTC)


def test_a_failing_exec_plugin_says_why(
    tmp_path: Path, plugin: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    script, _ = plugin
    monkeypatch.setenv("FAIL", "1")
    cfg = _kubeconfig(tmp_path / "config", {"exec": {"command": str(script), "args": ["x"]}})
    with pytest.raises(KubeconfigError, match=r"exit 1.*run aws sso login"):
        from_kubeconfig(str(cfg)).authorization()
    missing = _kubeconfig(
        tmp_path / "other", {"exec": {"command": "no-such-plugin", "installHint": "brew it"}}
    )
    with pytest.raises(KubeconfigError, match="not found: brew it"):
        from_kubeconfig(str(missing)).authorization()


def test_a_refused_token_is_fetched_again_once(tmp_path: Path) -> None:
    """An expired token (401): the request is sent again with a new one, not failed."""
    seen: list[str] = []

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            seen.append(self.headers["Authorization"])
            ok = self.headers["Authorization"] == "Bearer t2"
            self.send_json(200 if ok else 401, {"metadata": {}} if ok else {"message": "no"})

    tokens = iter(["t1", "t2", "t3"])
    with local_server(Handler) as url:
        conn = Connection(server=url, token=TokenSource(lambda: (next(tokens), None), None))
        assert Kube(conn).get("v1", "Pod", "n", "p") == {"metadata": {}}
    assert seen == ["Bearer t1", "Bearer t2"]


def test_kopf_logs_in_with_the_operators_own_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _kubeconfig(
        tmp_path / "config",
        {"token": "s3cret"},
        {"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True},
    )
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    info = login()
    assert (info.server, info.token, info.insecure) == ("https://10.0.0.1:6443", "s3cret", True)
    assert info.default_namespace == "team" and info.expiration is None


def test_the_operator_process_does_not_load_the_official_client() -> None:
    """~20 MiB per process: neither our code nor Kopf's login probing may import it."""
    code = (
        "import sys, jupyter_k8s.main, jupyter_k8s.handlers, jupyter_k8s.authz.server\n"
        "print(sys.modules.get('kubernetes') is None)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


@given(st.from_regex(QUANTITY_PATTERN, fullmatch=True))
def test_quantities_read_as_the_official_client_reads_them(text: str) -> None:
    try:
        expected = official_parse_quantity(text)
    except ValueError:
        with pytest.raises(ValueError):
            parse_quantity(text)
        return
    assert parse_quantity(text) == expected

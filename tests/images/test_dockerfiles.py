"""Policy of the Dockerfiles (no engine needed), and the operator <-> image contract."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from jupyter_k8s.reconcile.apps import APP_PORT, APPS, ENV_BASE_URL, ENV_HOME

ROOT = Path(__file__).resolve().parents[2]
IMAGES = sorted(p.parent.name for p in (ROOT / "images").glob("*/Dockerfile"))


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = (ROOT / "images" / name / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_three_images_exist() -> None:
    assert IMAGES == ["code-server", "jupyterlab", "operator"]


def arg_defaults(ins: list[tuple[str, str]]) -> dict[str, str]:
    return dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)


@pytest.mark.parametrize("name", IMAGES)
def test_pinned_base_numeric_user_labels(name: str) -> None:
    ins = instructions(name)
    args = arg_defaults(ins)
    stages: set[str] = set()
    for kind, arg in ins:
        if kind == "FROM":
            words = arg.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            if image not in stages:
                assert re.search(r":[0-9][\w.-]*$|@sha256:", image), f"unpinned base {image}"
                assert "/" in image.split(":")[0], f"fully qualified: {image}"
            if len(words) == 3 and words[1].upper() == "AS":
                stages.add(words[2])
    users = [arg for kind, arg in ins if kind == "USER"]
    assert users and re.fullmatch(r"\d+(:\d+)?", users[-1]), "the final USER must be numeric"
    assert users[-1].split(":")[0] != "0"
    labels = " ".join(arg for kind, arg in ins if kind == "LABEL")
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert not [k for k, _ in ins if k == "HEALTHCHECK"], "probes belong in the pod spec"


@pytest.mark.parametrize("name", ["jupyterlab", "code-server"])
def test_workspace_images_follow_the_operator_contract(name: str) -> None:
    ins = instructions(name)
    assert users_of(ins) == "1000:100"
    assert any(k == "EXPOSE" and str(APP_PORT) in arg.split() for k, arg in ins)
    entrypoint = next(arg for k, arg in ins if k == "ENTRYPOINT")
    assert entrypoint.startswith('["tini"'), "tini is PID 1 (the operator sets args, not command)"
    # The entry starts the SSH server of the desktop tunnel when the operator hands its keys.
    assert entrypoint == '["tini", "-g", "--", "jupyter-k8s-entry"]'
    run = " ".join(arg for k, arg in ins if k == "RUN")
    assert "openssh-server" in run and "rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_*" in run
    env = " ".join(arg for k, arg in ins if k == "ENV")
    assert f"{ENV_BASE_URL}=/" in env and f"{ENV_HOME}=" in env


def users_of(ins: list[tuple[str, str]]) -> str:
    return [arg for kind, arg in ins if kind == "USER"][-1]


@pytest.mark.parametrize(
    ("app", "script"),
    [
        ("jupyterlab", "jupyterlab/start-jupyterlab"),
        ("code-server", "code-server/start-code-server"),
    ],
)
def test_start_scripts_run_what_the_operator_runs(app: str, script: str) -> None:
    """One source of truth: the image's default command is the operator's, with $(VAR)
    (Kubernetes expansion) written as "${VAR}" (shell expansion)."""
    text = (ROOT / "images" / script).read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("exec "))
    argv = shlex.split(exec_line.removeprefix("exec ").replace('"$@"', ""))
    expected = [re.sub(r"\$\((\w+)\)", r"${\1}", a) for a in APPS[app].command]
    # shlex keeps ${VAR} literally inside the (removed) quotes
    assert argv == expected


@pytest.mark.parametrize("name", IMAGES)
def test_the_base_is_a_build_argument_defaulting_to_the_official_image(name: str) -> None:
    """One base for all three, chosen at build time (make images falls back to a local one)."""
    from tests.support.images import hack_images

    ins = instructions(name)
    assert arg_defaults(ins)["BASE_IMAGE"] == hack_images().OFFICIAL_BASE
    assert all(a.split()[0] in ("${BASE_IMAGE}", "build") for k, a in ins if k == "FROM"), (
        "every stage starts from BASE_IMAGE"
    )


def test_the_entry_runs_sshd_as_the_operator_and_the_tunnel_expect() -> None:
    """One source of truth for the SSH server's contract: env names, port and principal."""
    from jupyter_k8s import ssh_keys

    text = (ROOT / "images" / "workspace" / "jupyter-k8s-entry").read_text()
    assert ssh_keys.HOST_KEY_ENV in text and ssh_keys.USER_CA_ENV in text
    assert f"Port {ssh_keys.SSH_PORT}\n" in text
    assert ssh_keys.principal("%s", "").rstrip("/") == "workspace:%s"
    assert "printf 'workspace:%s\\n' \"$JUPYTER_K8S_WORKSPACE\"" in text
    for line in (
        "PasswordAuthentication no",
        "AuthorizedKeysFile none",
        "AllowAgentForwarding no",
        "PermitRootLogin no",
        "Subsystem sftp internal-sftp",
    ):
        assert f"{line}\n" in text, line

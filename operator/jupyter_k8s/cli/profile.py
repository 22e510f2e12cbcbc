"""Where the CLI keeps its state: the platform signed in to, tokens and SSH keys (all 0600).

$JK_CONFIG_DIR, else $XDG_CONFIG_HOME/jupyter-k8s, else ~/.config/jupyter-k8s.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class CliError(Exception):
    """Said to the user as is (no traceback), exit status 1."""


def config_dir() -> Path:
    if explicit := os.environ.get("JK_CONFIG_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jupyter-k8s"


def write_private(path: Path, text: str) -> None:
    """Written whole (temporary file, then rename), readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


@dataclass
class Profile:
    platform: str  # https://auth.<domain>: the authentication host
    ca_file: str | None = None  # extra CA bundle for a platform with a private CA

    @property
    def issuer(self) -> str:
        return f"{self.platform}/dex"

    @classmethod
    def load(cls) -> Profile:
        path = config_dir() / "config.json"
        if not path.exists():
            raise CliError("not logged in: jk login https://auth.<your platform's domain>")
        data = json.loads(path.read_text())
        return cls(platform=data["platform"], ca_file=data.get("ca_file"))

    def save(self) -> None:
        write_private(config_dir() / "config.json", json.dumps(asdict(self), indent=2) + "\n")


@dataclass
class Tokens:
    id_token: str
    refresh_token: str | None
    expires_at: float

    def fresh(self, margin: float = 60) -> bool:
        return self.expires_at - margin > time.time()

    @classmethod
    def load(cls) -> Tokens:
        path = config_dir() / "tokens.json"
        if not path.exists():
            raise CliError("not logged in: jk login https://auth.<your platform's domain>")
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(data["id_token"], data.get("refresh_token"), float(data["expires_at"]))

    def save(self) -> None:
        write_private(config_dir() / "tokens.json", json.dumps(asdict(self)) + "\n")

    @staticmethod
    def forget() -> None:
        (config_dir() / "tokens.json").unlink(missing_ok=True)

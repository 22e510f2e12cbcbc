"""What the integration tests use to talk to the cluster: kubectl, as a user would."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, user: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", *args]
        if user:
            argv.append(f"--as={user}")
        res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {res.stderr.strip()}")
        return res

    def apply(
        self, obj: dict[str, Any] | str, namespace: str | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        text = obj if isinstance(obj, str) else yaml.safe_dump(obj)
        ns = ["-n", namespace] if namespace else []
        return self.run("apply", *ns, "-f", "-", stdin=text, **kw)

    def create(
        self, obj: dict[str, Any], namespace: str | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        ns = ["-n", namespace] if namespace else []
        return self.run("create", *ns, "-f", "-", stdin=yaml.safe_dump(obj), **kw)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        ns = ["-n", namespace] if namespace else []
        res = self.run("get", kind, name, *ns, "-o", "json", check=False)
        if res.returncode != 0:
            if "NotFound" in res.stderr:
                return None
            raise AssertionError(res.stderr)
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    def list(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        sel = ["-l", selector] if selector else []
        res = self.run("get", kind, "-n", namespace, *sel, "-o", "json")
        return json.loads(res.stdout)["items"]  # type: ignore[no-any-return]

    def jsonpath(self, kind: str, name: str, path: str, namespace: str | None = None) -> str:
        ns = ["-n", namespace] if namespace else []
        return self.run("get", kind, name, *ns, "-o", f"jsonpath={path}").stdout

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        res = self.run(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            f"involvedObject.name={name}",
            "-o",
            "json",
        )
        return json.loads(res.stdout)["items"]  # type: ignore[no-any-return]


def eventually(
    check: Callable[[], T], timeout: float = 60, interval: float = 0.3, what: str = ""
) -> T:
    """Poll until `check` returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last {last!r}")


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    if not obj:
        return None
    return next(
        (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None
    )

"""The real images `make images` built (hack/images.py), run with the engine that built them."""

from __future__ import annotations

import importlib.util
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from .fixtures import free_port
from .kube import ROOT


def hack_images() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jk_hack_images", ROOT / "hack" / "images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Container:
    engine: Any
    cid: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exec(self, *argv: str) -> str:
        return str(self.engine.run("exec", self.cid, *argv, quiet=True).stdout)

    def logs(self) -> str:
        res = self.engine.run("logs", self.cid, check=False, quiet=True)
        return str(res.stdout + res.stderr)


def engine_and_image(name: str) -> tuple[Any, str]:
    images = hack_images()
    engine = images.find_engine(install=False)
    ref = images.tag(name)
    if not engine.exists(ref):
        pytest.fail(f"image {ref} is not built: run `make images` (make test does)", pytrace=False)
    return engine, ref


@contextmanager
def running(name: str, *args: str, ready_path: str) -> Iterator[Container]:
    """Run image `name` detached, published on a loopback port, until `ready_path` answers."""
    engine, ref = engine_and_image(name)
    port = free_port()
    cid = engine.run(
        "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8888", *args, ref, quiet=True
    ).stdout.strip()
    box = Container(engine, cid, port)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{box.url}{ready_path}", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} never answered:\n{box.logs()[-3000:]}") from None
                time.sleep(0.5)
        yield box
    finally:
        engine.run("rm", "-f", cid, check=False, quiet=True)

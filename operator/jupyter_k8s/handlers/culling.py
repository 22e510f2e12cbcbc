"""Idle culling: one loop for all workspaces (not a timer each), on the reconciling replica.

Every JK_CULL_INTERVAL_SECONDS it asks each running workspace for its activity (reconcile/idle.py
decides; only those with idle shutdown enabled are stopped):
- JupyterLab: <base>api/status (Jupyter Server's own last activity: API use by people, kernel
  messages, terminals; probes do not count) and <base>api/kernels?no_track_activity=1 (a busy
  kernel is activity now, however long its cell runs);
- code-server: <base>healthz with the proxy secret (code-server's own heartbeat, through the
  guard; healthz does not beat);
- SSH tunnels: the authorization service records open tunnels in the ConfigMap
  jupyter-k8s-tunnel-activity (authz/tunnel.py), read once per round.
An idle one is stopped as an admin would: spec.desiredStatus=Stopped (its volume stays), with
the generation of that change recorded, so its Stopped condition says reason Idle.
When each workspace was last in use is written once per round (when it changed) to the
ConfigMap jupyter-k8s-last-activity, which the "my workspaces" page shows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..api import API_VERSION
from ..api.common import AppType
from ..api.template import WorkspaceTemplateSpec
from ..api.workspace import DesiredStatus, WorkspaceSpec
from ..core import indexes as ix
from ..core.runtime import Runtime
from ..deploy.settings import LABELS, LAST_ACTIVITY, TUNNEL_ACTIVITY
from ..kube import KubeError
from ..metrics import CULLED, IDLE_SECONDS, PROBES
from ..proxy_secret import HEADER, workspace_secret
from ..reconcile.apps import APP_PORT
from ..reconcile.idle import (
    IDLE_STOP_ANNOTATION,
    Activity,
    activity_key,
    parse_time,
    read_activity,
    verdict,
)
from ..reconcile.resolve import resolve

log = logging.getLogger(__name__)

CULLER_USER = "jupyter-k8s-idle-culler"  # the name the app sees on the culler's requests
PROBE_CONCURRENCY = 16
# Workspaces with an idle gauge since the last round.
_judged: set[tuple[str, str]] = set()
# When each workspace was last in use, as last written (None: not read yet since start).
_last_active: dict[tuple[str, str], float] | None = None


async def probe(
    http: aiohttp.ClientSession, app_type: str, url: str, headers: dict[str, str]
) -> Activity:
    """Ask the app for its activity; any failure is "unknown", never "idle"."""
    try:
        if app_type == AppType.CODE_SERVER.value:
            # With the secret: code-server's own healthz through the guard (not its "ok").
            async with http.get(f"{url}healthz", headers=headers) as resp:
                body = await resp.json(content_type=None)
            # 0 until its first use (then its start counts); healthz itself does not beat.
            beat = parse_time(body.get("lastHeartbeat")) or None
            return Activity(ok=resp.status == 200, last_activity=beat)
        async with http.get(f"{url}api/status", headers=headers) as resp:
            if resp.status != 200:
                return Activity(ok=False, error=f"api/status answered {resp.status}")
            status = await resp.json(content_type=None)
        async with http.get(
            f"{url}api/kernels", params={"no_track_activity": "1"}, headers=headers
        ) as resp:
            kernels = await resp.json(content_type=None) if resp.status == 200 else None
        if not isinstance(kernels, list):
            return Activity(ok=False, error="api/kernels gave no list")
        return Activity(
            ok=True,
            last_activity=parse_time(status.get("last_activity")),
            started=parse_time(status.get("started")),
            busy=any(k.get("execution_state") == "busy" for k in kernels),
        )
    except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as err:
        return Activity(ok=False, error=f"{type(err).__name__}: {err}")


def read_configmap(rt: Runtime, name: str) -> dict[tuple[str, str], float] | None:
    """An activity ConfigMap of the operator's namespace; None when it cannot be read."""
    try:
        body = rt.kube.get("v1", "ConfigMap", rt.settings.webhook_namespace, name)
    except KubeError as err:
        log.warning("reading %s failed: %s", name, err)
        return None
    return read_activity((body or {}).get("data"))


def write_last_activity(rt: Runtime, last: dict[tuple[str, str], float]) -> None:
    """The whole map, applied by the one field manager: entries of deleted workspaces go."""
    rt.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": LAST_ACTIVITY,
                "namespace": rt.settings.webhook_namespace,
                "labels": LABELS,
            },
            "data": {activity_key(*k): str(int(t)) for k, t in sorted(last.items())},
        }
    )


def candidate(
    idx: Any, key: tuple[str, str], ws: dict[str, Any]
) -> tuple[str, int | None, str] | None:
    """(app type, idle timeout in minutes or None when idle shutdown is off, app URL base
    path) of a running workspace, else None."""
    status = ws.get("status") or {}
    if ws["metadata"].get("deletionTimestamp") or status.get("phase") != "Running":
        return None
    try:
        spec = WorkspaceSpec.model_validate(ws["spec"])
    except ValueError:
        return None
    if spec.desiredStatus != DesiredStatus.RUNNING:
        return None
    template_name = status.get("template") or spec.templateRef
    body = ix.one(idx.templates, template_name) if template_name else None
    template = WorkspaceTemplateSpec.model_validate(body["spec"]) if body else None
    resolved = resolve(spec, template)
    timeout = resolved.idle_timeout_minutes if resolved.idle_enabled else None
    base = urlsplit(status.get("url") or "/").path or "/"
    return resolved.app_type, timeout or None, base if base.endswith("/") else base + "/"


async def cull_round(rt: Runtime, http: aiohttp.ClientSession) -> None:
    global _last_active
    idx = rt.indexes
    if idx is None or rt.proxy_key is None:
        return
    tunnels: dict[tuple[str, str], float] | None = None
    reading = asyncio.Lock()

    async def tunnel_activity() -> dict[tuple[str, str], float]:
        """Read once per round, and only when a workspace is judged: a round with nothing
        running sends no request."""
        nonlocal tunnels
        async with reading:
            if tunnels is None:
                tunnels = await rt.call(read_configmap, rt, TUNNEL_ACTIVITY) or {}
        return tunnels

    if _last_active is None:
        _last_active = await rt.call(read_configmap, rt, LAST_ACTIVITY)
    last = dict(_last_active or {})
    gate = asyncio.Semaphore(PROBE_CONCURRENCY)
    seen: set[tuple[str, str]] = set()

    async def one(key: tuple[str, str], ws: dict[str, Any]) -> None:
        what = candidate(idx, key, ws)
        if what is None:
            return
        app_type, timeout, base = what
        pods = [p for p in ix.pods(idx, key) if p.ready and p.ip and not p.deleting]
        if len(pods) != 1:
            return  # starting, replacing or gone: nothing to judge
        meta = ws["metadata"]
        headers = {
            HEADER: workspace_secret(rt.proxy_key or b"", key[0], key[1], meta["uid"]),
            "X-Jupyter-K8s-User": CULLER_USER,
        }
        async with gate:
            found = await probe(http, app_type, f"http://{pods[0].ip}:{APP_PORT}{base}", headers)
        if found.started is None:
            found = replace(found, started=parse_time(pods[0].started))
        PROBES.labels("ok" if found.ok else "failed").inc()
        said = verdict(found, timeout, time.time(), (await tunnel_activity()).get(key))
        if said.idle_seconds is not None:
            seen.add(key)
            IDLE_SECONDS.labels(*key).set(said.idle_seconds)
        if said.last_active is not None:
            last[key] = said.last_active
        if not found.ok:
            log.info("activity of %s/%s unknown: %s", *key, found.error)
        if said.cull:
            await stop_idle(rt, ws, said.why)

    workspaces = _workspaces(idx)
    await asyncio.gather(*(one(k, w) for k, w in workspaces))
    for labels in _judged - seen:  # no gauge for a workspace no longer judged
        IDLE_SECONDS.remove(*labels)
    _judged.clear()
    _judged.update(seen)
    existing = {k for k, _ in workspaces}
    last = {k: t for k, t in last.items() if k in existing}  # stopped ones keep theirs
    if last != _last_active:
        try:
            await rt.call(write_last_activity, rt, last)
            _last_active = last
        except KubeError as err:
            log.warning("writing %s failed: %s", LAST_ACTIVITY, err.message)


def _workspaces(idx: Any) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    return [(key, ws) for key in list(idx.workspaces) if (ws := ix.one(idx.workspaces, key))]


async def stop_idle(rt: Runtime, ws: dict[str, Any], why: str) -> None:
    meta = ws["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    try:
        # Conditional on the version judged: a change meanwhile (the owner did something)
        # wins, and the next round judges again.
        await rt.call(
            rt.kube.merge_patch,
            API_VERSION,
            "Workspace",
            namespace,
            name,
            {
                "metadata": {
                    "resourceVersion": str(meta["resourceVersion"]),
                    "annotations": {IDLE_STOP_ANNOTATION: str(meta["generation"] + 1)},
                },
                "spec": {"desiredStatus": "Stopped"},
            },
        )
    except KubeError as err:
        log.warning("stopping idle workspace %s/%s failed: %s", namespace, name, err.message)
        return
    CULLED.inc()
    log.info("stopped idle workspace %s/%s: %s", namespace, name, why)
    await rt.call(
        rt.kube.event,
        {"apiVersion": API_VERSION, "kind": "Workspace", "metadata": meta},
        "Normal",
        "Idle",
        f"Stopped: {why}. Its volume is kept; set desiredStatus: Running to start it again.",
    )


async def cull_forever(rt: Runtime) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while True:
            await asyncio.sleep(rt.settings.cull_seconds)
            if not rt.leading:
                continue  # a standby culls nothing
            try:
                await cull_round(rt, http)
            except Exception:  # one bad round must not end culling
                log.exception("idle culling round failed")

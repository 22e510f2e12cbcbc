"""Desktop access: SSH carried over a WebSocket, decided exactly like the browser.

On the authentication host (routed to this service, no other hop):
- POST /_jk/ssh/certificate: a short-lived SSH user certificate for one workspace (ssh_keys.py),
  issued only after the `connect` decision; the answer also carries the workspace's host key
  so the client pins it.
- GET /_jk/tunnel/<namespace>/<name> (WebSocket): after the same decision, bytes are bridged
  to the SSH server inside the workspace's pod (port 2222 of the pod's address; no Service
  exposes it). The decision is asked again every `recheck_seconds` without the cache: a removed
  or expired share, or a workspace gone private, closes the tunnel within that bound.

Both take the IdP's token as `Authorization: Bearer` (the CLI's `jk login`), verified by
oauth2-proxy; cookies are not read, so a web page cannot ride a browser's session here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web
from prometheus_client import Counter, Gauge

from ..kube import KubeError
from ..names import workspace_child
from ..reconcile.idle import activity_key
from ..ssh_keys import (
    CERT_SECONDS,
    SSH_PORT,
    BadPublicKey,
    host_key,
    public_openssh,
    sign_user,
    user_ca,
)
from .decide import Identity
from .refused import Refused, bearer_identity

log = logging.getLogger("jupyter_k8s.authz.tunnel")

TUNNELS = Gauge("jupyter_k8s_tunnels_open", "SSH tunnels open now.")
TUNNEL_ANSWERS = Counter(
    "jupyter_k8s_tunnel_requests_total",
    "Tunnel and certificate requests, by what they got.",
    ["kind", "outcome"],
)
# The account the SSH server runs as in the project's images (docker-stacks' jovyan, UID 1000).
SSH_USER = "jovyan"
CLOSE_REVOKED = 4403  # WebSocket close code: access was withdrawn
CHUNK = 64 * 1024
ACTIVITY_SECONDS = 60  # how often an open tunnel says its workspace is in use


@dataclass
class Tunnels:
    authorizer: Any  # server.Authorizer (not imported: server.py imports this module)
    recheck_seconds: float = 10.0
    activity: str | None = None  # "<namespace>/<configmap>": open tunnels are activity

    async def _record(self, namespace: str, name: str) -> None:
        """While the tunnel is open: its workspace is in use (the idle culler reads this)."""
        if not self.activity:
            return
        cm_namespace, _, cm_name = self.activity.partition("/")
        while True:
            try:
                await asyncio.to_thread(
                    self.authorizer.kube.merge_patch,
                    "v1",
                    "ConfigMap",
                    cm_namespace,
                    cm_name,
                    {"data": {activity_key(namespace, name): str(int(time.time()))}},
                )
            except KubeError as err:
                log.warning("recording tunnel activity failed: %s", err)
            await asyncio.sleep(ACTIVITY_SECONDS)

    async def _admit(self, request: web.Request, namespace: str, name: str) -> Identity:
        """Who asks, and whether they may connect to a running workspace; else Refused."""
        who = await bearer_identity(self.authorizer, request)
        # Unknown and forbidden look the same: existence is not revealed.
        if not await self.authorizer.allowed(who, namespace, name):
            log.info("tunnel deny %s -> %s/%s", who.user, namespace, name)
            raise Refused(403, "forbidden", f"no access to workspace {namespace}/{name}")
        phase = await self.authorizer.phase(namespace, name)
        if phase != "Running":
            raise Refused(
                409,
                "not-running",
                f"workspace {namespace}/{name} is {phase.lower()}: start it first "
                f"(jk start {namespace}/{name})",
            )
        return who

    async def certificate(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            namespace, name, public_key = (
                str(body["namespace"]),
                str(body["name"]),
                str(body["publicKey"]),
            )
        except (ValueError, KeyError, TypeError):
            TUNNEL_ANSWERS.labels("certificate", "bad-request").inc()
            return Refused(
                400, "bad-request", 'send JSON {"namespace", "name", "publicKey"}'
            ).response()
        try:
            who = await self._admit(request, namespace, name)
            key = self.authorizer.key
            if key is None:
                raise Refused(503, "not-configured", "the platform has no proxy key")
            uid = await self.authorizer.workspace_uid(namespace, name)
            if uid is None:
                raise Refused(403, "forbidden", f"no access to workspace {namespace}/{name}")
            try:
                cert = sign_user(
                    user_ca(key), public_key, user=who.user, namespace=namespace, name=name
                )
            except BadPublicKey as err:
                raise Refused(400, "bad-public-key", str(err)) from None
        except Refused as refused:
            TUNNEL_ANSWERS.labels("certificate", refused.code).inc()
            return refused.response()
        TUNNEL_ANSWERS.labels("certificate", "issued").inc()
        log.info("ssh certificate for %s -> %s/%s", who.user, namespace, name)
        return web.json_response(
            {
                "certificate": cert,
                "hostKey": public_openssh(host_key(key, namespace, name, uid)),
                "user": SSH_USER,
                "expiresAt": int(time.time()) + CERT_SECONDS,
            }
        )

    async def _pod_address(self, namespace: str, name: str) -> str | None:
        """The ready address behind the workspace's Service (read from its EndpointSlices)."""
        kube = self.authorizer.kube
        body = await asyncio.to_thread(
            kube._call,
            "GET",
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            None,
            [("labelSelector", f"kubernetes.io/service-name={workspace_child(name)}")],
        )
        for slice_ in body.get("items") or []:
            for ep in slice_.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") and ep.get("addresses"):
                    return str(ep["addresses"][0])
        return None

    async def tunnel(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            who = await self._admit(request, namespace, name)
            address = await self._pod_address(namespace, name)
            if address is None:
                raise Refused(
                    409, "not-running", f"workspace {namespace}/{name} has no ready pod yet"
                )
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(address, SSH_PORT), timeout=10
                )
            except (OSError, TimeoutError):
                raise Refused(
                    502,
                    "no-ssh-server",
                    f"workspace {namespace}/{name} runs no SSH server (its image needs the "
                    "project's entry, and the operator JK_SSH_SERVER=on)",
                ) from None
        except Refused as refused:
            TUNNEL_ANSWERS.labels("tunnel", refused.code).inc()
            return refused.response()
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4 * CHUNK)
        await ws.prepare(request)
        TUNNEL_ANSWERS.labels("tunnel", "opened").inc()
        TUNNELS.inc()
        started = time.monotonic()
        log.info("tunnel open %s -> %s/%s", who.user, namespace, name)
        reason = "closed"
        try:
            reason = await self._bridge(ws, reader, writer, who, namespace, name)
        finally:
            TUNNELS.dec()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            log.info(
                "tunnel %s %s -> %s/%s after %.0f s",
                reason,
                who.user,
                namespace,
                name,
                time.monotonic() - started,
            )
        return ws

    async def _bridge(
        self,
        ws: web.WebSocketResponse,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        who: Identity,
        namespace: str,
        name: str,
    ) -> str:
        async def upstream() -> str:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    writer.write(msg.data)
                    await writer.drain()
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
            return "closed by the client"

        async def downstream() -> str:
            while chunk := await reader.read(CHUNK):
                await ws.send_bytes(chunk)
            return "closed by the workspace"

        async def revalidate() -> str:
            while True:
                await asyncio.sleep(self.recheck_seconds)
                if not await self.authorizer.still_allowed(who, namespace, name):
                    return "revoked"

        tasks = [asyncio.ensure_future(t) for t in (upstream(), downstream(), revalidate())]
        recording = asyncio.ensure_future(self._record(namespace, name))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            first = done.pop()
            reason = first.result() if not first.exception() else f"failed: {first.exception()}"
        finally:
            for task in [*tasks, recording]:
                task.cancel()
        if reason == "revoked":
            log.info("tunnel revoked %s -> %s/%s", who.user, namespace, name)
            await ws.close(
                code=CLOSE_REVOKED,
                message=json.dumps({"error": "revoked", "message": "access withdrawn"}).encode(),
            )
        else:
            await ws.close()
        return reason

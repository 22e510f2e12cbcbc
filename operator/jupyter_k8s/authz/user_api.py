"""The users' API of the platform (the jk CLI), on the authentication host under /_jk/api/.

Every answer is for the user oauth2-proxy authenticated from their bearer token, and every change
is made *as that user* (Kubernetes impersonation of exactly that user and their groups), so
RBAC and the API server's admission policies decide it as they would for `kubectl`: only the
owner or an admin may start or stop a workspace. Listing shows the workspaces the user may
`connect` to (theirs, shared with them, Public), the same decision the browser gets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..api import API_VERSION
from ..api.workspace import OWNER_ANNOTATION
from ..kube import KubeError
from .decide import Identity
from .refused import Refused, bearer_identity

if TYPE_CHECKING:
    from .server import Authorizer

DESIRED = {"start": "Running", "stop": "Stopped"}


def owner_of(ws: dict[str, Any]) -> str | None:
    # The owner annotation is there from creation on (admission checks it names the creator;
    # the status catches up later).
    annotations = ws["metadata"].get("annotations") or {}
    return annotations.get(OWNER_ANNOTATION) or (ws.get("status") or {}).get("owner")


def summary(
    ws: dict[str, Any], who: Identity, last_activity: dict[tuple[str, str], float] | None = None
) -> dict[str, Any]:
    meta, status = ws["metadata"], ws.get("status") or {}
    owner = owner_of(ws)
    active = (last_activity or {}).get((meta["namespace"], meta["name"]))
    return {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "phase": status.get("phase") or "Pending",
        "desiredStatus": (ws.get("spec") or {}).get("desiredStatus", "Running"),
        "url": status.get("url"),
        "owner": owner,
        "mine": owner == who.user,
        "template": status.get("template") or (ws.get("spec") or {}).get("templateRef"),
        # When it was last in use (UTC, RFC 3339), as the idle culler last saw it.
        "lastActivity": (
            datetime.fromtimestamp(active, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if active else None
        ),
    }


async def visible(
    authorizer: Authorizer, who: Identity, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The workspaces `who` may see: their own (from creation on, before the operator has
    granted them `connect`), and those RBAC lets them `connect` to (shared, Public)."""

    async def sees(ws: dict[str, Any]) -> bool:
        if owner_of(ws) == who.user:
            return True
        meta = ws["metadata"]
        return await authorizer.allowed(who, meta["namespace"], meta["name"])

    seen = await asyncio.gather(*(sees(w) for w in items))
    return [w for w, ok in zip(items, seen, strict=True) if ok]


@dataclass
class UserApi:
    authorizer: Authorizer

    async def _who(self, request: web.Request) -> Identity:
        return await bearer_identity(self.authorizer, request)

    async def _visible(self, who: Identity) -> list[dict[str, Any]]:
        kube = self.authorizer.kube
        items = await asyncio.to_thread(kube.list_objects, API_VERSION, "Workspace", None)
        activity = await self.authorizer.last_activity()
        return [summary(w, who, activity) for w in await visible(self.authorizer, who, items)]

    async def list(self, request: web.Request) -> web.Response:
        try:
            who = await self._who(request)
        except Refused as refused:
            return refused.response()
        found = await self._visible(who)
        found.sort(key=lambda w: (not w["mine"], w["namespace"], w["name"]))
        return web.json_response({"user": who.user, "items": found})

    async def one(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            who = await self._who(request)
            ws = await asyncio.to_thread(
                self.authorizer.kube.get, API_VERSION, "Workspace", namespace, name
            )
            # Unknown and forbidden look the same.
            if ws is None or not await visible(self.authorizer, who, [ws]):
                raise Refused(403, "forbidden", f"no access to workspace {namespace}/{name}")
        except Refused as refused:
            return refused.response()
        return web.json_response(summary(ws, who, await self.authorizer.last_activity()))

    async def set_status(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        action = request.match_info["action"]
        try:
            who = await self._who(request)
            if not await self.authorizer.allowed(who, namespace, name):
                raise Refused(403, "forbidden", f"no access to workspace {namespace}/{name}")
            try:
                ws = await self.authorizer.set_desired(who, namespace, name, DESIRED[action])
            except KubeError as err:
                if err.status in (401, 403, 422):
                    raise Refused(
                        403,
                        "forbidden",
                        f"you may not {action} workspace {namespace}/{name} (only its owner or "
                        f"an admin may): {err.message}",
                    ) from None
                if err.status == 404:
                    raise Refused(
                        403, "forbidden", f"no access to workspace {namespace}/{name}"
                    ) from None
                raise
        except Refused as refused:
            return refused.response()
        return web.json_response(summary(ws, who, await self.authorizer.last_activity()))


def add_routes(app: web.Application, authorizer: Authorizer) -> None:
    api = UserApi(authorizer)
    app.router.add_get("/_jk/api/workspaces", api.list)
    app.router.add_get("/_jk/api/workspaces/{namespace}/{name}", api.one)
    app.router.add_post(
        "/_jk/api/workspaces/{namespace}/{name}/{action:start|stop}", api.set_status
    )

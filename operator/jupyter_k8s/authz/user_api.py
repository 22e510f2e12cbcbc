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


def summary(ws: dict[str, Any], who: Identity) -> dict[str, Any]:
    meta, status = ws["metadata"], ws.get("status") or {}
    # The owner annotation is there from creation on (the status catches up later).
    owner = (meta.get("annotations") or {}).get(OWNER_ANNOTATION) or status.get("owner")
    return {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "phase": status.get("phase") or "Pending",
        "desiredStatus": (ws.get("spec") or {}).get("desiredStatus", "Running"),
        "url": status.get("url"),
        "owner": owner,
        "mine": owner == who.user,
        "template": status.get("template"),
    }


@dataclass
class UserApi:
    authorizer: Authorizer

    async def _who(self, request: web.Request) -> Identity:
        return await bearer_identity(self.authorizer, request)

    async def _visible(self, who: Identity) -> list[dict[str, Any]]:
        kube = self.authorizer.kube
        items = await asyncio.to_thread(kube.list_objects, API_VERSION, "Workspace", None)
        allowed = await asyncio.gather(
            *(
                self.authorizer.allowed(who, w["metadata"]["namespace"], w["metadata"]["name"])
                for w in items
            )
        )
        return [summary(w, who) for w, ok in zip(items, allowed, strict=True) if ok]

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
            if ws is None or not await self.authorizer.allowed(who, namespace, name):
                raise Refused(403, "forbidden", f"no access to workspace {namespace}/{name}")
        except Refused as refused:
            return refused.response()
        return web.json_response(summary(ws, who))

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
        return web.json_response(summary(ws, who))


def add_routes(app: web.Application, authorizer: Authorizer) -> None:
    api = UserApi(authorizer)
    app.router.add_get("/_jk/api/workspaces", api.list)
    app.router.add_get("/_jk/api/workspaces/{namespace}/{name}", api.one)
    app.router.add_post(
        "/_jk/api/workspaces/{namespace}/{name}/{action:start|stop}", api.set_status
    )

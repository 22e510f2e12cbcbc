"""The "my workspaces" page on the authentication host (/_jk/workspaces), behind the same sign-in.

It lists the signed-in user's workspaces and those shared with them, and lets them create one
from a template their namespace allows, start, stop, delete and share theirs, and revoke a
share. Reading uses the service's own read access, filtered by RBAC's `connect` answer for the
user; every change is made *as the user* (impersonation of exactly that user and their groups),
so RBAC and the API server's admission policies decide it as for kubectl. Changes are POSTs
carrying a token of the page (bound to the user, ten minutes), from this origin only, with the
IdP cookie SameSite=Lax: a cross-site request cannot make one. Plain HTML, no script, no
external asset.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from ..api import API_VERSION, GROUP
from ..api.admission import ALLOWED_TEMPLATES_ANNOTATION, DEFAULT_TEMPLATE_ANNOTATION
from ..kube import KubeError
from ..kube.client import object_path
from . import sessions
from .decide import Identity
from .user_api import summary, visible

if TYPE_CHECKING:
    from .server import Authorizer

PATH = "/_jk/workspaces"
ACTIONS = ("create", "start", "stop", "delete", "share", "revoke")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;"
    "color:#1d1d1f}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;"
    "border-bottom:1px solid #ddd;vertical-align:top}a{color:#0b57d0}form{display:inline}"
    "button{font:inherit;padding:.2rem .7rem;margin:.1rem;border-radius:.3rem;"
    "border:1px solid #0b57d0;background:#fff;color:#0b57d0;cursor:pointer}"
    "button:focus,input:focus,select:focus{outline:3px solid #fbbc04}"
    ".error{background:#fce8e6;border:1px solid #d93025;padding:.6rem;border-radius:.3rem}"
    ".muted{color:#5f6368;font-size:.9rem}label{margin-right:.6rem}"
    "fieldset{border:1px solid #ddd;border-radius:.3rem;margin:.3rem 0}"
)


def _form(token: str, action: str, fields: dict[str, str], label: str, body: str = "") -> str:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k, quote=True)}" value="{escape(v, quote=True)}">'
        for k, v in {"token": token, "action": action, **fields}.items()
    )
    return (
        f'<form method="post" action="{PATH}">{hidden}{body}'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def _bounds(spec: dict[str, Any]) -> str:
    parts = []
    for res, rng in sorted((spec.get("resourceBounds") or {}).items()):
        parts.append(f"{res} {rng.get('min', '0')}-{rng.get('max', 'any')}")
    storage = spec.get("primaryStorage") or {}
    if storage:
        parts.append(
            f"storage {storage.get('minSize', storage.get('defaultSize'))}-"
            f"{storage.get('maxSize', storage.get('defaultSize'))}"
        )
    return ", ".join(parts)


@dataclass
class Portal:
    authorizer: Authorizer

    async def _who(self, request: web.Request) -> Identity:
        who = await self.authorizer.identity(request)
        if who is None:
            here = quote(f"https://{self.authorizer.settings.auth_host}{PATH}", safe="")
            raise web.HTTPFound(
                f"{self.authorizer.settings.sign_in_url or '/oauth2/start'}?rd={here}"
            )
        return who

    def _token(self, who: Identity) -> str:
        return sessions.action_token(self.authorizer.session_key, "portal", who.user, PATH)

    async def _read(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        kube = self.authorizer.kube
        items: list[dict[str, Any]] = await asyncio.to_thread(
            kube.list_objects, "v1" if kind == "Namespace" else API_VERSION, kind, namespace
        )
        return items

    async def _creatable(self, who: Identity) -> list[tuple[str, list[dict[str, Any]]]]:
        """(namespace, templates it allows) where the user may create workspaces."""
        namespaces, templates = await asyncio.gather(
            self._read("Namespace"), self._read("WorkspaceTemplate")
        )
        by_name = {t["metadata"]["name"]: t for t in templates}
        governed = [
            n
            for n in namespaces
            if ALLOWED_TEMPLATES_ANNOTATION in (n["metadata"].get("annotations") or {})
        ]

        async def may_create(ns: str) -> bool:
            return bool(
                await asyncio.to_thread(
                    self.authorizer.kube.can,
                    who.user,
                    who.rbac_groups(),
                    "create",
                    "workspaces",
                    GROUP,
                    ns,
                )
            )

        allowed = await asyncio.gather(*(may_create(n["metadata"]["name"]) for n in governed))
        out = []
        for n, ok in zip(governed, allowed, strict=True):
            if not ok:
                continue
            ann = n["metadata"]["annotations"]
            names = [x.strip() for x in ann[ALLOWED_TEMPLATES_ANNOTATION].split(",") if x.strip()]
            default = ann.get(DEFAULT_TEMPLATE_ANNOTATION)
            names.sort(key=lambda x: x != default)
            out.append((n["metadata"]["name"], [by_name[x] for x in names if x in by_name]))
        return out

    async def page(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        who = await self._who(request)
        token = self._token(who)
        workspaces = await self._read("Workspace")
        activity = await self.authorizer.last_activity()
        seen = [summary(w, who, activity) for w in await visible(self.authorizer, who, workspaces)]
        mine = [w for w in seen if w["mine"]]
        shared = [w for w in seen if not w["mine"]]
        shares = await self._read("WorkspaceShare") if mine else []
        creatable = await self._creatable(who)
        html = [
            f"<h1>My workspaces</h1><p class=muted>Signed in as {escape(who.user)}. "
            f'<a href="/_jk/sign_out">Sign out</a></p>'
        ]
        if error:
            html.append(f'<p class="error" role="alert">{escape(error)}</p>')
        html.append('<h2 id="mine">Yours</h2>')
        html.append(self._mine(mine, shares, token) if mine else "<p>None yet.</p>")
        html.append('<h2 id="shared">Shared with you</h2>')
        html.append(self._shared(shared) if shared else "<p>Nothing is shared with you.</p>")
        html.append('<h2 id="create">New workspace</h2>')
        html.append(self._create(creatable, token))
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>My workspaces</title><style>{_STYLE}</style></head><body><main>"
            + "".join(html)
            + "</main></body></html>"
        )
        return web.Response(
            status=status,
            text=body,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
        )

    @staticmethod
    def _active(w: dict[str, Any], now: datetime | None = None) -> str:
        """When it was last in use: "12 min ago", with the UTC time for screen readers too."""
        at = w.get("lastActivity")
        if not at:
            return "<span class=muted>-</span>"
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        minutes = int(((now or datetime.now(UTC)) - when).total_seconds() // 60)
        if minutes < 1:
            ago = "just now"
        elif minutes < 120:
            ago = f"{minutes} min ago"
        elif minutes < 48 * 60:
            ago = f"{minutes // 60} h ago"
        else:
            ago = f"{minutes // 1440} days ago"
        title = when.strftime("%Y-%m-%d %H:%M UTC")
        return f'<time datetime="{escape(at, quote=True)}" title="{title}">{ago}</time>'

    @staticmethod
    def _open(w: dict[str, Any]) -> str:
        url = w.get("url")
        name = escape(w["name"])
        return f'<a href="{escape(url, quote=True)}">{name}</a>' if url else name

    def _mine(self, items: list[dict[str, Any]], shares: list[dict[str, Any]], token: str) -> str:
        rows = []
        for w in items:
            ns, name = w["namespace"], w["name"]
            ids = {"namespace": ns, "name": name}
            toggle = (
                _form(token, "stop", ids, "Stop")
                if w["desiredStatus"] == "Running"
                else _form(token, "start", ids, "Start")
            )
            own = [
                s
                for s in shares
                if s["metadata"]["namespace"] == ns
                and (s.get("spec") or {}).get("workspaceName") == name
            ]
            listed = "".join(
                "<li>"
                + escape(
                    ", ".join(f"{x['kind']} {x['name']}" for x in s["spec"].get("subjects") or [])
                )
                + (f" until {escape(s['spec']['expiresAt'])}" if s["spec"].get("expiresAt") else "")
                + " "
                + _form(token, "revoke", {**ids, "share": s["metadata"]["name"]}, "Revoke")
                + "</li>"
                for s in own
            )
            share_form = _form(
                token,
                "share",
                ids,
                "Share",
                f"<fieldset><legend class=muted>Share {escape(name)}</legend>"
                f'<label>Kind <select name="kind"><option>User</option><option>Group</option>'
                f"</select></label>"
                f'<label>Name <input name="subject" required size="22"></label>'
                f'<label>Expires (UTC, optional) <input type="datetime-local" name="expires">'
                f"</label></fieldset>",
            )
            rows.append(
                f"<tr><td>{self._open(w)}</td><td>{escape(ns)}</td><td>{escape(w['phase'])}</td>"
                f"<td>{escape(w.get('template') or '-')}</td><td>{self._active(w)}</td>"
                f"<td>{toggle}{_form(token, 'delete', ids, 'Delete')}"
                f"<ul aria-label='shares of {escape(name, quote=True)}'>{listed}</ul>{share_form}</td></tr>"
            )
        return (
            "<table><thead><tr><th scope=col>Workspace</th><th scope=col>Namespace</th>"
            "<th scope=col>Phase</th><th scope=col>Template</th><th scope=col>Last activity</th>"
            "<th scope=col>Actions</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )

    def _shared(self, items: list[dict[str, Any]]) -> str:
        rows = "".join(
            f"<tr><td>{self._open(w)}</td><td>{escape(w['namespace'])}</td>"
            f"<td>{escape(w['phase'])}</td><td>{escape(w.get('owner') or '-')}</td>"
            f"<td>{self._active(w)}</td></tr>"
            for w in items
        )
        return (
            "<table><thead><tr><th scope=col>Workspace</th><th scope=col>Namespace</th>"
            "<th scope=col>Phase</th><th scope=col>Owner</th><th scope=col>Last activity</th>"
            "</tr></thead><tbody>" + rows + "</tbody></table>"
        )

    def _create(self, creatable: list[tuple[str, list[dict[str, Any]]]], token: str) -> str:
        if not creatable:
            return "<p>You may not create workspaces in any namespace.</p>"
        namespaces = "".join(f"<option>{escape(ns)}</option>" for ns, _ in creatable)
        templates = "".join(
            f'<option value="{escape(t["metadata"]["name"], quote=True)}">'
            f"{escape(ns)}: {escape(t['spec'].get('displayName', t['metadata']['name']))}"
            f" ({escape(_bounds(t['spec']))})</option>"
            for ns, ts in creatable
            for t in ts
        )
        return _form(
            token,
            "create",
            {},
            "Create",
            f'<label>Namespace <select name="namespace">{namespaces}</select></label>'
            f'<label>Name <input name="name" required pattern="[a-z0-9]([-a-z0-9]*[a-z0-9])?" '
            f'maxlength="40"></label>'
            f'<label>Template <select name="template">{templates}</select></label>',
        )

    async def act(self, request: web.Request) -> web.Response:
        who = await self._who(request)
        form = await request.post()
        origin = request.headers.get("Origin")
        expected = f"https://{self.authorizer.settings.auth_host}"
        token = str(form.get("token", ""))
        action = str(form.get("action", ""))
        if (origin is not None and origin != expected) or not sessions.check_action(
            self.authorizer.session_key, token, "portal", who.user, PATH
        ):
            return await self.page(request, "This form expired: try again.", 403)
        if action not in ACTIONS:
            return await self.page(request, f"Unknown action {action!r}.", 400)
        namespace, name = str(form.get("namespace", "")), str(form.get("name", ""))
        try:
            await self._change(who, action, namespace, name, form)
        except KubeError as err:
            return await self.page(request, f"{action} {namespace}/{name}: {err.message}", 403)
        except ValueError as err:
            return await self.page(request, str(err), 400)
        raise web.HTTPSeeOther(PATH)

    async def _change(
        self, who: Identity, action: str, namespace: str, name: str, form: Any
    ) -> None:
        as_user = self.authorizer.as_user
        ws_path = object_path(API_VERSION, "Workspace", namespace, name)
        if action in ("start", "stop"):
            desired = "Running" if action == "start" else "Stopped"
            await self.authorizer.set_desired(who, namespace, name, desired)
        elif action == "delete":
            await as_user(who, "DELETE", ws_path)
        elif action == "create":
            body = {
                "apiVersion": API_VERSION,
                "kind": "Workspace",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"templateRef": str(form.get("template", ""))},
            }
            await as_user(who, "POST", object_path(API_VERSION, "Workspace", namespace), body)
        elif action == "share":
            kind, subject = str(form.get("kind", "User")), str(form.get("subject", "")).strip()
            if kind not in ("User", "Group") or not subject:
                raise ValueError("Share with a User or Group, and name them.")
            spec: dict[str, Any] = {
                "workspaceName": name,
                "subjects": [{"kind": kind, "name": subject}],
            }
            if expires := str(form.get("expires", "")).strip():
                try:
                    at = datetime.fromisoformat(expires).replace(tzinfo=UTC)
                except ValueError:
                    raise ValueError(f"Expires: {expires!r} is not a date and time.") from None
                spec["expiresAt"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            share = {
                "apiVersion": API_VERSION,
                "kind": "WorkspaceShare",
                "metadata": {"name": f"{name}-{secrets.token_hex(3)}", "namespace": namespace},
                "spec": spec,
            }
            await as_user(who, "POST", object_path(API_VERSION, "WorkspaceShare", namespace), share)
        elif action == "revoke":
            share_name = str(form.get("share", ""))
            await as_user(
                who, "DELETE", object_path(API_VERSION, "WorkspaceShare", namespace, share_name)
            )


def add_routes(app: web.Application, authorizer: Authorizer) -> None:
    portal = Portal(authorizer)

    async def show(request: web.Request) -> web.Response:
        return await portal.page(request)

    app.router.add_get(PATH, show)
    app.router.add_post(PATH, portal.act)

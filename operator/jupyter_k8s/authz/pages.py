"""What people see when they cannot (yet) reach a workspace: small, self-contained HTML pages
for browsers (no external assets: they work offline), one plain line for API clients."""

from __future__ import annotations

from html import escape

from aiohttp import web

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:12vh auto;padding:0 1rem;"
    "color:#1d1d1f}h1{font-size:1.5rem}p{line-height:1.5}a{color:#0b57d0}"
    ".muted{color:#5f6368;font-size:.9rem}"
    "button{font:inherit;padding:.5rem 1.2rem;border-radius:.4rem;border:1px solid #0b57d0;"
    "background:#0b57d0;color:#fff;cursor:pointer}button:focus{outline:3px solid #fbbc04}"
)

FORBIDDEN = (
    "You do not have access to this workspace",
    "If you think you should, ask its owner to share it with you.",
)


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def page(
    request: web.Request,
    status: int,
    title: str,
    message: str,
    *,
    refresh: int | None = None,
    links: tuple[tuple[str, str], ...] = (),
    headers: dict[str, str] | None = None,
    button: tuple[str, str] | None = None,
) -> web.Response:
    """`title` and `message` as an HTML page (browsers) or one line of text (the rest)."""
    if not wants_html(request):
        return web.Response(status=status, text=f"{title}\n", headers=headers)
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    items = "".join(
        f'<p><a href="{escape(href, quote=True)}">{escape(text)}</a></p>' for text, href in links
    )
    if button:  # (label, action): one POST, no script
        label, action = button
        items = (
            f'<form method="post" action="{escape(action, quote=True)}">'
            f'<button type="submit" id="action">{escape(label)}</button></form>' + items
        )
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{items}"
        f'<p class="muted">jupyter-k8s</p></main></body></html>'
    )
    return web.Response(
        status=status,
        text=body,
        content_type="text/html",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def forbidden(request: web.Request, sign_out: str | None = None) -> web.Response:
    """One answer for a workspace that exists but is not yours and for one that does not."""
    links = (("Sign in as someone else", sign_out),) if sign_out else ()
    return page(request, 403, *FORBIDDEN, links=links)

"""Only the proxy may talk to this server.

JupyterLab runs with its own token and password off: authentication is the proxy's job
(oauth2-proxy + the jupyter-k8s authorization service). To make sure a request really came
through that proxy, the operator gives each workspace a secret, in a Secret handed both to the
pod (JUPYTER_K8S_PROXY_SECRET) and to the route (the authorization service adds it as the
X-Jupyter-K8s-Proxy-Secret header on every request it allows). A request without it, from
another pod or through a forwarded port, is refused with 403; with it, the user is the one the
authorization service named in X-Jupyter-K8s-User (the client cannot set that header: the
proxy replaces it). Without a configured secret, everything is refused: fail closed.

Health probes hit <base_url>api, which Jupyter Server answers without authentication.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from traitlets import Type, Unicode

SECRET_ENV = "JUPYTER_K8S_PROXY_SECRET"  # noqa: S105 - a variable name


class NoLogin(JupyterHandler):  # type: ignore[misc]
    """Where Jupyter sends browsers without a session: there is nothing to log in to here."""

    def get(self) -> None:
        raise web.HTTPError(403, "open this workspace through its jupyter-k8s URL")

    post = get


class ProxyIdentityProvider(IdentityProvider):  # type: ignore[misc]
    login_handler_class = Type(default_value=NoLogin, klass=web.RequestHandler, config=True)
    user_header = Unicode("X-Jupyter-K8s-User", config=True, help="Header naming the user.")
    secret_header = Unicode(
        "X-Jupyter-K8s-Proxy-Secret", config=True, help="Header carrying the workspace secret."
    )

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False  # there is nothing to log in to here: the proxy signs users in

    def get_handlers(self) -> list[tuple[str, object]]:
        # Jupyter sends browsers without a session to /login: answer there with a 403 that
        # says where to go, not with a login form.
        return [(r"/login", NoLogin)]

    def get_user(self, handler: web.RequestHandler) -> User | None:
        secret = os.environ.get(SECRET_ENV, "")
        given = handler.request.headers.get(self.secret_header, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return None
        name = handler.request.headers.get(self.user_header, "").strip()
        if not name:
            return None
        return User(username=name, name=name, display_name=name)

    def validate_security(self, app: Any, ssl_options: Any = None) -> None:
        if not os.environ.get(SECRET_ENV):
            self.log.critical("%s is not set: every request will be refused", SECRET_ENV)

"""A thin, typed client for the few calls the operator makes, straight on a urllib3 pool.

Objects stay plain dicts (JSON in, JSON out): the official client's generated model classes cost
time and memory at the scale of thousands of workspaces and add nothing to server-side apply.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import urllib3

from ..api import KINDS
from ..child_kinds import CHILD_KINDS
from ..deploy.settings import FIELD_MANAGER
from .connection import Connection, KubeconfigError
from .field_owners import folded_into_apply

log = logging.getLogger(__name__)

# kind -> plural, for every kind the operator reads or writes: its own five, the children of a
# workspace (child_kinds.py) and what else it touches.
PLURALS = {
    **{k.kind: k.plural for k in KINDS},
    **{c.kind: c.plural for c in CHILD_KINDS},
    "ConfigMap": "configmaps",
    "Event": "events",
    "Namespace": "namespaces",
    "IngressClass": "ingressclasses",
    "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
    "Lease": "leases",
}


# For writes whose answer is read only for its resourceVersion: the server sends the object's
# metadata instead of the whole object (a Deployment's answer is tens of KB to decode). A server
# that cannot transform answers sends the object, as "application/json" asks.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


class KubeError(Exception):
    def __init__(
        self, status: int, reason: str, message: str, causes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes  # the Status's details.causes[].reason

    @property
    def namespace_terminating(self) -> bool:
        """Refused because the namespace is being deleted: nothing can be created in it again,
        and what is in it goes with it."""
        return self.status == 403 and "NamespaceTerminating" in self.causes


def object_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    tail = f"/{quote(name, safe='')}" if name else ""  # a name is one path segment
    return f"{base}{ns}/{PLURALS[kind]}{tail}"


def _answer(status: int, reason: str | None, data: bytes) -> dict[str, Any]:
    """The body of a 2xx answer; any other raises KubeError with the server's message."""
    if not 200 <= status < 300:
        message, causes = reason or "", ()
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            answer = orjson.loads(data)
            message = answer.get("message", message)
            causes = tuple(
                c.get("reason", "") for c in (answer.get("details") or {}).get("causes") or []
            )
        raise KubeError(status, reason or "", message, causes)
    return orjson.loads(data) if data else {}


class Kube:
    def __init__(
        self,
        conn: Connection,
        field_manager: str = FIELD_MANAGER,
        pool_size: int = 32,
        retries: int | None = None,
    ) -> None:
        self.conn = conn
        self.field_manager = field_manager
        # Short requests on our own keep-alive connections (kube/pool.py), watches on urllib3.
        self.requests = conn.requests_pool(pool_size, retry_stale=retries != 0)
        self.pool = conn.pool(4, retries)

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> dict[str, Any]:
        headers = [("Content-Type", content_type), ("Accept", accept)]
        return self._send(method, path + (f"?{urlencode(query)}" if query else ""), body, headers)

    def _authorization(self) -> list[tuple[str, str]]:
        try:
            value = self.conn.authorization()  # a rotated token file is read again
        except (KubeconfigError, OSError) as err:  # e.g. an exec plugin failing for now
            raise KubeError(0, "credentials", str(err)) from None
        return [("Authorization", value)] if value else []

    def _send(
        self, method: str, path: str, body: Any, headers: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """One request on the connection pool."""
        if body is not None and not isinstance(body, bytes):
            body = orjson.dumps(body)
        for attempt in (1, 2):
            try:
                answer = self.requests.request(method, path, body, headers + self._authorization())
            except (OSError, http.client.HTTPException) as err:
                raise KubeError(0, "transport", str(err) or type(err).__name__) from None
            if answer.status == 401 and self.conn.token and attempt == 1:
                self.conn.token.expire()  # an expired token: fetch a new one, once
                continue
            break
        return _answer(answer.status, answer.reason, answer.data)

    def get_path(self, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        """GET a collection's path with a query (a page of a list)."""
        return self._call("GET", path, query=query)

    def stream(
        self, path: str, query: list[tuple[str, str]], read_timeout: float
    ) -> Iterator[bytes]:
        """A long GET (a watch), as the bytes arrive; an error answer raises KubeError."""
        headers = {"Accept": "application/json", **dict(self._authorization())}
        try:
            resp = self.pool.request(
                "GET",
                f"{self.conn.server}{path}?{urlencode(query)}",
                headers=headers,
                preload_content=False,
                timeout=urllib3.Timeout(connect=10, read=read_timeout),
            )
        except urllib3.exceptions.HTTPError as err:
            raise KubeError(0, "transport", str(err)) from None
        try:
            if not 200 <= resp.status < 300:
                if resp.status == 401 and self.conn.token:
                    self.conn.token.expire()  # the watch's next try fetches a new token
                _answer(resp.status, resp.reason, resp.read())
            yield from resp.stream(65536)
        finally:
            # Closed, not returned to the pool: a watch left mid-stream has unread bytes.
            resp.close()
            resp.release_conn()

    def call_as(
        self,
        user: str,
        groups: list[str],
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/merge-patch+json",
    ) -> dict[str, Any]:
        """A request made as `user` with `groups` (Kubernetes impersonation): RBAC and
        admission decide it as for that user. Only for identities the caller authenticated."""
        headers = [
            ("Content-Type", content_type),
            ("Accept", "application/json"),
            ("Impersonate-User", user),
            *(("Impersonate-Group", group) for group in groups),
        ]
        return self._send(method, path, body, headers)

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            return self._call("GET", object_path(api_version, kind, namespace, name))
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None
    ) -> list[dict[str, Any]]:
        """Every object of a kind (in a namespace, or cluster-wide), page by page."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", "500")] + ([("continue", token)] if token else [])
            page = self._call("GET", object_path(api_version, kind, namespace), query=query)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def create(self, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        """POST with the operator's field manager: fails with 409 when the object exists
        (someone else was first). Its fields belong to the manager's Update entry until
        `claim_fields` folds that into its Apply entry (kube/field_owners.py)."""
        meta = obj["metadata"]
        return self._call(
            "POST",
            object_path(obj["apiVersion"], obj["kind"], meta.get("namespace")),
            body=orjson.dumps(obj),  # as apply: UTF-8 as it is
            query=[("fieldManager", self.field_manager)],
            accept=METADATA_ONLY if metadata_only else "application/json",
        )

    def claim_fields(self, obj: dict[str, Any]) -> None:
        """Before applying to an object the operator created with `create`: what that POST set
        becomes the operator's applied fields, so that the apply removes those the plan no
        longer wants. Nothing to do (one GET) for an object made by an apply."""
        meta = obj["metadata"]
        path = object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        for attempt in (1, 2, 3):
            try:
                current = self._call("GET", path, accept=METADATA_ONLY)
            except KubeError as err:
                if err.status == 404:
                    return  # gone: the apply creates it, owning all it sets
                raise
            found = current.get("metadata") or {}
            folded = folded_into_apply(found.get("managedFields"), self.field_manager)
            if folded is None:
                return
            patch = [
                # Only the version read: a concurrent write could have changed the entries.
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": found["resourceVersion"],
                },
                {"op": "replace", "path": "/metadata/managedFields", "value": folded},
            ]
            try:
                self._call(
                    "PATCH",
                    path,
                    body=patch,
                    content_type="application/json-patch+json",
                    accept=METADATA_ONLY,
                )
                return
            except KubeError as err:
                # 422: the version test failed (written meanwhile): read again.
                if err.status not in (409, 422) or attempt == 3:
                    raise

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT with the object's resourceVersion: fails with 409 when it changed meanwhile."""
        meta = obj["metadata"]
        path = object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        return self._call("PUT", path, body=obj)

    def apply(
        self, obj: dict[str, Any], subresource: str = "", metadata_only: bool = False
    ) -> dict[str, Any]:
        """Server-side apply with the operator's single field manager (force: we own these).
        `metadata_only`: the answer need only carry the metadata (see METADATA_ONLY)."""
        meta = obj["metadata"]
        path = object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])

        # UTF-8 as it is: JSON escaping characters outside the BMP as surrogate pairs
        # ("\\ud83d..."), which json.dumps does by default, is refused by the server's YAML
        # decoder for apply. orjson never escapes them.
        body = orjson.dumps(obj)

        def patch() -> dict[str, Any]:
            return self._call(
                "PATCH",
                path + (f"/{subresource}" if subresource else ""),
                body=body,
                query=[("fieldManager", self.field_manager), ("force", "true")],
                content_type="application/apply-patch+yaml",
                accept=METADATA_ONLY if metadata_only else "application/json",
            )

        try:
            return patch()
        except KubeError as err:
            # A binding's roleRef cannot change in place: replace the binding.
            if obj["kind"] == "RoleBinding" and err.status == 422 and "roleRef" in err.message:
                self.delete(obj["apiVersion"], "RoleBinding", meta.get("namespace"), meta["name"])
                return patch()
            raise

    def merge_patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        subresource: str = "",
        metadata_only: bool = False,
    ) -> dict[str, Any]:
        path = object_path(api_version, kind, namespace, name)
        return self._call(
            "PATCH",
            path + (f"/{subresource}" if subresource else ""),
            body=patch,
            content_type="application/merge-patch+json",
            accept=METADATA_ONLY if metadata_only else "application/json",
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        propagation: str = "Background",
    ) -> bool:
        """Delete, letting the garbage collector take dependents; False if it was gone.
        With "Foreground" the object stays (deletionTimestamp set) until they are gone."""
        try:
            self._call(
                "DELETE",
                object_path(api_version, kind, namespace, name),
                body={"propagationPolicy": propagation},
            )
            return True
        except KubeError as err:
            if err.status == 404:
                return False
            raise

    def event(
        self,
        involved: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        component: str = "jupyter-k8s-operator",
    ) -> None:
        """A core/v1 Event on `involved` (what `kubectl describe` shows)."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": component,
            "firstTimestamp": now[:19] + "Z",
            "lastTimestamp": now[:19] + "Z",
            "eventTime": now,
            "action": reason,
            "count": 1,
        }
        try:
            self._call("POST", f"/api/v1/namespaces/{namespace}/events", body=body)
        except KubeError as err:  # events are best effort
            if not err.namespace_terminating:  # it goes with its namespace
                log.warning("could not post event %s on %s: %s", reason, meta["name"], err)

    def can(
        self,
        user: str,
        groups: list[str],
        verb: str,
        resource: str,
        group: str,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        uid: str | None = None,
        extra: dict[str, list[str]] | None = None,
    ) -> bool:
        """SubjectAccessReview: may `user` do `verb` on the resource? RBAC decides."""
        attrs: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        for key, value in (("namespace", namespace), ("name", name), ("subresource", subresource)):
            if value:
                attrs[key] = value
        spec: dict[str, Any] = {"user": user, "groups": groups, "resourceAttributes": attrs}
        if uid:
            spec["uid"] = uid
        if extra:
            spec["extra"] = extra
        res = self._call(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
        )
        return bool(res.get("status", {}).get("allowed"))

"""Sign-outs shared by the authorization service's replicas through one ConfigMap.

A sign-out is written there under the IdP session's id (a digest, never the cookie) with the
time its workspace sessions would end anyway. Every replica reads the ConfigMap every few
seconds, so a sign-out served by one replica ends the sessions on all of them within that
bound, and the replicas themselves keep no state worth losing. Entries past their time are
removed by the next sign-out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from ..kube import Kube, KubeError

log = logging.getLogger("jupyter_k8s.authz")


@dataclass
class SharedSignOuts:
    kube: Kube
    namespace: str
    name: str
    # sid -> when its sessions end anyway (epoch seconds), as last read
    known: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, kube: Kube, where: str) -> SharedSignOuts:
        """`where` is "<namespace>/<name>" of the ConfigMap (JK_AUTHZ_SIGNOUTS)."""
        namespace, _, name = where.partition("/")
        if not namespace or not name:
            raise ValueError(f"JK_AUTHZ_SIGNOUTS={where!r}: expected <namespace>/<configmap name>")
        return cls(kube, namespace, name)

    def record(self, sid: str, until: float, now: float | None = None) -> None:
        """Blocking. Raises KubeError when the ConfigMap cannot be written."""
        now = time.time() if now is None else now
        stale = {old: None for old, end in self.known.items() if end < now}
        # A merge patch touches only these keys: sign-outs on two replicas at once both land.
        patch = {"data": {**stale, sid: str(int(until))}}
        self.kube.merge_patch("v1", "ConfigMap", self.namespace, self.name, patch)
        self.known[sid] = until
        for old in stale:
            self.known.pop(old, None)

    def load(self, now: float | None = None) -> dict[str, float]:
        """Blocking: the sign-outs still in force, read from the ConfigMap (none if it is gone)."""
        now = time.time() if now is None else now
        try:
            found = self.kube.get("v1", "ConfigMap", self.namespace, self.name)
        except KubeError as err:
            log.warning(
                "cannot read the shared sign-outs %s/%s: %s", self.namespace, self.name, err
            )
            return {}
        if found is None:
            log.warning(
                "the shared sign-outs ConfigMap %s/%s does not exist", self.namespace, self.name
            )
            return {}
        known: dict[str, float] = {}
        for sid, until in (found.get("data") or {}).items():
            try:
                known[sid] = float(until)
            except ValueError:
                continue
        self.known = known
        return {sid: until for sid, until in known.items() if until >= now}

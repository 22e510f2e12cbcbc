"""Start-up: Kopf settings, the shared runtime, the webhook server and the metrics endpoint."""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kopf
from prometheus_client import start_http_server

from ..api import (
    WORKSPACE,
    WORKSPACE_EXECUTION_PROFILE,
    WORKSPACE_MANAGER,
    WORKSPACE_SHARE,
    WORKSPACE_TEMPLATE,
)
from ..config import Settings
from ..core import manager, profile, share, template, workspace
from ..core.manager import resync_managers
from ..core.missed import forget_missed
from ..core.runtime import Runtime, runtime
from ..core.slots import PassSlots
from ..core.watches import Watches
from ..deploy.installer import webhook_configuration
from ..deploy.settings import WEBHOOK_TLS_SECRET
from ..kube import Kube, KubeError
from ..kube.connection import load_connection
from ..metrics import API_REQUESTS, LEADER
from ..proxy_secret import KEY_ENV, KEY_SECRET, load_key
from ..tls import make_serving_cert, serving_cert_pem
from .culling import cull_forever
from .election import elect_forever, release
from .kopf_tuning import tune

log = logging.getLogger(__name__)
MANAGER_RECHECK_SECONDS = 10.0


class CountingKube(Kube):
    """Kube that also exports its request count as a Prometheus counter."""

    def _call(self, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # /apis/<group>/<version>/namespaces/<ns>/<resource>/<name>[/status]: keep the resource.
        parts = [p for p in path.split("?")[0].split("/") if p]
        if "namespaces" in parts and len(parts) > parts.index("namespaces") + 2:
            parts = parts[parts.index("namespaces") + 2 :]
        else:
            parts = parts[3:] if parts[:1] == ["apis"] else parts[2:]
        resource = "/".join(parts[:1] + parts[2:3])  # e.g. workspaces/status
        API_REQUESTS.labels(verb=method, resource=resource).inc()
        return super()._call(method, path, *args, **kwargs)


class OwnerWebhookServer(kopf.WebhookServer):
    """Kopf's HTTPS server, plus keeping *our* webhook configuration's caBundle (and, outside a
    cluster, its URL) in step with the certificate served. Kopf's own "managed" mode would need
    RBAC to create any webhook configuration; this needs get/patch on one name only."""

    def __init__(self, rt: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rt = rt

    async def __call__(self, fn: Any) -> Any:
        async for client_config in super().__call__(fn):
            await self.rt.call(publish_webhook, self.rt, client_config)
            yield client_config


def publish_webhook(rt: Runtime, client_config: dict[str, Any]) -> None:
    s = rt.settings
    ca_bundle = client_config["caBundle"]
    current = rt.kube.get(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        None,
        s.webhook_configuration,
    )
    if s.webhook_mode == "url":
        # Outside the cluster (make run, tests): the API server calls us on loopback. An
        # in-cluster install's configuration is not taken over behind its back.
        services = [
            h["clientConfig"]["service"]
            for h in (current or {}).get("webhooks", [])
            if h.get("clientConfig", {}).get("service")
        ]
        if services:
            svc = services[0]
            raise kopf.PermanentError(
                f"MutatingWebhookConfiguration {s.webhook_configuration} belongs to an operator "
                f"installed in the cluster (it calls Service {svc.get('namespace')}/"
                f"{svc.get('name')}): uninstall that one first (make undeploy, or destroy the "
                f"Pulumi stack), or run this one with JK_WEBHOOK_MODE=off"
            )
        config = webhook_configuration()
        config["metadata"]["name"] = s.webhook_configuration
        for hook in config["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {
                "url": f"{client_config['url'].rstrip('/')}{path}",
                "caBundle": ca_bundle,
            }
        rt.kube.apply(config)
        rt.webhook_url = client_config["url"].rstrip("/")
        return
    if current is None:
        raise kopf.PermanentError(
            f"MutatingWebhookConfiguration {s.webhook_configuration} is missing: install the "
            "operator with dist/install.yaml or the Pulumi stack, or set JK_WEBHOOK_MODE=off"
        )
    hooks = current["webhooks"]
    for hook in hooks:
        hook["clientConfig"]["caBundle"] = ca_bundle
    rt.kube.merge_patch(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        None,
        s.webhook_configuration,
        {"webhooks": hooks},
    )


def shared_serving_pems(rt: Runtime, hosts: list[str]) -> tuple[bytes, bytes, bytes]:
    """The replicas' one serving certificate: read from its Secret, or made and stored by
    whichever replica comes first (a create that loses the race reads the winner's)."""
    ns = rt.settings.webhook_namespace
    for _ in range(3):
        found = rt.kube.get("v1", "Secret", ns, WEBHOOK_TLS_SECRET)
        data = {k: base64.b64decode(v) for k, v in ((found or {}).get("data") or {}).items()}
        if found is not None and data:
            if {"ca.crt", "tls.crt", "tls.key"} <= set(data):
                return data["ca.crt"], data["tls.crt"], data["tls.key"]
            raise kopf.PermanentError(
                f"Secret {ns}/{WEBHOOK_TLS_SECRET} lacks ca.crt, tls.crt or tls.key: delete it "
                "and the operator makes a new one"
            )
        pems = serving_cert_pem(hosts)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": WEBHOOK_TLS_SECRET, "namespace": ns},
            "type": "Opaque",
            "data": {
                name: base64.b64encode(pem).decode()
                for name, pem in zip(("ca.crt", "tls.crt", "tls.key"), pems, strict=True)
            },
        }
        try:
            if found is None:
                rt.kube.create(secret)
            else:
                # An empty one made by the Helm chart (so that uninstalling removes it): filled
                # by whichever replica's write names the version it read first.
                meta = found["metadata"]
                secret["metadata"] = {**meta, "resourceVersion": meta["resourceVersion"]}
                rt.kube.replace(secret)
            return pems
        except KubeError as err:
            if err.status != 409:
                raise
    raise kopf.PermanentError(f"Secret {ns}/{WEBHOOK_TLS_SECRET} could not be read or made")


async def resync_forever(rt: Runtime) -> None:
    """Level-based safety net: reconcile everything periodically even without events.

    (Not a Kopf timer: timers put a finalizer on every object, and a workspace must be
    deletable while the operator is down.)"""
    elapsed = 0.0
    while True:
        await asyncio.sleep(MANAGER_RECHECK_SECONDS)
        elapsed += MANAGER_RECHECK_SECONDS
        if rt.indexes is None:
            continue
        # What managers reference (the proxy's and auth's Services, an IngressClass) is not
        # watched: one that is not Ready is re-checked often, so it becomes Ready soon after
        # the platform around it is installed; the rest at the resync.
        if not rt.leading:
            continue  # a standby reconciles nothing
        full = elapsed >= rt.settings.resync_seconds
        if full:
            elapsed = 0.0
            await full_pass(rt)
        else:
            await resync_managers(rt, rt.indexes, only_not_ready=True)


async def full_pass(rt: Runtime) -> None:
    """Everything once: at each full resync, and when this replica takes the lead."""
    idx = rt.indexes
    if idx is None:
        return  # nothing seen yet: the watches' first events bring everything anyway
    await resync_managers(rt, idx, only_not_ready=False)
    try:
        await forget_missed(rt, idx)
    except KubeError as err:
        log.warning("listing workspaces for the resync failed: %s", err)
    await rt.reconcile_workspaces()
    for name in list(idx.templates):
        await rt.reconcile(WORKSPACE_TEMPLATE, name)
    rt.recount_profiles()
    for (namespace, _), names in list(idx.shares_by_workspace.items()):
        for name in list(names):
            await rt.reconcile(WORKSPACE_SHARE, namespace, name)


def register_reconcilers(rt: Runtime) -> None:
    """Each kind's pass, the one work queue's entry for it (core/workqueue.py)."""
    for kind, module in (
        (WORKSPACE, workspace),
        (WORKSPACE_TEMPLATE, template),
        (WORKSPACE_MANAGER, manager),
        (WORKSPACE_EXECUTION_PROFILE, profile),
        (WORKSPACE_SHARE, share),
    ):
        rt.queue.register(kind.kind, functools.partial(module.reconcile_key, rt))


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """Kopf's watches connect as the operator's own client does (kube/connection.py); called
    again when the server refuses the token, or before an exec plugin's token expires."""
    conn = load_connection()
    return kopf.ConnectionInfo(
        server=conn.server,
        ca_path=conn.ca_file,
        insecure=conn.insecure or None,
        certificate_path=conn.cert_file,
        private_key_path=conn.key_file,
        token=conn.token.token() if conn.token else None,
        username=conn.basic_auth.split(":", 1)[0] if conn.basic_auth else None,
        password=conn.basic_auth.split(":", 1)[1] if conn.basic_auth else None,
        default_namespace=conn.namespace,
        expiration=conn.token.expires_at() if conn.token else None,
    )


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    s = Settings.from_env()
    rt = Runtime(
        settings=s,
        kube=CountingKube(load_connection(), pool_size=s.workers * 2),
        slots=PassSlots(s.workers),
    )
    memo.runtime = rt
    register_reconcilers(rt)
    # The operator's own watches (workspaces, children); passes wait until each kind has been
    # listed once and Kopf has filled its indexes.
    rt.queue.ready = rt.ready
    memo.watches = Watches(rt)
    memo.watches.start()
    rt.proxy_key = load_key()
    if rt.proxy_key is None:
        log.warning(
            "%s is not set: workspaces get no proxy secret, and their apps refuse every request "
            "(create the Secret %s, key 'key', in the operator's namespace)",
            KEY_ENV,
            KEY_SECRET,
        )
    # Our own events are few and meaningful; Kopf would post one per handler log line.
    settings.posting.enabled = False
    tune(settings)
    settings.execution.max_workers = s.workers
    # API calls run in threads (Runtime.call): the default pool has cpu+4 of them, which
    # queues calls behind each other when hundreds of workspaces start at once.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(s.workers, "jk-api"))
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    settings.batching.worker_limit = 1000
    if s.webhook_mode != "off":
        host = (
            "127.0.0.1"
            if s.webhook_mode == "url"
            else f"{s.webhook_service}.{s.webhook_namespace}.svc"
        )
        if s.webhook_mode == "url":
            cert = make_serving_cert(Path(s.cert_dir), [host])
        else:
            hosts = [host, f"{host}.cluster.local"]
            pems = await rt.call(shared_serving_pems, rt, hosts)
            cert = make_serving_cert(Path(s.cert_dir), hosts, pems)
        settings.admission.server = OwnerWebhookServer(
            rt,
            addr=s.webhook_addr,
            port=s.webhook_port,
            host=host,
            certfile=cert.cert_file,
            pkeyfile=cert.key_file,
            cadata=cert.ca_pem,
        )
        settings.admission.managed = None
        log.info(
            "admission webhook on %s:%s (%s mode)", s.webhook_addr, s.webhook_port, s.webhook_mode
        )
    if s.leader_election:
        rt.leading = False  # until the Lease is ours
        election = asyncio.create_task(elect_forever(rt, lambda: full_pass(rt)))
        rt.tasks.add(election)
    else:
        LEADER.set(1)
    resync = asyncio.create_task(resync_forever(rt))
    rt.tasks.add(resync)
    rt.tasks.add(asyncio.create_task(cull_forever(rt)))
    start_http_server(s.metrics_port, addr=s.metrics_addr)
    log.info("metrics on http://%s:%s/metrics", s.metrics_addr, s.metrics_port)


@kopf.on.cleanup()
async def stop_background(memo: Any, **_: Any) -> None:
    rt = runtime(memo)
    rt.queue.close()
    watches = getattr(memo, "watches", None)
    if isinstance(watches, Watches):
        watches.stop()
    for task in list(rt.tasks):
        task.cancel()
    if rt.settings.leader_election:
        await release(rt)
    if rt.settings.webhook_mode == "url" and rt.webhook_url:
        name = rt.settings.webhook_configuration
        try:
            await withdraw_webhook(rt)
        except KubeError as err:
            # Best effort, and said so: a cleanup handler that raises is retried by Kopf for
            # minutes, which held the process long after SIGTERM once the API server was gone.
            log.warning(
                "could not remove MutatingWebhookConfiguration %s, which points at this stopping "
                "process (%s): remove it with `kubectl delete mutatingwebhookconfiguration %s` "
                "if no other operator process has published it since",
                name,
                err,
                name,
            )


async def withdraw_webhook(rt: Runtime) -> None:
    """Outside a cluster the webhook points at this process: with failurePolicy Fail, a
    leftover configuration would block every workspace change once we are gone. Removed only
    while it still points here: not one this process refused to take over, nor one another
    process (a second replica) has published since."""
    current = await rt.call(
        rt.kube.get,
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        None,
        rt.settings.webhook_configuration,
    )
    urls = [h.get("clientConfig", {}).get("url", "") for h in (current or {}).get("webhooks", [])]
    if any(u.startswith(rt.webhook_url + "/") for u in urls):
        await rt.call(
            rt.kube.delete,
            "admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration",
            None,
            rt.settings.webhook_configuration,
        )

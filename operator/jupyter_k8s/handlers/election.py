"""Which replica reconciles: the one holding the Lease (JK_LEADER_ELECTION=on).

A standby keeps its watches and indexes warm and serves the admission webhook, but reconciles
nothing (the work queue is closed). Taking the lead is followed by one full pass, so nothing
that changed during the handover is missed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from ..core.runtime import Runtime
from ..kube import KubeError
from ..leader import LEASE_API, LeaseTerms, holder, next_lease, released
from ..metrics import LEADER

log = logging.getLogger(__name__)


def terms(rt: Runtime) -> LeaseTerms:
    s = rt.settings
    return LeaseTerms(s.lease_name, s.webhook_namespace, s.pod_name, s.lease_seconds)


async def elect_forever(rt: Runtime, full_pass: Callable[[], Awaitable[None]]) -> None:
    t = terms(rt)
    # A leader that cannot renew steps down before its Lease can expire for the others.
    renew_deadline = t.duration * 2 / 3
    renewed = 0.0
    standby_of = None
    while True:
        try:
            current = await rt.call(rt.kube.get, LEASE_API, "Lease", t.namespace, t.name)
            want = next_lease(current, t, datetime.now(UTC))
            if want is None:
                if rt.leading or standby_of != holder(current):
                    standby_of = holder(current)
                    _step_down(rt, f"standing by: {standby_of} holds Lease {t.namespace}/{t.name}")
            else:
                write = rt.kube.create if current is None else rt.kube.replace
                await rt.call(write, want)
                renewed = time.monotonic()
                if not rt.leading:
                    _take_lead(rt, t, full_pass)
        except KubeError as err:
            if err.status == 409:  # another replica wrote first: it holds the Lease now
                _step_down(rt, f"standing by: Lease {t.namespace}/{t.name} taken by another")
            else:
                _unreachable(rt, err, renewed, renew_deadline)
        except Exception as err:  # e.g. the API server restarting: keep trying, never die
            _unreachable(rt, err, renewed, renew_deadline)
        await asyncio.sleep(t.retry)


def _unreachable(rt: Runtime, err: Exception, renewed: float, deadline: float) -> None:
    log.warning("leader election: %s", err)
    if rt.leading and time.monotonic() - renewed > deadline:
        _step_down(rt, "stepping down: the Lease could not be renewed in time")


def _take_lead(rt: Runtime, t: LeaseTerms, full_pass: Callable[[], Awaitable[None]]) -> None:
    # What the last leader wrote is unknown here: forget our own old writes, look at all.
    rt.applier.clear()
    rt.statuses.clear()
    rt.leading = True
    LEADER.set(1)
    log.info("leading: holding Lease %s/%s as %s", t.namespace, t.name, t.identity)
    task = asyncio.ensure_future(full_pass())
    rt.tasks.add(task)
    task.add_done_callback(rt.tasks.discard)


def _step_down(rt: Runtime, why: str) -> None:
    rt.leading = False
    LEADER.set(0)
    log.info(why)


async def release(rt: Runtime) -> None:
    """On shutdown: give the Lease up, so the standby takes over at its next attempt."""
    if not rt.leading:
        return
    t = terms(rt)
    rt.leading = False
    try:
        current = await rt.call(rt.kube.get, LEASE_API, "Lease", t.namespace, t.name)
        given_up = released(current, t, datetime.now(UTC))
        if given_up is not None:
            await rt.call(rt.kube.replace, given_up)
            log.info("released Lease %s/%s", t.namespace, t.name)
    except KubeError as err:
        log.warning("releasing the Lease failed (the standby waits for it to expire): %s", err)

"""Leader election on a coordination.k8s.io Lease, so that two replicas run with exactly one
reconciling (both serve the admission webhook).

The rules are client-go's: a holder renews its Lease every `retry` seconds; another replica
takes it over once `renewTime + leaseDurationSeconds` has passed, or at once when the holder
released it on shutdown. Writes carry the resourceVersion read, so of two replicas racing for
an expired Lease exactly one wins (the other gets 409 Conflict)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LEASE_API = "coordination.k8s.io/v1"


@dataclass(frozen=True)
class LeaseTerms:
    name: str
    namespace: str
    identity: str
    duration: int = 15  # seconds a Lease stays valid without renewal
    retry: float = 2.0  # seconds between attempts (renewals included)


def micro_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def holder(lease: dict[str, Any] | None) -> str:
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def expired(lease: dict[str, Any], now: datetime, default_duration: int) -> bool:
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or default_duration)
    return renewed is None or now >= renewed + timedelta(seconds=duration)


def next_lease(
    current: dict[str, Any] | None, terms: LeaseTerms, now: datetime
) -> dict[str, Any] | None:
    """The Lease to write to take or keep the lead, or None while another holder's is valid."""
    stamp = micro_time(now)
    if current is None:
        return {
            "apiVersion": LEASE_API,
            "kind": "Lease",
            "metadata": {"name": terms.name, "namespace": terms.namespace},
            "spec": {
                "holderIdentity": terms.identity,
                "leaseDurationSeconds": terms.duration,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }
    spec = dict(current.get("spec") or {})
    mine = holder(current) == terms.identity
    if not mine and holder(current) and not expired(current, now, terms.duration):
        return None
    if not mine:
        spec["holderIdentity"] = terms.identity
        spec["acquireTime"] = stamp
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
    spec["renewTime"] = stamp
    spec["leaseDurationSeconds"] = terms.duration
    return {**_identity(current), "spec": spec}


def released(
    current: dict[str, Any] | None, terms: LeaseTerms, now: datetime
) -> dict[str, Any] | None:
    """The Lease given up on shutdown (so the other replica takes over at once), or None if it
    is not ours."""
    if current is None or holder(current) != terms.identity:
        return None
    spec = {
        **(current.get("spec") or {}),
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "renewTime": micro_time(now),
    }
    return {**_identity(current), "spec": spec}


def _identity(current: dict[str, Any]) -> dict[str, Any]:
    meta = current["metadata"]
    return {
        "apiVersion": LEASE_API,
        "kind": "Lease",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "resourceVersion": meta["resourceVersion"],
        },
    }

"""Writing what a plan wants, and no more: a workspace's children and its status.

A pass may run before the watch has delivered the previous pass's writes (events arrive in
bursts, and the queue re-runs a key as soon as anything about it changed). Both writers
therefore remember their last write until the watch brings it back, so that the same object
or status is never written twice, and so that the echo of our own write is recognised as such.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..child_kinds import BY_KIND, FOREGROUND_DELETE
from ..kube import Kube, KubeError
from ..reconcile.drift import APPLIED, contains
from .indexes import Seen
from .write_hold import WriteHold

WorkspaceKey = tuple[str, str]  # (namespace, name)
ChildRef = tuple[str, str]  # (kind, name)


class Write(Enum):
    """How a planned child is written. A new one is created (a POST: the API server spends
    about a quarter less on it than on an apply); an existing one is server-side applied,
    after its creator's fields are made the apply's own (kube/field_owners.py) if a POST of
    ours made it and no apply has claimed them yet."""

    CREATE = "create"
    APPLY = "apply"
    CLAIM_AND_APPLY = "claim and apply"


@dataclass
class Applier:
    """Writes a workspace's planned children (one field manager: created when new, else
    server-side applied, see `Write`), each only when the stored object lacks something of
    the plan and the same plan was not just written."""

    kube: Kube
    call: Callable[..., Awaitable[Any]]  # runs a blocking API call off the event loop
    # applied[workspace][(kind, name)] = (digest of the plan, the resourceVersion our apply
    # made or at which the stored object was found to hold the plan)
    applied: dict[WorkspaceKey, dict[ChildRef, tuple[str, int]]] = field(default_factory=dict)
    # The children being written right now, and the versions of their events that came
    # meanwhile (core/write_hold.py).
    holds: WriteHold[tuple[WorkspaceKey, ChildRef], tuple[ChildRef, int]] = field(
        default_factory=WriteHold
    )
    # What to do for a held event that was not our write's echo after all: a pass.
    on_news: Callable[[WorkspaceKey], None] = lambda key: None

    async def apply(
        self, key: WorkspaceKey, planned: Iterable[dict[str, Any]], seen: Mapping[ChildRef, Seen]
    ) -> int:
        """Write what differs; the number of objects written."""
        mine = self.applied.setdefault(key, {})
        wanted: list[tuple[dict[str, Any], Write]] = []
        for obj in planned:
            child = (obj["kind"], obj["metadata"]["name"])
            current = seen.get(child)
            # Every planned object carries the digest of itself (drift.stamped).
            digest = obj["metadata"]["labels"][APPLIED]
            last = mine.get(child)
            if last and last[0] == digest and (current is None or current.version <= last[1]):
                # Written or checked already at this version: either the watch has not
                # brought our write back yet, or nobody has changed it since.
                continue
            if current is not None and contains(current.body, obj):
                mine[child] = (digest, current.version)  # no need to look again until it changes
                continue
            if current is None:
                # Not seen: new (created), or written by us and not yet seen (claimed first:
                # that write may have been a create).
                how = Write.CREATE if last is None else Write.CLAIM_AND_APPLY
            else:
                how = Write.CLAIM_AND_APPLY if current.unclaimed else Write.APPLY
            wanted.append((obj, how))
        if not wanted:
            return 0
        # All in one trip to a worker thread (a new workspace has six children to write):
        # each hand-over costs about a third of what the request itself does.
        being_written = [(key, (o["kind"], o["metadata"]["name"])) for o, _ in wanted]
        self.holds.begin(being_written)
        try:
            done, failure = await self.call(self._write_all, wanted)
            for (obj, _), version in zip(wanted, done, strict=False):
                mine[(obj["kind"], obj["metadata"]["name"])] = (
                    obj["metadata"]["labels"][APPLIED],
                    version,
                )
        finally:
            self._release(key, being_written)
        if failure is not None:
            raise failure  # what was written before it is remembered
        return len(done)

    def hold(self, key: WorkspaceKey, body: Mapping[str, Any]) -> bool:
        """An event of a child we are writing right now: kept until the write answers, then
        dropped if it was the write's echo, or else a pass. True: held."""
        child = (body["kind"], body["metadata"]["name"])
        version = int(body["metadata"].get("resourceVersion") or -1)
        return self.holds.hold((key, child), (child, version))

    def _release(self, key: WorkspaceKey, written: list[tuple[WorkspaceKey, ChildRef]]) -> None:
        mine = self.applied.get(key, {})
        held = self.holds.end(written)
        if any(child not in mine or mine[child][1] != version for child, version in held):
            self.on_news(key)  # someone else's change came meanwhile (or our write failed)

    def _write_all(
        self, writes: list[tuple[dict[str, Any], Write]]
    ) -> tuple[list[int], Exception | None]:
        """In a worker thread: write in order until one fails; the resourceVersions written,
        and the failure."""
        versions: list[int] = []
        for obj, how in writes:
            try:
                done = self._write(obj, how)
            except Exception as err:  # handed back to the pass, and raised there
                return versions, err
            versions.append(int(done.get("metadata", {}).get("resourceVersion") or 0))
        return versions, None

    def _write(self, obj: dict[str, Any], how: Write) -> dict[str, Any]:
        if how is Write.CREATE:
            try:
                return self.kube.create(obj, metadata_only=True)
            except KubeError as err:
                if err.status != 409:
                    raise
                how = Write.CLAIM_AND_APPLY  # it exists after all (made meanwhile): apply
        if how is Write.CLAIM_AND_APPLY:
            self.kube.claim_fields(obj)
        return self.kube.apply(obj, metadata_only=True)

    async def delete(self, namespace: str, gone: Iterable[ChildRef]) -> None:
        for kind, name in gone:
            propagation = "Foreground" if kind in FOREGROUND_DELETE else "Background"
            await self.call(
                self.kube.delete, BY_KIND[kind].api_version, kind, namespace, name, propagation
            )

    def is_echo(self, key: WorkspaceKey, body: Mapping[str, Any]) -> bool:
        """The event carries exactly what our last write produced: nothing in it is new to
        us. Also for a child with a status: at that version its status is still what its
        controller wrote before, and each of the controller's own writes comes as an event
        of its own (a new claim's or Deployment's creation used to cost a pass that decided
        nothing)."""
        last = self.applied.get(key, {}).get((body["kind"], body["metadata"]["name"]))
        return last is not None and last[1] == int(body["metadata"].get("resourceVersion") or -1)

    def forget_child(self, key: WorkspaceKey, child: ChildRef) -> None:
        """It was deleted: whatever we wrote is gone, write it again if still wanted."""
        self.applied.get(key, {}).pop(child, None)

    def forget(self, key: WorkspaceKey) -> None:
        self.applied.pop(key, None)

    def clear(self) -> None:
        self.applied.clear()


@dataclass
class StatusCache:
    """Our last status write of each workspace (by UID) until the watch delivers it: the next
    pass plans from it instead of the older stored status, so that the same status (and its
    event) is not written twice, and the echo of the write reconciles nothing."""

    written: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # As the applier's: the workspaces (by UID) whose status is being written and their
    # events that came meanwhile, and what to do with one that is not our echo (its pass).
    holds: WriteHold[str, dict[str, Any]] = field(default_factory=WriteHold)
    on_news: Callable[[dict[str, Any]], None] = lambda obj: None

    def remember(self, uid: str, version: int, status: dict[str, Any]) -> None:
        self.written[uid] = (version, status)

    def begin(self, uid: str) -> None:
        self.holds.begin((uid,))

    def hold(self, obj: dict[str, Any]) -> bool:
        """A changed workspace whose status we are writing right now: kept until the write
        answers (`end`). True: held."""
        return self.holds.hold(obj["metadata"].get("uid", ""), obj)

    def end(self, uid: str) -> None:
        """The write answered (or failed): held events that were not its echo set off a pass,
        once, with the newest of them."""
        news = [obj for obj in self.holds.end((uid,)) if not self.delivered(obj["metadata"])]
        if news:
            self.on_news(news[-1])

    def latest(self, ws: Mapping[str, Any]) -> dict[str, Any]:
        """The status to plan from: ours while the watch has not caught up with it."""
        mine = self.written.get(ws["metadata"]["uid"])
        if mine and mine[0] > int(ws["metadata"].get("resourceVersion") or 0):
            return mine[1]
        return dict(ws.get("status") or {})

    def delivered(self, meta: Mapping[str, Any]) -> bool:
        """The watch brought this version of the workspace: whether it is the echo of our own
        write. Once the watch has our write (or a later version), the stored status is as new
        as ours and ours is dropped: nothing is held for a workspace at rest."""
        uid = meta.get("uid", "")
        mine = self.written.get(uid)
        if mine is None:
            return False
        version = int(meta.get("resourceVersion") or -1)
        if version >= mine[0]:
            del self.written[uid]
        return mine[0] == version

    def forget(self, uid: str) -> None:
        self.written.pop(uid, None)

    def clear(self) -> None:
        self.written.clear()

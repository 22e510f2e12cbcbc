"""The applier writes a child only when the plan wants something the stored object lacks, and
never the same thing twice while the watch has not brought the last write back; the status
cache does the same for the workspace's status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from jupyter_k8s.core.applier import Applier, StatusCache
from jupyter_k8s.core.indexes import Seen, trimmed
from jupyter_k8s.kube import KubeError
from jupyter_k8s.reconcile.drift import stamped

KEY = ("team-a", "lab")


class RecordingKube:
    def __init__(self) -> None:
        self.version = 100
        self.applied: list[dict[str, Any]] = []  # every object written, created or applied
        self.calls: list[tuple[str, str]] = []  # (create | claim | apply, name)
        self.deleted: list[tuple[Any, ...]] = []
        self.existing: set[str] = set()  # names a create finds taken

    def create(self, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        self.calls.append(("create", obj["metadata"]["name"]))
        if obj["metadata"]["name"] in self.existing:
            raise KubeError(409, "AlreadyExists", "exists")
        return self.written(obj)

    def claim_fields(self, obj: dict[str, Any]) -> None:
        self.calls.append(("claim", obj["metadata"]["name"]))

    def apply(self, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        self.calls.append(("apply", obj["metadata"]["name"]))
        return self.written(obj)

    def written(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.applied.append(obj)
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.version)}}

    def delete(self, *args: Any) -> None:
        self.deleted.append(args)


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def run(coro: Any) -> Any:
    loop = asyncio.new_event_loop()  # not asyncio.run: that unsets the loop Pulumi mocks need
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def service(port: int = 8888) -> dict[str, Any]:
    return stamped(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ws-lab", "namespace": "team-a", "labels": {"a": "b"}},
            "spec": {"ports": [{"port": port}]},
        }
    )


def seen(obj: dict[str, Any], version: int, unclaimed: bool = False, **extra: Any) -> Seen:
    body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(version)}, **extra}
    return Seen.of(
        trimmed(body),
        kind=obj["kind"],
        name=obj["metadata"]["name"],
        version=version,
        unclaimed=unclaimed,
    )


def test_a_missing_child_is_applied_once_until_its_watch_event_arrives() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    want = service()
    assert run(applier.apply(KEY, [want], {})) == 1
    # The next pass runs before the watch delivered it: not written again.
    assert run(applier.apply(KEY, [want], {})) == 0
    # The watch brings it (with fields the server added): nothing to do either.
    stored = seen(want, 101, status={"loadBalancer": {}})
    assert run(applier.apply(KEY, [want], {("Service", "ws-lab"): stored})) == 0
    assert len(kube.applied) == 1
    # That event is the echo of our own write; a later version is not.
    assert applier.is_echo(KEY, {**want, "metadata": {"name": "ws-lab", "resourceVersion": "101"}})
    assert not applier.is_echo(
        KEY, {**want, "metadata": {"name": "ws-lab", "resourceVersion": "102"}}
    )


def test_a_new_child_is_created_and_its_fields_claimed_before_its_first_apply() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    run(applier.apply(KEY, [service()], {}))
    assert kube.calls == [("create", "ws-lab")]
    # The watch brings it, made by our POST (fields not yet claimed); the plan changes: the
    # POST's fields become the apply's, so that the apply removes what is no longer wanted.
    made = seen(service(), 101, unclaimed=True)
    run(applier.apply(KEY, [service(port=7777)], {("Service", "ws-lab"): made}))
    assert kube.calls[1:] == [("claim", "ws-lab"), ("apply", "ws-lab")]
    # Claimed once: later changes are plain applies.
    claimed = seen(service(port=7777), 103)
    run(applier.apply(KEY, [service(port=6666)], {("Service", "ws-lab"): claimed}))
    assert kube.calls[3:] == [("apply", "ws-lab")]


def test_a_child_made_meanwhile_by_someone_else_is_applied() -> None:
    kube = RecordingKube()
    kube.existing.add("ws-lab")  # not seen yet, but there: the create is refused
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    assert run(applier.apply(KEY, [service()], {})) == 1
    assert kube.calls == [("create", "ws-lab"), ("claim", "ws-lab"), ("apply", "ws-lab")]


def test_a_changed_plan_before_the_watch_brought_our_create_claims_first() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    run(applier.apply(KEY, [service()], {}))
    run(applier.apply(KEY, [service(port=7777)], {}))  # the watch is behind
    assert kube.calls == [("create", "ws-lab"), ("claim", "ws-lab"), ("apply", "ws-lab")]


def test_drift_and_a_new_plan_are_applied_again() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    want = service()
    run(applier.apply(KEY, [want], {}))
    # Someone edited it after our write (a newer version without our port): repaired.
    edited = seen(service(port=9999), 105)
    assert run(applier.apply(KEY, [want], {("Service", "ws-lab"): edited})) == 1
    # The plan changed (another digest): written although the watch is behind.
    assert run(applier.apply(KEY, [service(port=7777)], {})) == 1
    assert [o["spec"]["ports"][0]["port"] for o in kube.applied] == [8888, 8888, 7777]


def test_a_deleted_child_is_written_again_and_forgetting_a_workspace_forgets_its_writes() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    want = service()
    run(applier.apply(KEY, [want], {}))
    applier.forget_child(KEY, ("Service", "ws-lab"))  # its DELETED event
    assert run(applier.apply(KEY, [want], {})) == 1
    applier.forget(KEY)
    assert KEY not in applier.applied


def test_a_failed_write_keeps_what_was_written_before_it() -> None:
    class FailingSecond(RecordingKube):
        fail = True

        def written(self, obj: dict[str, Any]) -> dict[str, Any]:
            if obj["metadata"]["name"] == "second" and self.fail:
                raise RuntimeError("quota")
            return super().written(obj)

    kube = FailingSecond()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    objs = [
        stamped({**service(), "metadata": {**service()["metadata"], "name": name}})
        for name in ("first", "second", "third")
    ]
    try:
        run(applier.apply(KEY, objs, {}))
        raise AssertionError("the failure must reach the pass (it retries with backoff)")
    except RuntimeError as err:
        assert str(err) == "quota"
    assert [o["metadata"]["name"] for o in kube.applied] == ["first"]
    kube.fail = False
    # The retry writes what is still missing, not the one already written.
    assert run(applier.apply(KEY, objs, {})) == 2
    assert [o["metadata"]["name"] for o in kube.applied] == ["first", "second", "third"]


def test_deletes_use_the_kinds_propagation() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    run(applier.delete("team-a", [("Deployment", "ws-lab"), ("Ingress", "ws-lab")]))
    assert kube.deleted == [
        ("apps/v1", "Deployment", "team-a", "ws-lab", "Foreground"),
        ("networking.k8s.io/v1", "Ingress", "team-a", "ws-lab", "Background"),
    ]


def test_the_status_cache_plans_from_our_last_write_until_the_watch_delivers_it() -> None:
    cache = StatusCache()
    ws = {"metadata": {"uid": "u1", "resourceVersion": 10}, "status": {"phase": "Starting"}}
    assert cache.latest(ws) == {"phase": "Starting"}
    cache.remember("u1", 12, {"phase": "Running"})
    assert cache.latest(ws) == {"phase": "Running"}, "the watch is behind: ours counts"
    assert not cache.delivered({"uid": "u1", "resourceVersion": "11"}), "an older version"
    assert cache.latest(ws) == {"phase": "Running"}, "still behind"
    assert cache.delivered({"uid": "u1", "resourceVersion": "12"}), "the echo of our write"
    echoed = {"metadata": {"uid": "u1", "resourceVersion": 12}, "status": {"phase": "Running"}}
    assert cache.latest(echoed) == {"phase": "Running"}
    assert not cache.written, "nothing is held once the watch has our write"
    cache.forget("u1")  # a deleted workspace: no error when nothing is held


def test_a_newer_write_by_anyone_replaces_ours() -> None:
    cache = StatusCache()
    cache.remember("u1", 12, {"phase": "Running"})
    newer = {"metadata": {"uid": "u1", "resourceVersion": 13}, "status": {"phase": "Stopping"}}
    assert cache.latest(newer) == {"phase": "Stopping"}
    assert not cache.delivered({"uid": "u1", "resourceVersion": "13"}), "not our write"
    assert not cache.written, "and ours is dropped: the watch is past it"


def test_a_version_found_to_hold_the_plan_is_not_decoded_again() -> None:
    kube = RecordingKube()
    applier = Applier(kube, _call)  # type: ignore[arg-type]
    want = service()
    stored = seen(want, 7, status={"loadBalancer": {}})  # as found after a restart
    assert run(applier.apply(KEY, [want], {("Service", "ws-lab"): stored})) == 0
    assert applier.applied[KEY][("Service", "ws-lab")][1] == 7
    # The same version again (another child's event): not even looked at.
    unreadable = Seen(b"not json", None, "Service", "ws-lab", False, 7)
    assert run(applier.apply(KEY, [want], {("Service", "ws-lab"): unreadable})) == 0
    assert not kube.applied


def test_children_are_kept_compact_and_read_back_whole() -> None:
    body = {"kind": "Service", "metadata": {"name": "ws-lab"}, "spec": {"ports": [{"port": 1}]}}
    kept = Seen.of(body, kind="Service", name="ws-lab", version=3)
    assert isinstance(kept.packed, bytes) and kept.body == body


def test_children_of_one_kind_pack_small_against_the_first_one_seen() -> None:
    def deployment(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"ws-{name}", "labels": {"workspace": name}},
            "spec": {
                "replicas": 1,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "workspace",
                                "image": "ghcr.io/jupyter-k8s/jupyterlab:0.1.0",
                                "args": ["jupyter", "lab", f"--ServerApp.base_url=/{name}/"],
                                "securityContext": {"allowPrivilegeEscalation": False},
                                "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}},
                            }
                        ]
                    }
                },
            },
        }

    Seen.of(deployment("first"), kind="Deployment", name="ws-first")
    body = deployment("second-one")
    kept = Seen.of(body, kind="Deployment", name="ws-second-one")
    assert kept.body == body
    assert len(kept.packed) * 3 < len(json.dumps(body)), "a third of its JSON at most"


def test_what_other_controllers_write_on_a_child_sets_off_no_pass() -> None:
    """A Deployment's revision, a claim's binding bookkeeping: no pass reads them, none runs
    for them; the claim's phase moving to Bound does set one off."""
    from jupyter_k8s.child_kinds import DEPLOYMENT, PVC
    from jupyter_k8s.core.indexes import ChildIndex

    labels = {"workspace.jupyter.org/workspace-name": "lab"}

    def obj(kind: str, version: int, annotations: dict[str, str], **rest: Any) -> dict[str, Any]:
        meta = {"name": "ws-lab", "namespace": "team-a", "labels": labels}
        # As the server sends them: no annotations, no map (not an empty one).
        noted = {"annotations": annotations} if annotations else {}
        return {
            "kind": kind,
            "metadata": {**meta, "resourceVersion": str(version), **noted},
            **rest,
        }

    deployments = ChildIndex(DEPLOYMENT)
    assert deployments.apply("ADDED", obj("Deployment", 1, {}, spec={"replicas": 1})) == KEY
    revised = obj("Deployment", 2, {"deployment.kubernetes.io/revision": "1"}, spec={"replicas": 1})
    assert deployments.apply("MODIFIED", revised) is None
    edited = obj("Deployment", 3, {"deployment.kubernetes.io/revision": "1"}, spec={"replicas": 0})
    assert deployments.apply("MODIFIED", edited) == KEY, "a change to what we wrote"

    claims = ChildIndex(PVC)
    pending, spec = {"phase": "Pending"}, {"resources": {"requests": {"storage": "1Gi"}}}
    claim = obj("PersistentVolumeClaim", 1, {}, spec=spec, status=pending)
    assert claims.apply("ADDED", claim) == KEY
    provisioning = {"volume.kubernetes.io/storage-provisioner": "rancher.io/local-path"}
    assert (
        claims.apply(
            "MODIFIED", obj("PersistentVolumeClaim", 2, provisioning, spec=spec, status=pending)
        )
        is None
    )
    bound = obj(
        "PersistentVolumeClaim",
        3,
        {**provisioning, "pv.kubernetes.io/bind-completed": "yes"},
        spec={**spec, "volumeName": "pv-1"},
        status=pending,
    )
    assert claims.apply("MODIFIED", bound) is None
    bound["status"] = {"phase": "Bound"}
    assert claims.apply("MODIFIED", bound) == KEY


def test_the_echo_that_comes_before_the_write_answers_sets_off_nothing() -> None:
    """The watch often brings our write back before the write's own answer (whose version
    tells an echo): such events wait for it. Our echo is then dropped; anything else (another
    version: someone's change in between) sets off one pass."""
    kube = RecordingKube()
    news: list[Any] = []
    arriving: list[int] = []  # the versions of the events that come while writing

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        for version in arriving:  # the watch thread's events, on the loop meanwhile
            event = {"kind": "Service", "metadata": {"name": "ws-lab", "resourceVersion": version}}
            assert applier.hold(KEY, event), "held while being written"
        return fn(*args)

    applier = Applier(kube, call, on_news=news.append)  # type: ignore[arg-type]
    arriving[:] = [101]  # the version our write makes
    assert run(applier.apply(KEY, [service()], {})) == 1
    assert news == [] and applier.holds.idle
    other = {"kind": "Service", "metadata": {"name": "ws-lab", "resourceVersion": "101"}}
    assert not applier.hold(KEY, other), "not being written: decided as usual"
    arriving[:] = [102, 103]  # someone's change in between (102), then our write's echo (103)
    kube.version = 102
    run(applier.apply(KEY, [service(port=1)], {}))
    assert news == [KEY]


def test_a_status_echo_that_comes_before_the_write_answers_sets_off_nothing() -> None:
    """As for children: a workspace event that comes while its status is being written waits
    for the write's version; our echo is dropped (and nothing stays held), anything newer
    sets off one pass, with the newest event."""
    news: list[dict[str, Any]] = []
    cache = StatusCache(on_news=news.append)

    def event(version: int) -> dict[str, Any]:
        return {"metadata": {"uid": "u1", "resourceVersion": str(version)}}

    assert not cache.hold(event(11)), "no write under way: decided at once"
    cache.begin("u1")
    assert cache.hold(event(12))
    cache.remember("u1", 12, {"phase": "Running"})
    cache.end("u1")
    assert news == [] and not cache.written and cache.holds.idle
    cache.begin("u1")
    assert cache.hold(event(14)) and cache.hold(event(15))  # ours is 13: a write after it
    cache.remember("u1", 13, {"phase": "Stopping"})
    cache.end("u1")
    assert news == [event(15)]

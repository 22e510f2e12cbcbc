"""What the operator's POST set becomes its apply's own before its first apply (so that the
apply removes a field the plan stopped wanting); other managers' fields are left alone."""

from __future__ import annotations

from typing import Any

from jupyter_k8s.child_kinds import SERVICE
from jupyter_k8s.core.indexes import seen
from jupyter_k8s.kube.field_owners import created_by, folded_into_apply

ME = "jupyter-k8s"


def entry(manager: str, operation: str, fields: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        **rest,
    }


SPEC_A = {"f:spec": {"f:a": {}}}
SPEC_B = {"f:spec": {"f:b": {}}}


def test_what_our_post_set_becomes_our_applied_fields() -> None:
    created = [entry(ME, "Update", SPEC_A), entry("kube-controller-manager", "Update", SPEC_B)]
    assert created_by(created, ME)
    assert folded_into_apply(created, ME) == [
        entry(ME, "Apply", SPEC_A),
        entry("kube-controller-manager", "Update", SPEC_B),
    ]


def test_an_apply_entry_that_exists_gets_the_union_of_both() -> None:
    both = [entry(ME, "Apply", SPEC_B, time="t1"), entry(ME, "Update", SPEC_A, time="t0")]
    assert folded_into_apply(both, ME) == [
        entry(ME, "Apply", {"f:spec": {"f:a": {}, "f:b": {}}}, time="t1")
    ]


def test_nothing_to_fold_for_an_object_made_by_an_apply_or_by_someone_else() -> None:
    assert folded_into_apply([entry(ME, "Apply", SPEC_A)], ME) is None
    assert folded_into_apply([entry("kubectl", "Update", SPEC_A)], ME) is None
    # A status write of ours is the subresource's, not the object's fields.
    status = [entry(ME, "Update", {"f:status": {}}, subresource="status")]
    assert not created_by(status, ME) and folded_into_apply(status, ME) is None
    assert folded_into_apply(None, ME) is None


def test_the_index_knows_which_children_our_post_made() -> None:
    def service(managed: list[dict[str, Any]]) -> dict[str, Any]:
        meta = {"name": "ws-lab", "namespace": "team-a", "managedFields": managed}
        return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {}}

    assert seen(SERVICE, service([entry(ME, "Update", SPEC_A)])).unclaimed
    assert not seen(SERVICE, service([entry(ME, "Apply", SPEC_A)])).unclaimed

"""Rules the API server itself enforces on every write, whether or not the operator runs:
ValidatingAdmissionPolicies (CEL, with `authorizer` checks against RBAC), generated with the CRDs.

Who counts as what:
- the **owner** is the user in the `workspace.jupyter.org/created-by` annotation, stamped at
  creation from the request's authenticated user (by the operator's webhook, or by the user
  themself when the webhook is not installed: the policy checks it equals their name);
- an **admin** is anyone RBAC allows the request's verb (`update`, `delete`) on the subresource
  `workspaces/owner`: cluster-admin, the namespace and garbage-collection controllers (their
  roles have wildcards), or a role that lists `workspaces/owner` explicitly;
- **sharing** a workspace is the RBAC verb `share` on `workspaces/<name>`; the operator grants it
  to the owner (Role `ws-<name>-owner`), admins hold it through their roles.

A namespace is **governed** when it carries the annotation `workspace.jupyter.org/allowed-templates`
(the Pulumi stack sets it on every team namespace): its workspaces must name one of those
templates (the operator's webhook fills in `workspace.jupyter.org/default-template` when none is
named). Anywhere, a workspace without a template may name an execution profile only when an
admin creates or edits it.
"""

from __future__ import annotations

from typing import Any

from .common import GROUP
from .workspace import OWNER_ANNOTATION

SHARE_VERB = "share"
OWNER_SUBRESOURCE = "owner"
# RBAC `update` on workspaces/idle-stop (the operator has it) lets a non-owner make exactly one
# change: a running workspace's desiredStatus to Stopped, nothing else of its spec.
IDLE_STOP_SUBRESOURCE = "idle-stop"
# Namespace annotations of governed (team) namespaces.
DEFAULT_TEMPLATE_ANNOTATION = f"{GROUP}/default-template"
ALLOWED_TEMPLATES_ANNOTATION = f"{GROUP}/allowed-templates"
# The workspace a share was admitted for, by UID: a later workspace of the same name gets nothing.
SHARE_WORKSPACE_UID_ANNOTATION = f"{GROUP}/workspace-uid"

ADMISSION_API = "admissionregistration.k8s.io/v1"
LABELS = {"app.kubernetes.io/part-of": "jupyter-k8s"}


def _annotation(obj: str, key: str) -> str:
    """CEL: the annotation `key` of `obj` (object / oldObject / namespaceObject), or ''."""
    return (
        f"{obj} != null && has({obj}.metadata.annotations) && "
        f"'{key}' in {obj}.metadata.annotations ? {obj}.metadata.annotations['{key}'] : ''"
    )


# The workspace's name: a DeleteCollection (how a namespace is emptied) has none in the
# request, only in each object it deletes.
_NAME = (
    "request.operation == 'DELETE' ? oldObject.metadata.name : "
    "(has(object.metadata.name) ? object.metadata.name : '')"
)


def _admin(verb: str) -> str:
    return (
        f"authorizer.group('{GROUP}').resource('workspaces').subresource('{OWNER_SUBRESOURCE}')"
        f".namespace(request.namespace).name(variables.name).check({verb}).allowed()"
    )


def _rule(resource: str, *operations: str) -> dict[str, Any]:
    return {
        "apiGroups": [GROUP],
        "apiVersions": ["*"],
        "operations": list(operations),
        # The main resource only: the operator writes status through /status.
        "resources": [resource],
    }


def _policy(
    name: str,
    rules: list[dict[str, Any]],
    variables: dict[str, str],
    validations: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """A policy and the binding that puts it in force everywhere, denying what it rejects."""
    full = f"{name}.{GROUP}"
    return [
        {
            "apiVersion": ADMISSION_API,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": full, "labels": dict(LABELS)},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": rules},
                "variables": [{"name": k, "expression": v} for k, v in variables.items()],
                "validations": validations,
            },
        },
        {
            "apiVersion": ADMISSION_API,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": full, "labels": dict(LABELS)},
            "spec": {"policyName": full, "validationActions": ["Deny"]},
        },
    ]


def _only_stopped() -> str:
    """CEL: this update turns desiredStatus from Running to Stopped and changes no other spec
    field (each field of the API model compared, so a new field is covered when regenerated)."""
    from .workspace import WorkspaceSpec

    same = [
        f"has(object.spec.{f}) == has(oldObject.spec.{f}) && "
        f"(!has(object.spec.{f}) || object.spec.{f} == oldObject.spec.{f})"
        for f in WorkspaceSpec.model_fields
        if f != "desiredStatus"
    ]
    return " && ".join(
        [
            "request.operation == 'UPDATE'",
            "has(oldObject.spec.desiredStatus) && oldObject.spec.desiredStatus == 'Running'",
            "has(object.spec.desiredStatus) && object.spec.desiredStatus == 'Stopped'",
            *(f"({s})" for s in same),
        ]
    )


def workspace_ownership() -> list[dict[str, Any]]:
    return _policy(
        "workspace-ownership",
        [_rule("workspaces", "CREATE", "UPDATE", "DELETE")],
        {
            "name": _NAME,
            "user": "request.userInfo.username",
            "owner": _annotation("oldObject", OWNER_ANNOTATION),
            "claimed": _annotation("object", OWNER_ANNOTATION),
            "admin": _admin("request.operation == 'DELETE' ? 'delete' : 'update'"),
            # The idle culler's stop (handlers/culling.py): allowed to whoever RBAC lets
            # update workspaces/idle-stop, for that one change only.
            "idleStop": f"{_only_stopped()} && authorizer.group('{GROUP}').resource('workspaces')"
            f".subresource('{IDLE_STOP_SUBRESOURCE}').namespace(request.namespace)"
            ".name(variables.name).check('update').allowed()",
        },
        [
            {
                "expression": "request.operation != 'CREATE' || variables.claimed == variables.user"
                " || variables.admin",
                "messageExpression": f"variables.claimed == '' ? 'the {OWNER_ANNOTATION} "
                "annotation is missing: the jupyter-k8s operator stamps it (is it running?), or "
                "set it to your own user name, ' + variables.user : 'only an admin may create a "
                "workspace on behalf of ' + variables.claimed + ': remove the "
                f"{OWNER_ANNOTATION} annotation (you, ' + variables.user + ', become the owner)'",
                "reason": "Forbidden",
            },
            {
                "expression": "request.operation == 'CREATE' || variables.owner == variables.user"
                " || variables.admin || variables.idleStop",
                "messageExpression": "'only the owner of workspace ' + variables.name + ' (' + "
                "(variables.owner == '' ? 'nobody recorded' : variables.owner) + ') or an admin "
                "may change, stop, start, expose or delete it; you are ' + variables.user",
                "reason": "Forbidden",
            },
            {
                "expression": "request.operation != 'UPDATE' || variables.claimed == variables.owner"
                " || variables.admin",
                "messageExpression": f"'the {OWNER_ANNOTATION} annotation records who created "
                "the workspace; only an admin may change it (it is ' + variables.owner + ')'",
                "reason": "Forbidden",
            },
        ],
    )


def workspace_governance() -> list[dict[str, Any]]:
    allowed = _annotation("namespaceObject", ALLOWED_TEMPLATES_ANNOTATION)
    default = _annotation("namespaceObject", DEFAULT_TEMPLATE_ANNOTATION)
    return _policy(
        "workspace-governance",
        [_rule("workspaces", "CREATE", "UPDATE")],
        {
            "name": _NAME,
            "allowed": f"({allowed}).split(',').map(t, t.trim()).filter(t, t != '')",
            "default": default,
            "template": "has(object.spec.templateRef) ? object.spec.templateRef : ''",
            "admin": _admin("'update'"),
        },
        [
            {
                "expression": "request.operation != 'CREATE' || size(variables.allowed) == 0 || "
                "variables.template in variables.allowed",
                "messageExpression": "(variables.template == '' ? 'spec.templateRef is required "
                "in namespace ' + request.namespace : 'spec.templateRef: template ' + "
                "variables.template + ' is not allowed in namespace ' + request.namespace) + "
                "'; use one of: ' + variables.allowed.join(', ') + (variables.default == '' ? '' "
                ": ' (the default, ' + variables.default + ', is filled in when the jupyter-k8s "
                "operator runs)')",
                "reason": "Invalid",
            },
            {
                "expression": "variables.template != '' || !has(object.spec.executionProfileRef)"
                " || (request.operation == 'UPDATE' && has(oldObject.spec.executionProfileRef) &&"
                " oldObject.spec.executionProfileRef == object.spec.executionProfileRef)"
                " || variables.admin",
                "message": "spec.executionProfileRef: without a template only an admin may choose "
                "an execution profile; use a template that allows the profile (its "
                "allowedExecutionProfiles)",
                "reason": "Forbidden",
            },
        ],
    )


def share_authority() -> list[dict[str, Any]]:
    uid = _annotation("object", SHARE_WORKSPACE_UID_ANNOTATION)
    return _policy(
        "share-authority",
        [_rule("workspaceshares", "CREATE", "UPDATE")],
        {
            "user": "request.userInfo.username",
            "uid": uid,
            "oldUid": _annotation("oldObject", SHARE_WORKSPACE_UID_ANNOTATION),
            "mayShare": f"authorizer.group('{GROUP}').resource('workspaces')"
            ".namespace(request.namespace).name(object.spec.workspaceName)"
            f".check('{SHARE_VERB}').allowed()",
        },
        [
            {
                "expression": "variables.mayShare",
                "messageExpression": "'only the owner of workspace ' + object.spec.workspaceName "
                "+ ' or an admin may share it (RBAC verb share on workspaces/' + "
                "object.spec.workspaceName + '); you are ' + variables.user",
                "reason": "Forbidden",
            },
            {
                "expression": "request.operation != 'CREATE' || variables.uid != ''",
                "message": f"the {SHARE_WORKSPACE_UID_ANNOTATION} annotation is missing: the "
                "jupyter-k8s operator's webhook records which workspace a share is for; is the "
                "operator running?",
                "reason": "Forbidden",
            },
            {
                "expression": "request.operation != 'UPDATE' || variables.uid == variables.oldUid",
                "message": f"the {SHARE_WORKSPACE_UID_ANNOTATION} annotation is immutable: a "
                "share stays bound to the workspace it was created for",
                "reason": "Forbidden",
            },
        ],
    )


def admission_policies() -> list[dict[str, Any]]:
    return [*workspace_ownership(), *workspace_governance(), *share_authority()]

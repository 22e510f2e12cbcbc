"""Turn the pydantic models into CustomResourceDefinitions (apiextensions.k8s.io/v1).

Pydantic emits JSON Schema; Kubernetes wants a *structural* OpenAPI v3 schema: every node typed,
no `$ref`, no `anyOf` except for int-or-string, no `title`, optional fields simply absent
instead of nullable. This module does that translation and nothing else.
"""

from __future__ import annotations

from typing import Any

from .common import VERSION
from .kind import KindDef

# JSON Schema keywords that structural schemas keep as they are.
_KEPT = (
    "type",
    "format",
    "description",
    "default",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        # Keywords next to a $ref (description, default) win over the target's.
        return {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _strip_null(node: dict[str, Any]) -> dict[str, Any]:
    """`X | None` arrives as anyOf[X, null]: optional fields are simply left out in Kubernetes."""
    options = node.get("anyOf")
    if options is None:
        return node
    non_null = [o for o in options if o.get("type") != "null"]
    if len(non_null) == len(options):
        return node  # a real anyOf (int-or-string)
    if len(non_null) != 1:
        raise ValueError(f"unsupported union in schema: {options}")
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    return {**non_null[0], **rest}


def structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Convert one pydantic JSON-schema node into a structural OpenAPI v3 node."""
    # `Model | None` arrives as anyOf[$ref, null]: resolve, unwrap, and resolve what was inside.
    node = _strip_null(_resolve(_strip_null(_resolve(node, defs)), defs))
    out: dict[str, Any] = {}
    if node.get("x-kubernetes-int-or-string"):
        out["x-kubernetes-int-or-string"] = True
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    for key in _KEPT:
        if key in node and not (key == "default" and node[key] is None):
            out[key] = node[key]
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {
            name: structural(sub, defs) for name, sub in node["properties"].items()
        }
        if node.get("required"):
            out["required"] = list(node["required"])
    elif isinstance(node.get("additionalProperties"), dict):
        out["type"] = "object"
        out["additionalProperties"] = structural(node["additionalProperties"], defs)
    if "items" in node:
        out["items"] = structural(node["items"], defs)
    for key, value in node.items():
        if key.startswith("x-kubernetes-") and key != "x-kubernetes-int-or-string":
            out[key] = value
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise ValueError(f"schema node without a type: {node}")
    return out


def _object_schema(model: Any) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return structural(schema, schema.get("$defs", {}))


def openapi_schema(kind: KindDef) -> dict[str, Any]:
    spec = _object_schema(kind.spec)
    spec["description"] = f"Desired state of the {kind.kind}."
    if kind.spec_rules:
        spec.setdefault("x-kubernetes-validations", [])
        spec["x-kubernetes-validations"] = list(kind.spec_rules) + spec["x-kubernetes-validations"]
    status = _object_schema(kind.status)
    status["description"] = f"Observed state of the {kind.kind}, written by the operator."
    root: dict[str, Any] = {
        "description": kind.description,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "Versioned schema of this object: workspace.jupyter.org/v1alpha1.",
            },
            "kind": {"type": "string", "description": f"Always {kind.kind}."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if kind.object_rules:
        root["x-kubernetes-validations"] = list(kind.object_rules)
    return root


def crd_manifest(kind: KindDef) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind, as a plain dict."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/part-of": "jupyter-k8s"},
        },
        "spec": {
            "group": kind.crd_name.split(".", 1)[1],
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.manifest() for c in kind.columns],
                    "schema": {"openAPIV3Schema": openapi_schema(kind)},
                }
            ],
        },
    }

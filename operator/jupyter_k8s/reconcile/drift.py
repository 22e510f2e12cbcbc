"""Does an object in the cluster still carry everything we want it to? (drift detection)

Desired manifests are compared with the live object as a subset: fields the server defaults
or other controllers add are ignored, quantities compare by value ("0.5" == "500m"). A subset
check cannot see a field we stopped wanting (a limit or an annotation dropped): every object
we apply is therefore stamped with a digest of itself, which changes whenever what we want does.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..api.common import quantity_value


def _same_scalar(want: Any, have: Any) -> bool:
    if want == have:
        return True
    if isinstance(want, str | int) and isinstance(have, str | int) and not isinstance(want, bool):
        try:
            return bool(quantity_value(str(want)) == quantity_value(str(have)))
        except ValueError:
            return False
    return False


def contains(have: Any, want: Any) -> bool:
    """True when every field of `want` is present in `have` with the same value."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        return all(k in have and contains(have[k], v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(contains(h, w) for h, w in zip(have, want, strict=True))
        )
    return _same_scalar(want, have)


# On every object the operator applies: a digest of what it applied (see the module's doc).
# A label, not an annotation: a Deployment's generation moves with its annotations, and a new
# generation reads as "rollout in progress" until the controller has looked at it.
APPLIED = "workspace.jupyter.org/applied"


def stamped(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with the digest of its own content in its labels."""
    # orjson: the same bytes as json.dumps(sort_keys=True, separators=(",", ":"),
    # ensure_ascii=False) (a test holds it to that: a changed digest re-applies every object).
    digest = hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    meta = obj["metadata"]
    return {**obj, "metadata": {**meta, "labels": {**(meta.get("labels") or {}), APPLIED: digest}}}

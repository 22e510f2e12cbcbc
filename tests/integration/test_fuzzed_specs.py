"""Hostile specs against the real API server and the operator (issue 19, fuzzed input).

Hypothesis generates Workspace, WorkspaceTemplate, WorkspaceShare and WorkspaceExecutionProfile
specs (huge and odd strings, unicode, extreme quantities, wrong types, unknown fields). Each is
either refused by the API server with a message naming a field, or stored and then given a
status whose every condition has a reason and a message; afterwards nothing keeps writing (no
hot loop) and the operator is still healthy.

Seeded and bounded for `make test` (JK_FUZZ_EXAMPLES per kind, default 25; JK_FUZZ_SEED);
`make fuzz N=500` runs longer with a random seed, printed for reproduction."""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.support.fixtures import Operator, workspace_manifest
from tests.support.kube import Kubectl, eventually

pytestmark = pytest.mark.integration
API = "workspace.jupyter.org/v1alpha1"
EXAMPLES = int(os.environ.get("JK_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("JK_FUZZ_SEED", "20261201"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- hostile values -----------------------------------------------------------------------

ODD = st.sampled_from(
    [
        "",
        " ",
        "*",
        "..",
        "../../etc/passwd",
        "system:masters",
        "JUPYTER_K8S_USER",
        "a" * 64,
        "a" * 254,
        "x" * 5000,
        "Ünïcödé-☃-名前",
        "line\nbreak",
        "-leading-dash",
        "UPPER",
        "0000-01-01T00:00:00Z",
        "2030-01-01T00:00:00+25:00",
        "2999-12-31T23:59:59Z",
    ]
)
TEXT = st.one_of(ODD, st.text(max_size=40), st.text(min_size=200, max_size=2000))
NAMEISH = st.one_of(ODD, st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))
GOOD_QUANTITY = st.sampled_from(["100m", "1", "2", "128Mi", "256Mi", "1Gi", "2Gi", "5Gi"])
BAD_QUANTITY = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1e100",
            "0.0000001m",
            "1m",
            "1.5Gi",
            "99999999999999999999Ei",
            "1Pi",
            "abc",
            "1 Gi",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    TEXT,
)
QUANTITY = st.one_of(GOOD_QUANTITY, GOOD_QUANTITY, BAD_QUANTITY)
IMAGE = st.one_of(st.just("ghcr.io/jupyter-k8s/jupyterlab:0.1.0"), TEXT)
INSTANT = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
    TEXT,
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
ANY = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMEISH, inner, max_size=3),
    max_leaves=6,
)


def hostile(
    specs: st.SearchStrategy[dict[str, Any]], fields: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly well-typed specs; one in four with one field of any type, or an unknown one."""
    broken = st.tuples(specs, st.sampled_from([*fields, "unknownField"]), ANY).map(
        lambda t: {**t[0], t[1]: t[2]}
    )
    return st.one_of(specs, specs, specs, broken)


RESOURCES = st.fixed_dictionaries(
    {},
    optional={
        "requests": st.dictionaries(
            st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "bogus"]), QUANTITY, max_size=3
        ),
        "limits": st.dictionaries(
            st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "bogus"]), QUANTITY, max_size=3
        ),
    },
)
ENV = st.lists(st.fixed_dictionaries({"name": (NAMEISH)}, optional={"value": (TEXT)}), max_size=3)


def workspace_specs(template: str) -> st.SearchStrategy[dict[str, Any]]:
    return hostile(_workspace_specs(template), ["templateRef", "image", "resources", "storage"])


def _workspace_specs(template: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "templateRef": (st.sampled_from([template, "missing-template"]) | NAMEISH),
            "displayName": (TEXT),
            "image": IMAGE,
            "desiredStatus": (st.sampled_from(["Running", "Stopped", "Paused", ""])),
            "accessType": (st.sampled_from(["Private", "Public", "Everyone"])),
            "resources": (RESOURCES),
            "storage": (
                st.fixed_dictionaries({}, optional={"size": (QUANTITY), "mountPath": (TEXT)})
            ),
            "env": (ENV),
            "executionProfileRef": (NAMEISH),
        },
    )


_TEMPLATE_SPECS = st.fixed_dictionaries(
    {
        "displayName": (TEXT),
        "defaultImage": IMAGE,
        "primaryStorage": (
            st.fixed_dictionaries(
                {},
                optional={
                    "defaultSize": (QUANTITY),
                    "minSize": (QUANTITY),
                    "maxSize": (QUANTITY),
                },
            )
        ),
    },
    optional={
        "appType": (st.sampled_from(["jupyterlab", "code-server", "rstudio"])),
        "allowedImages": (st.lists(TEXT, max_size=3)),
        "defaultResources": (RESOURCES),
        "resourceBounds": (
            st.dictionaries(
                st.sampled_from(["cpu", "memory", "bogus"]),
                st.fixed_dictionaries({}, optional={"min": QUANTITY, "max": QUANTITY}),
                max_size=2,
            )
        ),
        "env": (ENV),
    },
)

TEMPLATE_SPECS = hostile(
    _TEMPLATE_SPECS, ["displayName", "defaultImage", "primaryStorage", "resourceBounds"]
)

SUBJECT = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["User", "Group", "ServiceAccount", "User", "Robot"]),
        "name": st.one_of(st.sampled_from(["alice", "bob", "data-team"]), TEXT),
    },
    optional={"namespace": NAMEISH},
)
_SHARE_SPECS = st.fixed_dictionaries(
    {
        "workspaceName": st.one_of(st.just("target"), st.just("target"), NAMEISH),
        "subjects": st.lists(SUBJECT, min_size=1, max_size=3),
    },
    optional={"expiresAt": INSTANT},
)

SHARE_SPECS = hostile(_SHARE_SPECS, ["workspaceName", "subjects", "expiresAt"])

WORD = st.one_of(NAMEISH, st.just("*"))
_PROFILE_SPECS = st.fixed_dictionaries(
    {},
    optional={
        "serviceAccount": (
            st.fixed_dictionaries(
                {},
                optional={
                    "annotations": (st.dictionaries(TEXT, TEXT, max_size=3)),
                    "automountToken": (st.booleans()),
                },
            )
        ),
        "rules": (
            st.lists(
                st.fixed_dictionaries(
                    {
                        "resources": (st.lists(WORD, max_size=3)),
                        "verbs": (st.lists(WORD, max_size=3)),
                    },
                    optional={"apiGroups": (st.lists(WORD, max_size=2))},
                ),
                max_size=3,
            )
        ),
        "clusterRoles": (st.lists(NAMEISH, max_size=3)),
    },
)

PROFILE_SPECS = hostile(_PROFILE_SPECS, ["serviceAccount", "rules", "clusterRoles"])

# --- the checks -----------------------------------------------------------------------------


class Run:
    """What the API server did with each generated object."""

    def __init__(self, kubectl: Kubectl, kind: str, namespace: str | None) -> None:
        self.kubectl, self.kind, self.namespace = kubectl, kind, namespace
        run_id = uuid.uuid4().hex[:5]  # cluster-scoped kinds outlive a test's namespace
        self.names = (f"fz-{run_id}-{i}" for i in itertools.count())
        self.accepted: dict[str, Any] = {}
        self.refused = 0
        self.reasons: Counter[str] = Counter()

    def submit(self, spec: Any) -> None:
        name = next(self.names)
        body = {"apiVersion": API, "kind": self.kind, "metadata": {"name": name}, "spec": spec}
        ns = ["-n", self.namespace] if self.namespace else []
        res = self.kubectl.run("create", *ns, "-f", "-", stdin=json.dumps(body), check=False)
        if res.returncode == 0:
            self.accepted[name] = spec
            return
        self.refused += 1
        message = res.stderr.strip()
        self.reasons[message.splitlines()[-1][:160]] += 1
        shown = json.dumps(spec)[:300]
        assert message, f"refused without a message: {shown}"
        # The message says where: a field path, or the admission check that refused it.
        assert any(
            word in message for word in ("spec", "metadata", "denied the request", "Forbidden")
        ), f"refused without naming the field: {message[:500]}\nspec: {shown}"

    def statuses(self) -> dict[str, dict[str, Any]]:
        ns = ["-n", self.namespace] if self.namespace else []
        out = self.kubectl.run("get", self.kind.lower(), *ns, "-o", "json").stdout
        return {
            o["metadata"]["name"]: o
            for o in json.loads(out)["items"]
            if o["metadata"]["name"] in self.accepted
        }

    def settle(self, condition_type: str) -> None:
        """Every stored object gets that condition; every condition has a reason and a
        message; then nothing changes for a while."""

        def unreported() -> list[str]:
            found = self.statuses()
            return [
                n
                for n in self.accepted
                if not any(
                    c.get("type") == condition_type
                    for c in (found.get(n) or {}).get("status", {}).get("conditions") or []
                )
            ]

        try:
            eventually(lambda: not unreported(), timeout=120, interval=1)
        except AssertionError:
            missing = unreported()
            shown = {n: self.accepted[n] for n in missing[:3]}
            raise AssertionError(
                f"{len(missing)} {self.kind}(s) without a {condition_type} condition after "
                f"120 s: {json.dumps(shown)[:1500]}"
            ) from None
        settled = self.statuses()
        for name, obj in settled.items():
            for cond in obj["status"]["conditions"]:
                assert cond.get("reason") and cond.get("message"), (
                    f"{self.kind} {name}: condition without a reason or message: {cond}\n"
                    f"spec: {json.dumps(self.accepted[name])[:300]}"
                )
        # No hot loop: a status that keeps changing means endless writes.
        before = {n: o["metadata"]["resourceVersion"] for n, o in self.statuses().items()}
        time.sleep(6)
        after = {n: o["metadata"]["resourceVersion"] for n, o in self.statuses().items()}
        churning = {n for n in before if after.get(n) != before[n]}
        # A workspace still starting (kwok moves its pod to Running) may legitimately change once.
        if churning:
            time.sleep(6)
            again = {n: o["metadata"]["resourceVersion"] for n, o in self.statuses().items()}
            churning = {n for n in churning if again.get(n) != after.get(n)}
        latest = self.statuses()
        assert not churning, (
            f"{self.kind}s still being rewritten: "
            + json.dumps({n: (latest.get(n) or {}).get("status") for n in sorted(churning)[:2]})[
                :2000
            ]
        )
        print(f"\n{self.kind}: {len(self.accepted)} stored, {self.refused} refused")
        for reason, n in self.reasons.most_common(4):
            print(f"  {n} x {reason}")


def fuzz(strategy: st.SearchStrategy[Any], submit: Callable[[Any], None]) -> None:
    @seed(SEED)
    @SETTINGS
    @given(strategy)
    def run(spec: Any) -> None:
        submit(spec)

    run()


def test_hostile_workspaces_are_refused_or_explained(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    run = Run(kubectl, "Workspace", namespace)
    fuzz(workspace_specs(template), run.submit)
    run.settle("Valid")
    assert operator.healthy()


def test_hostile_templates_are_refused_or_explained_by_their_workspaces(
    kubectl: Kubectl, operator: Operator, namespace: str
) -> None:
    run = Run(kubectl, "WorkspaceTemplate", None)
    try:
        fuzz(TEMPLATE_SPECS, run.submit)
        # A stored template is judged where it is used: a workspace of each gets Valid.
        users = Run(kubectl, "Workspace", namespace)
        for name in run.accepted:
            users.submit({"templateRef": name})
        run_names = set(run.accepted)
        users.settle("Valid")
        assert len(users.accepted) == len(run_names)
    finally:
        kubectl.run(
            "delete", "workspace", "--all", "-n", namespace, "--wait=true", "--timeout=120s"
        )
        for name in run.accepted:
            kubectl.run("delete", "workspacetemplate", name, "--wait=false", check=False)
    assert operator.healthy()


def test_hostile_shares_are_refused_or_explained(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("target", template), namespace)
    run = Run(kubectl, "WorkspaceShare", namespace)
    fuzz(SHARE_SPECS, run.submit)
    run.settle("Active")
    assert operator.healthy()


def test_hostile_execution_profiles_are_refused_or_explained(
    kubectl: Kubectl, operator: Operator
) -> None:
    run = Run(kubectl, "WorkspaceExecutionProfile", None)
    try:
        fuzz(PROFILE_SPECS, run.submit)
        run.settle("Valid")
    finally:
        for name in run.accepted:
            kubectl.run("delete", "workspaceexecutionprofile", name, "--wait=false", check=False)
    assert operator.healthy()


def test_a_share_naming_no_workspace_is_refused_with_a_message(
    kubectl: Kubectl, operator: Operator, namespace: str
) -> None:
    """Found by the fuzzer: an empty name made the share webhook read the whole workspace list
    and answer "'uid'"; a name with a slash reached another path of the API."""
    for name in ("", "target/status", "../x", "UPPER"):
        body = {
            "apiVersion": API,
            "kind": "WorkspaceShare",
            "metadata": {"name": f"odd-{uuid.uuid4().hex[:6]}"},
            "spec": {"workspaceName": name, "subjects": [{"kind": "User", "name": "bob"}]},
        }
        res = kubectl.run("create", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
        assert res.returncode != 0 and "spec.workspaceName" in res.stderr, res.stderr
        assert "'uid'" not in res.stderr

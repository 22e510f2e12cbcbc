"""Run the Pulumi program under mocks (no CLI, no cluster) and record what it declares."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra.config import parse
from infra.program import build

TLS_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SECRETS = {
    "oauth2ProxyCookieSecret": "c" * 32,
    "oauth2ProxyClientSecret": "client-secret-value",
    "tlsCertificate": TLS_CERT,
    "tlsKey": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    "proxySecretKey": "proxy-key-value",
}
STATIC_USER = {
    "email": "alice@example.com",
    "username": "alice",
    "passwordHash": "$2b$10$abcdefghijklmnopqrstuv",
}
TEAMS = [{"name": "team-a", "users": ["alice@example.com"]}, {"name": "team-b", "groups": ["data"]}]


@dataclass
class Declared:
    typ: str
    name: str
    inputs: dict[str, Any]
    secret_keys: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str:
        return self.inputs.get("kind") or self.typ.rsplit(":", 1)[-1]


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Declared] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Declared(args.typ, args.name, dict(args.inputs)))
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":  # the program's generated secrets
            outputs = {k: f"generated-{k}" if v is None else v for k, v in outputs.items()}
        if args.typ.startswith("aws:iam/"):
            outputs.setdefault("arn", f"arn:aws:iam::123456789012:role/{args.name}")
            outputs.setdefault("name", args.name)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append(args.token)
        if args.token == "aws:eks/getCluster:getCluster":
            return {
                "name": args.args.get("name"),
                "endpoint": "https://ABC.gr7.us-west-2.eks.amazonaws.com",
                "certificateAuthorities": [{"data": "Q0FDRVJU"}],
                "identities": [
                    {"oidcs": [{"issuer": "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"}]}
                ],
            }
        return {}


def guided(target: str = "kind", **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mode": "guided",
        "target": target,
        "domain": "ws.example.com",
        "dex": {"staticUsers": [STATIC_USER]}
        if target != "eks"
        else {"github": {"clientId": "gh", "orgs": ["acme"]}},
        "teams": TEAMS,
        **SECRETS,
    }
    raw.update(extra)
    return raw


def customized(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mode": "customized",
        "target": "kind",
        "domain": "ws.corp.example",
        "customized": {
            "ingressClassName": "nginx",
            "authUrl": "https://sso.corp.example/oauth2/auth",
            "signInUrl": "https://sso.corp.example/oauth2/start",
            "authorizationUrl": "https://authz.corp.example/authorize",
            "templates": ["corp-python-v3"],
        },
    }
    raw.update(extra)
    return raw


def declare(raw: dict[str, Any]) -> list[Declared]:
    """Everything the program declares for this stack config."""
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="jupyter-k8s", stack="test", preview=False)
    cfg, secrets = parse(json.loads(json.dumps(raw)))

    @pulumi.runtime.test
    def program() -> pulumi.Output[int]:
        build(cfg, secrets)
        return pulumi.Output.from_input(1)

    program()
    return recorder.resources


def of_kind(resources: list[Declared], kind: str) -> list[Declared]:
    return [r for r in resources if r.kind == kind]


def named(
    resources: list[Declared], kind: str, name: str, namespace: str | None = None
) -> Declared:
    for r in of_kind(resources, kind):
        meta = r.inputs.get("metadata") or {}
        if meta.get("name") == name and (namespace is None or meta.get("namespace") == namespace):
            return r
    raise AssertionError(
        f"no {kind} {namespace}/{name} among {[(r.kind, r.inputs.get('metadata', {}).get('name')) for r in resources]}"
    )


def pod_specs(resources: list[Declared]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.inputs["metadata"]["name"], r.inputs["spec"]["template"]["spec"])
        for r in of_kind(resources, "Deployment")
    ]

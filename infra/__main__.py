"""Pulumi entry point (Pulumi.yaml: main: infra/)."""

from infra.program import run

run()

"""Every image the stack deploys, pinned to a tag (a test fails on an unpinned one)."""

from __future__ import annotations

from jupyter_k8s.deploy.settings import DEFAULT_IMAGE

OPERATOR = DEFAULT_IMAGE  # the authorization service runs from the same image
JUPYTERLAB = "ghcr.io/jupyter-k8s/jupyterlab:0.1.0"
JUPYTERLAB_GPU = "ghcr.io/jupyter-k8s/jupyterlab-gpu:0.1.0"
CODE_SERVER = "ghcr.io/jupyter-k8s/code-server:0.1.0"
TRAEFIK = "docker.io/library/traefik:v3.1.6"
OAUTH2_PROXY = "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1"
DEX = "ghcr.io/dexidp/dex:v2.41.1"

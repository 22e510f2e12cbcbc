"""Every image the stack deploys, pinned to a tag (a test fails on an unpinned one).

Guided mode's platform (Traefik, oauth2-proxy, Dex) comes from the upstream registries by
default; `platformImages: local` takes the same releases built on this machine by `make images`
(for a cluster that cannot pull, like the local one), with hack/tools.py's versions.
"""

from __future__ import annotations

from jupyter_k8s.deploy.settings import DEFAULT_IMAGE

OPERATOR = DEFAULT_IMAGE  # the authorization service runs from the same image
JUPYTERLAB = "ghcr.io/jupyter-k8s/jupyterlab:0.1.0"
JUPYTERLAB_GPU = "ghcr.io/jupyter-k8s/jupyterlab-gpu:0.1.0"
CODE_SERVER = "ghcr.io/jupyter-k8s/code-server:0.1.0"
TRAEFIK = "docker.io/library/traefik:v3.6.15"
OAUTH2_PROXY = "quay.io/oauth2-proxy/oauth2-proxy:v7.15.6"
DEX = "ghcr.io/dexidp/dex:v2.45.1"
# The same releases built here (hack/images.py PLATFORM; a test keeps the two equal).
LOCAL = {
    TRAEFIK: "localhost/jupyter-k8s/traefik:v3.6.15",
    OAUTH2_PROXY: "localhost/jupyter-k8s/oauth2-proxy:v7.15.6",
    DEX: "localhost/jupyter-k8s/dex:v2.45.1",
}


def platform(image: str, source: str) -> str:
    """`image` from where the stack's `platformImages` says: upstream or local."""
    return LOCAL[image] if source == "local" else image

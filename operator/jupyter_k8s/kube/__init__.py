"""The operator's only door to the API server (everything else is pure)."""

from .client import Kube, KubeError

__all__ = ["Kube", "KubeError"]

#!/usr/bin/env bash
# Recipes for the local cluster's real node, besides kubelet and kube-proxy (hack/build-k8s.sh
# node). Called by hack/tools.py, which owns versions, the cache and the atomic rename: each
# recipe builds into $OUT using $WORK as scratch.
#
#   containerd   containerd, containerd-shim-runc-v2, ctr   (github.com/containerd/containerd/v2)
#   coredns      cluster DNS for the real node's pods       (github.com/coredns/coredns)
#   pause        the pod sandbox binary                     (hack/pause, standard library only)
set -euo pipefail
: "${OUT:?set by hack/tools.py}" "${WORK:?set by hack/tools.py}"
here=$(cd "$(dirname "$0")" && pwd)

case "${1:-}" in
  containerd)
    : "${CONTAINERD_VERSION:?}"
    # Its go.mod has no replace directives, so `go install pkg@version` builds it as released.
    GOBIN="$OUT/bin" go install -trimpath -ldflags "-s -w" \
      "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
      "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
      "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
    "$OUT/bin/containerd" --version ;;
  coredns)
    : "${COREDNS_VERSION:?}"
    GOBIN="$OUT/bin" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
    "$OUT/bin/coredns" -version ;;
  pause)
    mkdir -p "$OUT/bin"
    (cd "$here/pause" && go build -trimpath -ldflags "-s -w" -o "$OUT/bin/pause" .) ;;
  *) echo "usage: OUT=... WORK=... $0 containerd|coredns|pause (run through hack/tools.py)" >&2; exit 2 ;;
esac

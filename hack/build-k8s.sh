#!/usr/bin/env bash
# Build the local control plane's binaries from published Go modules (no container engine, no
# GitHub releases): kube-apiserver, kube-controller-manager, kube-scheduler from k8s.io/kubernetes,
# etcd from go.etcd.io/etcd/server/v3, kwok from sigs.k8s.io/kwok.
# Binaries land in a cache outside the repository keyed by version and are built only when missing.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
# kubectl is built with the server so client and server versions match exactly.
KUBE_BINS="kube-apiserver kube-controller-manager kube-scheduler kubectl"
CACHE="${JK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-k8s}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -modcacherw -buildvcs=false"

log() { printf '[build-k8s] %s\n' "$*" >&2; }

build_kube() {
  local out="$CACHE/kube-$KUBE_VERSION"
  local b missing=0
  for b in $KUBE_BINS; do [ -x "$out/bin/$b" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  log "building Kubernetes $KUBE_VERSION (cold: ~20-30 min on 2 cores)"
  local sv="v0.${KUBE_VERSION#v1.}" minor work gomod
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  work="$out/src"; rm -rf "$work"; mkdir -p "$work" "$out/bin"; cd "$work"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
          python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging;
  # a dependency's replaces are ignored, so the wrapper pins each to its published tag.
  {
    echo "module local/k8s-bins"; echo
    echo "go $(awk '$1=="go"{print $2; exit}' "$gomod")"
    grep -m1 '^godebug ' "$gomod" || true
    echo; echo "require k8s.io/kubernetes $KUBE_VERSION"; echo
    echo "replace ("
    awk -v sv="$sv" '/=> \.\/staging\/src\//{print "\t" $1 " => " $1 " " sv}' "$gomod"
    echo ")"
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy
  local bd ld p
  bd=$(date -u +%Y-%m-%dT%H:%M:%SZ); ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$bd"
  done
  local pkgs=()
  for b in $KUBE_BINS; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  go build -trimpath -ldflags "$ld" -o "$out/bin.tmp/" "${pkgs[@]}"
  mv "$out/bin.tmp/"* "$out/bin/"; rmdir "$out/bin.tmp"
  "$out/bin/kube-apiserver" --version
}

build_etcd() {
  local out="$CACHE/etcd-$ETCD_VERSION"
  [ -x "$out/bin/etcd" ] && return 0
  log "building etcd $ETCD_VERSION"
  rm -rf "$out/src"; mkdir -p "$out/src" "$out/bin"; cd "$out/src"
  printf 'module local/etcd-bin\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
  "$out/bin/etcd" --version | head -1
}

build_kwok() {
  local out="$CACHE/kwok-$KWOK_VERSION"
  [ -x "$out/bin/kwok" ] && [ -s "$out/stages.yaml" ] && return 0
  log "building kwok $KWOK_VERSION"
  mkdir -p "$out/bin"
  GOBIN="$out/bin.tmp" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$out/bin.tmp/kwok" "$out/bin/kwok"; rmdir "$out/bin.tmp"
  # kwok >= 0.8 has no built-in stages: take the published "fast" set (nodes Ready with
  # lease heartbeats, pods Ready/Completed/deleted) from the same module.
  local src f
  src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
        python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')/kustomize/stage
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$src/$f"
  done > "$out/stages.yaml"
  "$out/bin/kwok" --version 2>/dev/null | head -1 || true
}

what="${1:-all}"
case "$what" in
  all) build_etcd; build_kwok; build_kube ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  paths)
    echo "KUBE_BIN=$CACHE/kube-$KUBE_VERSION/bin"
    echo "ETCD_BIN=$CACHE/etcd-$ETCD_VERSION/bin"
    echo "KWOK_BIN=$CACHE/kwok-$KWOK_VERSION/bin"
    echo "KWOK_STAGES=$CACHE/kwok-$KWOK_VERSION/stages.yaml" ;;
  *) echo "usage: $0 [all|kube|etcd|kwok|paths]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Recipes for the local cluster's binaries, from published Go modules (no container engine, no
# GitHub releases). Called by hack/tools.py, which owns versions, the cache and the atomic
# rename: each recipe builds into $OUT (a temporary directory) using $WORK as scratch.
#
#   kube   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   node   kubelet, kube-proxy                                               (k8s.io/kubernetes)
#   etcd   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok   kwok and its published "fast" stages                              (sigs.k8s.io/kwok)
set -euo pipefail
: "${OUT:?set by hack/tools.py}" "${WORK:?set by hack/tools.py}"
: "${KUBE_VERSION:?}" "${ETCD_VERSION:?}" "${KWOK_VERSION:?}"

# A wrapper module around k8s.io/kubernetes, built with version stamps, for the given commands.
build_kubernetes() {
  local sv="v0.${KUBE_VERSION#v1.}" minor gomod b
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  cd "$WORK"
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
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
    printf ')\n'
  } > tools.go
  go mod tidy
  local bd ld p pkgs=()
  bd=$(date -u +%Y-%m-%dT%H:%M:%SZ); ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$bd"
  done
  for b in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  mkdir -p "$OUT/bin"
  go build -trimpath -ldflags "$ld" -o "$OUT/bin/" "${pkgs[@]}"
  "$OUT/bin/$1" --version
}

build_etcd() {
  cd "$WORK"
  printf 'module local/etcd-bin\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy
  mkdir -p "$OUT/bin"
  go build -trimpath -ldflags "-s -w" -o "$OUT/bin/etcd" go.etcd.io/etcd/server/v3
  # Its first line only, without `| head` (which ends the pipe early: SIGPIPE under pipefail).
  "$OUT/bin/etcd" --version | sed -n 1p
}

build_kwok() {
  GOBIN="$OUT/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok >= 0.8 has no built-in stages: take the published "fast" set (nodes Ready with
  # lease heartbeats, pods Ready/Completed/deleted) from the same module.
  local src f
  src=$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
        python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')/kustomize/stage
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$src/$f"
  done > "$OUT/stages.yaml"
}

case "${1:-}" in
  kube) build_kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
  node) build_kubernetes kubelet kube-proxy ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  *) echo "usage: OUT=... WORK=... $0 kube|node|etcd|kwok (run through hack/tools.py)" >&2; exit 2 ;;
esac

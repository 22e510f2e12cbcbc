#!/usr/bin/env bash
# Build the Pulumi CLI and the Kubernetes resource provider from published Go modules
# (get.pulumi.com and GitHub releases are out of reach here).
#
# No Python language host: its module (sdk/python/cmd/pulumi-language-python) is a nested module
# the proxy here does not serve. The stack runs through the Automation API instead, whose
# inline programs serve the language runtime from the Python process itself (infra/cli.py).
# Binaries land in a cache outside the repository keyed by version, built only when missing.
#
#   hack/build-pulumi.sh [all|cli|kubernetes|paths]
set -euo pipefail

PULUMI_VERSION="${PULUMI_VERSION:-v3.274.1}"
# The only provider/v4 version the module proxy serves is this master commit (2026-01-15 03:34:56Z).
# PyPI carries the SDK built from the very same commit, pulumi-kubernetes==4.25.0a1768448096,
# whose plugin request is 4.25.0-alpha.1768448096: stamping that version means no skew at all.
K8S_PROVIDER_MODULE_VERSION="${K8S_PROVIDER_MODULE_VERSION:-v4.0.0-20260115033456-f47bc2d6f199}"
K8S_PROVIDER_VERSION="${K8S_PROVIDER_VERSION:-4.25.0-alpha.1768448096}"
K8S_SDK_VERSION="${K8S_SDK_VERSION:-v4.22.2}"
CACHE="${JK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-k8s}"
CLI_DIR="$CACHE/pulumi-$PULUMI_VERSION"
K8S_DIR="$CACHE/pulumi-kubernetes-$K8S_PROVIDER_VERSION"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -modcacherw -buildvcs=false"

log() { printf '[build-pulumi] %s\n' "$*" >&2; }
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

build_cli() {
  [ -x "$CLI_DIR/bin/pulumi" ] && return 0
  log "building the Pulumi CLI $PULUMI_VERSION"
  local work="$CLI_DIR/src" pkgmod
  rm -rf "$work"; mkdir -p "$work" "$CLI_DIR/bin"; cd "$work"
  pkgmod=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" | json_field 'd["GoMod"]')
  {
    printf 'module local/pulumi-bins\n\ngo 1.26\n\nrequire (\n'
    printf '\tgithub.com/pulumi/pulumi/pkg/v3 %s\n' "$PULUMI_VERSION"
    # pkg requires sdk through "=> ../sdk"; a dependency's replaces are ignored, so pin it.
    printf '\tgithub.com/pulumi/pulumi/sdk/v3 %s\n)\n\n' "$PULUMI_VERSION"
    # ... and copy pkg's non-local replace directives.
    go mod edit -json "$pkgmod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if new.get("Version"):
        print("replace", r["Old"]["Path"], "=>", new["Path"], new["Version"])'
    printf '\ntool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi\n'
  } > go.mod
  go mod tidy
  local ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ld" -o "$CLI_DIR/bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$CLI_DIR/bin/pulumi.tmp" "$CLI_DIR/bin/pulumi"
  "$CLI_DIR/bin/pulumi" version
}

build_kubernetes() {
  [ -x "$K8S_DIR/bin/pulumi-resource-kubernetes" ] && return 0
  log "building pulumi-resource-kubernetes $K8S_PROVIDER_VERSION ($K8S_PROVIDER_MODULE_VERSION)"
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4 src work="$K8S_DIR/src"
  mkdir -p "$K8S_DIR/bin"; rm -rf "$work"; mkdir -p "$work"
  src=$(cd "$work" && go mod download -json "$mod@$K8S_PROVIDER_MODULE_VERSION" | json_field 'd["Dir"]')
  cp -r "$src" "$work/provider"; chmod -R u+w "$work/provider"; cd "$work/provider"
  # Its go.mod replaces pulumi-kubernetes/sdk/v4 with ../sdk, outside the module zip, and the
  # proxy serves no sdk/v4 at that commit. The provider uses only the SDK's Go resource types
  # (yaml/helm/kustomize components); v4.22.2 is the newest served release whose pulumi/sdk
  # requirement (3.153.1) keeps pkg and sdk at the provider's own v3.215.0. (v4.29.0 drags
  # sdk to 3.226 against pkg 3.215 and does not compile.)
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_SDK_VERSION"
  go mod tidy
  # main.go embeds schema-embed.json and terraform-mapping-embed.json, generated files that
  # the module zip leaves out: regenerate them from the committed sources.
  (cd cmd/pulumi-resource-kubernetes && python3 - "$K8S_PROVIDER_VERSION" <<'PY'
import json, sys
schema = json.load(open("schema.json"))
schema["version"] = sys.argv[1]
json.dump(schema, open("schema-embed.json", "w"), separators=(",", ":"))
json.dump(json.load(open("terraform-mapping.json")), open("terraform-mapping-embed.json", "w"), separators=(",", ":"))
PY
  )
  go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
    -o "$K8S_DIR/bin/pulumi-resource-kubernetes.tmp" ./cmd/pulumi-resource-kubernetes
  mv "$K8S_DIR/bin/pulumi-resource-kubernetes.tmp" "$K8S_DIR/bin/pulumi-resource-kubernetes"
  log "built $K8S_DIR/bin/pulumi-resource-kubernetes"
}

case "${1:-all}" in
  all) build_cli; build_kubernetes ;;
  cli) build_cli ;;
  kubernetes) build_kubernetes ;;
  paths)
    echo "PULUMI_BIN=$CLI_DIR/bin"
    echo "K8S_PROVIDER_BIN=$K8S_DIR/bin"
    echo "K8S_PROVIDER_VERSION=$K8S_PROVIDER_VERSION" ;;
  *) echo "usage: $0 [all|cli|kubernetes|paths]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Recipes for the Pulumi CLI and the Kubernetes resource provider, from published Go modules
# (get.pulumi.com and GitHub releases are out of reach here). Called by hack/tools.py, which owns
# versions, the cache and the atomic rename: each recipe builds into $OUT using $WORK as scratch.
#
# No Python language host: its module (sdk/python/cmd/pulumi-language-python) is a nested module
# the proxy here does not serve. The stack runs through the Automation API instead, whose
# inline programs serve the language runtime from the Python process itself (infra/cli.py).
#
#   cli          the pulumi CLI                 (github.com/pulumi/pulumi/pkg/v3)
#   kubernetes   pulumi-resource-kubernetes     (github.com/pulumi/pulumi-kubernetes/provider/v4)
set -euo pipefail
: "${OUT:?set by hack/tools.py}" "${WORK:?set by hack/tools.py}"
: "${PULUMI_VERSION:?}" "${K8S_PROVIDER_MODULE_VERSION:?}" "${K8S_PROVIDER_VERSION:?}" "${K8S_SDK_VERSION:?}"

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

build_cli() {
  local pkgmod
  cd "$WORK"
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
  mkdir -p "$OUT/bin"
  local ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ld" -o "$OUT/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  "$OUT/bin/pulumi" version
}

build_kubernetes() {
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4 src
  src=$(cd "$WORK" && go mod download -json "$mod@$K8S_PROVIDER_MODULE_VERSION" | json_field 'd["Dir"]')
  cp -r "$src" "$WORK/provider"; chmod -R u+w "$WORK/provider"; cd "$WORK/provider"
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
  mkdir -p "$OUT/bin"
  go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
    -o "$OUT/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}

case "${1:-}" in
  cli) build_cli ;;
  kubernetes) build_kubernetes ;;
  *) echo "usage: OUT=... WORK=... $0 cli|kubernetes (run through hack/tools.py)" >&2; exit 2 ;;
esac

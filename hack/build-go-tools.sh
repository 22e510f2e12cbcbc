#!/usr/bin/env bash
# Recipes for the command-line tools the tests drive, from published Go modules. Called by
# hack/tools.py, which owns versions, the cache and the atomic rename: each recipe builds into
# $OUT (a temporary directory).
#
#   helm       helm, for make helm-test                       (helm.sh/helm/v3)
#   promtool   promtool, checks the generated alerting rules  (github.com/prometheus/prometheus)
set -euo pipefail
: "${OUT:?set by hack/tools.py}" "${WORK:?set by hack/tools.py}"

case "${1:-}" in
  helm)
    : "${HELM_VERSION:?}"
    GOBIN="$OUT/bin" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    "$OUT/bin/helm" version --short ;;
  promtool)
    : "${PROMETHEUS_MODULE_VERSION:?}"
    GOBIN="$OUT/bin" go install -trimpath -ldflags "-s -w" \
      "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
    "$OUT/bin/promtool" check rules /dev/null >/dev/null 2>&1 || true ;;
  *) echo "usage: OUT=... WORK=... $0 helm|promtool (run through hack/tools.py)" >&2; exit 2 ;;
esac

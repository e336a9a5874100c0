#!/usr/bin/env bash
# Renders every kustomize overlay of deploy/kubernetes (kubectl kustomize) and validates
# each object against the Kubernetes v1.33.0 API schemas, and checks deploy/compose.yaml
# against the Compose Specification schema; fails on any error. The checks are the tests
# test/deploy-kubernetes.test.ts and test/deploy-compose.test.ts (part of `npm test` too).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v kubectl >/dev/null || {
  echo "kubectl is needed to render the overlays (it has kustomize built in)" >&2
  exit 1
}
for overlay in deploy/kubernetes/overlays/*/; do
  echo "$overlay: $(kubectl kustomize "$overlay" | grep -c '^kind:') objects"
done
CI="${CI:-true}" npx vitest run test/deploy-kubernetes.test.ts test/deploy-compose.test.ts

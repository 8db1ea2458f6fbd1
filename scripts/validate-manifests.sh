#!/usr/bin/env bash
# Renders every kustomize overlay under deploy/kubernetes/overlays and validates it strictly (unknown
# fields are errors) against the oldest and the newest Kubernetes versions it supports. Needs kubectl
# and `pip install kubernetes-validate`.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=(1.29.0 1.37.0)
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
# As a module: pip's console script may not be on PATH (pyenv shims) right after the install.
validate() { python3 -m kubernetes_validate "$@"; }
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
    echo "kubernetes-validate not found: pip install kubernetes-validate" >&2
    exit 2
fi
for overlay in deploy/kubernetes/overlays/*/; do
    name=$(basename "$overlay")
    kubectl kustomize "$overlay" > "$rendered/$name.yaml"
    for version in "${versions[@]}"; do
        validate --strict --quiet -k "$version" "$rendered/$name.yaml"
    done
    echo "manifests: $name renders and validates (--strict, Kubernetes ${versions[*]})"
done

#!/usr/bin/env bash
# The in-cluster performance gate with kubectl alone: runs one overlay as a Job with a given image,
# waits for it, prints the verdict (shard 0's log), rebuilds the reports and JUnit from the results
# the Job left on S3, and exits with the Job's verdict (0 passed, 1 failed, 2 bad input, 3 invalid,
# 4 the run could not happen or the Job never finished).
#
#   scripts/k8s-gate.sh OVERLAY IMAGE NAME [SETTING=value ...]
#
#   OVERLAY  a kustomize folder, e.g. deploy/kubernetes/overlays/baseline, or your own on top of one
#   IMAGE    the image to run, e.g. 111122223333.dkr.ecr.us-west-2.amazonaws.com/infergate:sha-1a2b3c
#   NAME     unique per run (the Job is infergate-NAME), e.g. pr42-9876543210-1
#   SETTING  INFERGATE_* settings for this run, e.g. INFERGATE_BASELINE=s3://perf-baselines/infergate
#
# Variables: NAMESPACE (benchmarking), TIMEOUT (seconds, 7500), OUT (perf-reports), RENDER_ONLY
# (print the manifests it would apply, and stop), INFERGATE (the infergate binary that merges the
# results; without it they are not fetched and the verdict is the pod's exit code alone). Needs
# kubectl with access to the namespace, and AWS credentials for the results bucket to merge.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,17p' "$0"; exit 2; }
overlay=$1 image=$2 name=$3
shift 3
namespace=${NAMESPACE:-benchmarking}
timeout=${TIMEOUT:-7500}
out=${OUT:-perf-reports}
job=infergate-$name
say() { echo "[k8s-gate] $*" >&2; }

# A kustomization over the overlay: this run's image, name and settings.
dir=$(mktemp -d "${TMPDIR:-/tmp}/infergate-gate.XXXXXX")
trap 'rm -rf "$dir"' EXIT
{
    echo "resources: [$(realpath --relative-to="$dir" "$overlay")]"
    echo "images:"
    echo "  - {name: ghcr.io/infergate/infergate, newName: ${image%:*}, newTag: ${image##*:}}"
    if [ $# -gt 0 ]; then
        echo "configMapGenerator:"
        echo "  - name: infergate-settings"
        echo "    behavior: merge"
        echo "    literals:"
        for setting in "$@"; do echo "      - $setting"; done
    fi
    echo "patches:"
    echo "  - target: {kind: Job}"
    echo "    patch: '[{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"$job\"}]'"
} >"$dir/kustomization.yaml"
kubectl kustomize "$dir" >"$dir/rendered.yaml"
if [ -n "${RENDER_ONLY:-}" ]; then
    cat "$dir/rendered.yaml"
    exit 0
fi
kubectl apply -n "$namespace" -f "$dir/rendered.yaml" >&2
say "job/$job applied; waiting up to ${timeout}s"

# Wait for Complete or Failed (kubectl wait takes one condition), bounded by TIMEOUT.
deadline=$((SECONDS + timeout))
while :; do
    state=$(kubectl get job "$job" -n "$namespace" \
        -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
    case " $state " in *" Complete "* | *" Failed "*) break ;; esac
    if [ $SECONDS -ge $deadline ]; then
        say "job/$job did not finish within ${timeout}s"
        exit 4
    fi
    sleep 10
done

indexed=$(kubectl get job "$job" -n "$namespace" -o jsonpath='{.spec.completionMode}')
selector=job-name=$job
[ "$indexed" = Indexed ] && selector=$selector,batch.kubernetes.io/job-completion-index=0
kubectl logs -n "$namespace" -l "$selector" --tail=-1 || true
code=$(kubectl get pods -n "$namespace" -l "$selector" --sort-by=.metadata.creationTimestamp \
    -o jsonpath='{range .items[*]}{.status.containerStatuses[0].state.terminated.exitCode}{"\n"}{end}' | tail -1)
say "job/$job: ${state% } (shard 0 exited ${code:-without a code})"

# The reports and JUnit, rebuilt from what the Job left under its uid.
uid=$(kubectl get job "$job" -n "$namespace" -o jsonpath='{.metadata.uid}')
settings=$(grep -o 'name: infergate-settings-[a-z0-9]*' "$dir/rendered.yaml" | head -1 | cut -d' ' -f2)
rendezvous=$(kubectl get configmap "$settings" -n "$namespace" -o jsonpath='{.data.INFERGATE_RENDEZVOUS}')
baseline=$(kubectl get configmap "$settings" -n "$namespace" -o jsonpath='{.data.INFERGATE_BASELINE}')
args=$(kubectl get job "$job" -n "$namespace" -o jsonpath='{.spec.template.spec.containers[0].args[1]}')
if [[ "$args" == *.yaml || "$args" == *.yml ]]; then
    scenarios=$(basename "${args%.*}")
else
    map=$(grep -o 'name: infergate-scenarios-[a-z0-9]*' "$dir/rendered.yaml" | head -1 | cut -d' ' -f2)
    # shellcheck disable=SC2016 # a Go template, not a shell expansion
    scenarios=$(kubectl get configmap "$map" -n "$namespace" \
        -o go-template='{{range $k, $v := .data}}{{$k}}{{"\n"}}{{end}}' | sed -n 's/\.ya\?ml$//p')
fi
if [ -n "${INFERGATE:-}" ] && [ -n "$rendezvous" ]; then
    flags=()
    for s in $scenarios; do flags+=(--scenario "$s"); done
    set +e
    INFERGATE_BASELINE=$baseline "$INFERGATE" merge "$rendezvous" --run-id "$uid" "${flags[@]}" --out "$out" >&2
    merged=$?
    set -e
    say "results merged into $out (exit $merged)"
fi
[[ "$code" =~ ^[0-9]+$ ]] || { say "no exit code: the pod never ran to the end"; exit 4; }
exit "$code"

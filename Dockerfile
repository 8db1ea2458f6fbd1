# syntax=docker/dockerfile:1
# infergate's image: the binary on PATH, the repository's suites under /suites, run as a non-root user.
#
#   docker build -t infergate:dev .
#   docker run --rm -e INFERGATE_SIM=1 infergate:dev        # every suite against the embedded simulator
#   docker run --rm -e INFERGATE_TARGET=http://vllm:8000 -v "$PWD/suites:/scenarios:ro" \
#       infergate:dev run /scenarios                         # your own scenarios against your endpoint
#
# The two base images are arguments so that a build without a registry can name local ones
# (scripts/image-proof.sh does). The verdict is the exit code: 0 passed, 1 a threshold or regression
# failed, 2 bad input, 3 invalid (the runner fell behind or was stopped), 4 the run could not happen.

ARG RUST_IMAGE=docker.io/library/rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The crate cache and the target folder persist between builds (BuildKit and buildah cache mounts),
# so an image for a pull request rebuilds only what it changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin infergate \
    && install -m 0755 target/release/infergate /usr/local/bin/infergate

FROM ${RUNTIME_IMAGE}
# CA certificates for https targets, hubs and S3; a TrueType font for the plots. Versions come with
# the pinned base image: pinned package versions vanish from the mirror at Debian's next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --home-dir /home/infergate --shell /usr/sbin/nologin infergate
COPY --from=build /usr/local/bin/infergate /usr/local/bin/infergate
COPY suites/ /suites/
USER 10001:10001
WORKDIR /home/infergate
# Reports go under /home/infergate/reports (one folder per scenario, junit.xml); hub downloads are
# cached under /home/infergate/.cache. In Kubernetes both are emptyDir volumes.
ENV INFERGATE_OUT=/home/infergate/reports
ENTRYPOINT ["infergate"]
CMD ["run", "/suites"]

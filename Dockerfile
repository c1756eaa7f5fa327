# syntax=docker/dockerfile:1
# Alphintra Support: one static-ish Rust binary on a slim Debian runtime.
#
#   docker build -t alphintra-support .
#   docker run --rm -p 8010:8010 -e JWT_SECRET=... alphintra-support
#
# Stage 1 compiles the dependencies against stub sources first, so that layer is reused until
# Cargo.toml or Cargo.lock change; stage 2 holds only the binary, CA certificates and curl (for
# the HEALTHCHECK: the binary has no health sub-command).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
WORKDIR /build

# Dependencies only: stub main/lib so `cargo build` compiles every crate in Cargo.lock.
COPY Cargo.toml Cargo.lock ./
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    mkdir -p src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin alphintra-support \
 && rm -rf src

# The real sources (migrations, demo data and web assets are embedded at compile time).
COPY . .
# COPY keeps the context's modification times, which may be older than the stub build above:
# touch the crate roots so cargo rebuilds this package instead of shipping the stub.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin alphintra-support \
 && install -m 0755 target/release/alphintra-support /usr/local/bin/alphintra-support

FROM ${RUNTIME_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 support \
 && useradd --system --uid 10001 --gid support --home-dir /data --shell /usr/sbin/nologin support \
 && mkdir -p /data \
 && chown support:support /data

COPY --from=builder /usr/local/bin/alphintra-support /usr/local/bin/alphintra-support

# HOST must be 0.0.0.0 in a container (the binary defaults to 127.0.0.1).
# DATA_DIR holds the SQLite database when DATABASE_URL is not set.
ENV HOST=0.0.0.0 \
    PORT=8010 \
    DATA_DIR=/data \
    LOG_FORMAT=json \
    LOG_LEVEL=info

VOLUME ["/data"]
WORKDIR /data
# 8010: HTTP API, UI, health, metrics and WebSocket; 8085: WebSocket only, when WS_PORT=8085.
EXPOSE 8010 8085

# Numeric so Kubernetes can verify runAsNonRoot.
USER 10001:10001

# Through sh so a PORT given at run time is honoured.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS \"http://127.0.0.1:${PORT}/api/health\" > /dev/null || exit 1"]

# SIGTERM (docker stop, Kubernetes) stops accepting, tells STOMP clients to reconnect and drains
# in-flight requests for at most 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/alphintra-support"]

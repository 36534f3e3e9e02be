# syntax=docker/dockerfile:1
#
# blacksky in a container: a Rust builder stage, then a small Debian
# runtime that runs the one binary as an unprivileged user.
#
#   docker build -t blacksky .
#   docker run --init -p 8080:8080 \
#     -e QR_TOKEN=<long random value> -v blacksky-data:/app/data blacksky
#
# Then open http://localhost:8080/qr?token=<QR_TOKEN>. Without QR_TOKEN the
# pairing page opens only to the container itself (a port mapping counts as
# elsewhere); the QR is in the logs too (`docker logs`, lines `qr: …`).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds; the
# binary is copied out of the cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p blacksky-io --bin blacksky \
    && install -D -m 0755 target/release/blacksky /out/blacksky

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates for TLS to the database; curl for the HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home \
        --shell /usr/sbin/nologin blacksky \
    && mkdir -p /app/data \
    && chown blacksky:blacksky /app/data
COPY --from=builder /out/blacksky /usr/local/bin/blacksky

# Docker gives 10 s between SIGTERM and SIGKILL (raise it with
# `--stop-timeout` and SHUTDOWN_GRACE_MS together); the built-in grace of
# 25 s is Heroku's budget and would be cut short here.
ENV PORT=8080 \
    DATA_DIR=/app/data \
    ENABLE_HEALTH_CHECK=true \
    NODE_ENV=production \
    SHUTDOWN_GRACE_MS=8000 \
    RUST_LOG=info

USER blacksky
WORKDIR /app
VOLUME ["/app/data"]
EXPOSE ${PORT}
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
ENTRYPOINT ["/usr/local/bin/blacksky"]
CMD ["run"]

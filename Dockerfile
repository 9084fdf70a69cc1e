# syntax=docker/dockerfile:1
#
# sms-gateway image: one binary for every role (`serve --role all|api|publisher|worker`),
# `migrate`, `customer create` and `mock-operator`; plus the `sms-loadtest` binary.
#
#   docker build -t sms-gateway .
#   docker run --rm -e ADMIN_TOKEN=... -e DATABASE_URL=... -e AMQP_URL=... -p 8080:8080 sms-gateway
#
# Nothing is downloaded at build time except crates (from Cargo.lock, --locked) and the
# Debian packages named below: the Swagger UI assets are vendored in a crate.

ARG RUST_VERSION=1.95

# --- builder -------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# 1. Dependencies only. The workspace has two members (the root package and loadtest/), so
#    both manifests and the lock file are copied and each member gets stub sources. This
#    layer is reused as long as Cargo.toml, loadtest/Cargo.toml and Cargo.lock do not change.
COPY Cargo.toml Cargo.lock ./
COPY loadtest/Cargo.toml loadtest/Cargo.toml
RUN mkdir -p src loadtest/src \
 && echo 'fn main() {}' > src/main.rs \
 && : > src/lib.rs \
 && echo 'fn main() {}' > loadtest/src/main.rs \
 && cargo build --release --locked --workspace --bins \
 && rm -rf src loadtest/src

# 2. The project itself. migrations/ is embedded in the binary by sqlx::migrate!. COPY keeps
#    the files' original modification times, which can be older than the stub build's
#    outputs: touching the crate roots makes cargo rebuild the two project crates.
COPY migrations migrations
# console/ is embedded too (include_bytes! in src/http/console.rs): the web console's files.
COPY console console
COPY src src
COPY loadtest/src loadtest/src
RUN touch src/main.rs src/lib.rs loadtest/src/main.rs \
 && cargo build --release --locked --workspace --bins \
 && install -D -m 0755 target/release/sms-gateway target/release/sms-loadtest -t /out

# --- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# DL3008 (pin apt package versions) is ignored on purpose: ca-certificates must follow Debian's
# updates of the trust store, and a pinned version disappears from the archive when bookworm
# updates it, which would break the build. The base image tag pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 smsgw \
 && useradd --system --uid 10001 --gid smsgw --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin smsgw

COPY --from=builder /out/ /usr/local/bin/
COPY deploy/docker/http-probe /usr/local/bin/http-probe

# The gateway reads only environment variables (see .env.example); these are the defaults
# that matter for a container. ADMIN_TOKEN, DATABASE_URL and AMQP_URL must be given.
ENV LISTEN_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json

# Numeric user so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8080

# Liveness of `serve` (every role answers /healthz on LISTEN_ADDR). The image has no curl:
# http-probe speaks HTTP over bash's /dev/tcp. Containers running `migrate` or
# `mock-operator` from this image should override or disable it (docker-compose.yml does).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["http-probe", "/healthz"]

ENTRYPOINT ["sms-gateway"]
CMD ["serve", "--role", "all"]

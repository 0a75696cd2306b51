# syntax=docker/dockerfile:1
# quiver server image: `docker compose up` builds it (see docker-compose.yml).
#
#   docker build -t quiver .
#   docker run --rm -p 6566:6566 -p 8815:8815 -v "$PWD/feature_repo:/repo" quiver --repo /repo serve --host 0.0.0.0 --port 6566

# ---- build ------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

# cmake: native dependencies (the bundled librdkafka) may build with it.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The cache mounts keep the crates.io index/downloads and the target directory
# between builds (BuildKit, the default builder); the binary is copied out of
# the cached target directory because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin quiver \
    && install -D -m 0755 target/release/quiver /out/quiver

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# Non-root. UID/GID 1000 by default so a bind-mounted feature repo owned by the
# usual first host user stays writable (quiver keeps state in <repo>/.quiver);
# override with --build-arg QUIVER_UID=... --build-arg QUIVER_GID=...
ARG QUIVER_UID=1000
ARG QUIVER_GID=1000
RUN groupadd --gid "${QUIVER_GID}" quiver \
    && useradd --uid "${QUIVER_UID}" --gid quiver --create-home --shell /usr/sbin/nologin quiver \
    && mkdir -p /repo \
    && chown quiver:quiver /repo

COPY --from=builder /out/quiver /usr/local/bin/quiver

USER quiver
WORKDIR /repo
EXPOSE 6566 8815

ENTRYPOINT ["quiver"]
CMD ["--repo", "/repo", "serve", "--host", "0.0.0.0", "--port", "6566"]

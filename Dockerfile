# The kubectl-netcheck probe image: the same binary as the CLI, started as
# `kubectl-netcheck agent serve` in every probe pod and host pod.
#
#   docker build -t ghcr.io/netcheck/kubectl-netcheck:$(cargo pkgid | cut -d'#' -f2) .
#
# The default image of a run is ghcr.io/netcheck/kubectl-netcheck:<version of
# the binary>; pass --image to use another. No Docker at hand (air-gapped
# clusters, kind)? `kubectl netcheck image -f netcheck.tar` writes the same
# kind of image as an OCI archive from the running binary.
#
# The binary is linked statically against musl, so the image needs no libc:
# the runtime stage is `scratch`. (A glibc build also works in an image: the
# archive `kubectl netcheck image` writes then carries the loader and the
# libraries the binary uses.)

FROM docker.io/library/rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/kubectl-netcheck /kubectl-netcheck

FROM scratch
COPY --from=build /kubectl-netcheck /usr/local/bin/kubectl-netcheck
# Probe pods run `agent serve` (their command says so too); host pods add
# --tcp-port for the node's network.
ENTRYPOINT ["/usr/local/bin/kubectl-netcheck", "agent", "serve"]

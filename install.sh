#!/usr/bin/env bash
# Set up kubectl-netcheck: the system packages the lab and the tests use
# (Debian/Ubuntu, as root), then build and install the binary and its completions.
#
#   ./install.sh              everything
#   ./install.sh --deps-only  only the system packages (what CI needs before the tests)
#   ./install.sh --no-deps    only build and install the binary
#   PREFIX=~/.local ./install.sh
set -euo pipefail
cd "$(dirname "$0")"

deps=1 build=1
for arg in "$@"; do
  case "$arg" in
    --deps-only) build=0 ;;
    --no-deps) deps=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

# What the lab and the test suite run: ip, iptables (nft and legacy), nft,
# dnsmasq (the lab's CoreDNS), ping, conntrack, sysctl, modprobe, and skopeo
# to validate the OCI image archive. dnsmasq-base is the binary without the
# system service, so nothing on this machine starts answering DNS.
PACKAGES=(iproute2 iptables nftables dnsmasq-base iputils-ping conntrack procps kmod bsdutils openssl skopeo ca-certificates)

if [ "$deps" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh: not root: skipping system packages (${PACKAGES[*]}); the lab needs them and root" >&2
  elif ! command -v apt-get >/dev/null; then
    echo "install.sh: no apt-get: install these yourself for the lab: ${PACKAGES[*]}" >&2
  else
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${NETCHECK_APT_UPDATED:-}" ]; then apt-get update -qq; fi
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    echo "install.sh: system packages installed: ${PACKAGES[*]}"
  fi
fi

[ "$build" = 1 ] || exit 0

command -v cargo >/dev/null || { echo "install.sh: cargo not found: install Rust from rustup.rs first" >&2; exit 1; }
if [ -z "${PREFIX:-}" ]; then
  if [ "$(id -u)" = 0 ]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
fi
cargo build --release --locked
install -d "$PREFIX/bin"
install -m 0755 target/release/kubectl-netcheck "$PREFIX/bin/kubectl-netcheck"
echo "install.sh: installed $PREFIX/bin/kubectl-netcheck (kubectl runs it as 'kubectl netcheck')"

# Completions, from the files the binary generates (kept current by a test).
share="$PREFIX/share"
if [ -d completions ]; then
  install -d "$share/bash-completion/completions" "$share/zsh/site-functions" "$share/fish/vendor_completions.d"
  [ -f completions/kubectl-netcheck.bash ] && install -m 0644 completions/kubectl-netcheck.bash "$share/bash-completion/completions/kubectl-netcheck"
  [ -f completions/_kubectl-netcheck ] && install -m 0644 completions/_kubectl-netcheck "$share/zsh/site-functions/_kubectl-netcheck"
  [ -f completions/kubectl-netcheck.fish ] && install -m 0644 completions/kubectl-netcheck.fish "$share/fish/vendor_completions.d/kubectl-netcheck.fish"
  echo "install.sh: completions installed under $share"
fi
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "install.sh: add $PREFIX/bin to your PATH" ;; esac

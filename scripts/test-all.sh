#!/usr/bin/env bash
# Runs every check a change to Switchyard must pass, installing what the tests need.
#
# Formatting, clippy (warnings are errors), the whole workspace's tests (the core's
# property tests, the Lavalink emulator's conformance suite, Redis contract tests against
# a real redis-server, webhook tests against a real receiver) and the release-mode
# simulation gates once they exist.
set -euo pipefail
cd "$(dirname "$0")/.."

need_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  echo "== installing redis-server (Debian package) for the Redis contract tests"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
  # The tests start their own redis-server on a free loopback port; the packaged
  # service is not needed.
  $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
}

need_redis

# A one-shot run gains nothing from the incremental cache, which would add gigabytes
# to the build directory; a caller who wants it can still set the variable.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test (workspace)"
cargo test --workspace --locked

if [ -x scripts/sim-gates.sh ]; then
  echo "== simulation gates (release build)"
  scripts/sim-gates.sh
fi

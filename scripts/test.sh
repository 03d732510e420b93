#!/usr/bin/env bash
# The test suite, set-up included: installs what the tests need beyond Rust
# (Debian's chromium and chromium-driver for the web page's browser test,
# when missing), then runs `cargo test --release`. Extra arguments go to
# cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
  if command -v apt-get > /dev/null; then
    SUDO=""
    if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
    echo "installing chromium and chromium-driver for the browser test" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver > /dev/null
  else
    echo "the browser test needs chromium and chromedriver on PATH (or ATTEND_SKIP_BROWSER=1 to skip it)" >&2
  fi
fi
cargo test --release "$@"

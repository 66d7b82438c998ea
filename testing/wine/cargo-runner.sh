#!/usr/bin/env bash
# Cargo runner for x86_64-pc-windows-gnu (set in .cargo/config.toml): makes
# `cargo run/test --target x86_64-pc-windows-gnu` run the program under Wine.
# Cargo calls it as: cargo-runner.sh PATH/TO/PROGRAM.exe ARGS...
set -euo pipefail
# shellcheck source=testing/wine/wine-env.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/wine-env.sh"
exec "$WINE64" "$@"

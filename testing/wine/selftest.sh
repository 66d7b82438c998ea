#!/usr/bin/env bash
# Self-test of the Wine setup: sources wine-env.sh (creating the prefix if needed),
# builds prng-check.exe with mingw-w64 and runs it under Wine. Exit 0 = the prefix
# works and the bcryptprimitives.dll stand-in returns random bytes.
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=testing/wine/wine-env.sh
. "$here/wine-env.sh"
trap wine_stop EXIT
exe="$WINE_ENV_TARGET_DIR/wine/prng-check.exe"
if [[ ! -f "$exe" || "$here/prng-check.c" -nt "$exe" ]]; then
    "${MINGW_CC:-x86_64-w64-mingw32-gcc}" -O2 -Wall -Wextra -o "$exe.tmp" "$here/prng-check.c"
    mv -f -- "$exe.tmp" "$exe"
fi
out=$(wine_run "$exe" </dev/null) || { printf '%s\n' "$out"; echo "wine selftest: prng-check failed" >&2; exit 1; }
# msvcrt's printf writes CRLF; Rust programs write LF only.
out=${out%$'\r'}
printf '%s\n' "$out"
[[ "$out" == *'"ok":true'* ]] || { echo "wine selftest: bad output" >&2; exit 1; }
echo "wine selftest: 1 passed, 0 failed"

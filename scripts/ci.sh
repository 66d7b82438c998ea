#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# Installs what it needs (rustup components and targets, the nightly toolchain for
# cargo-fuzz, cargo-fuzz itself, sipp, binutils, mingw-w64 and Wine from Debian) and can
# be run again and again.
#
#   FUZZ_SECONDS=N   how long each fuzz target runs (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
NO_STD_TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi)
WINDOWS_TARGET=x86_64-pc-windows-gnu

step() { printf '\n==> %s (at %d s)\n' "$*" "$SECONDS"; }

step "set-up: rustup components, targets, nightly, cargo-fuzz"
rustup component add rustfmt clippy >/dev/null
rustup target add "${NO_STD_TARGETS[@]}" "$WINDOWS_TARGET" >/dev/null
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# readelf for the size probe, sipp for the SIP interop tests.
debs=()
command -v readelf >/dev/null 2>&1 || debs+=(binutils)
command -v sipp >/dev/null 2>&1 || debs+=(sip-tester)
# The TAPI service provider: mingw-w64 links ucsta.tsp, Wine runs tapi-host.exe.
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || debs+=(gcc-mingw-w64-x86-64-win32)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || debs+=(wine wine64)
# The gateway firmware: QEMU runs it, arm-none-eabi binutils inspect it; iproute2 for
# the loopback of the test's network namespace.
command -v qemu-system-arm >/dev/null 2>&1 || debs+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null 2>&1 || debs+=(binutils-arm-none-eabi)
command -v ip >/dev/null 2>&1 || debs+=(iproute2)
if ((${#debs[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${debs[@]}"
fi

step "format"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)
(cd examples/sip-size && cargo fmt -- --check)
(cd examples/gateway-mps2-an386 && cargo fmt -- --check)

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p sip-lite --no-default-features --features defmt --target thumbv7em-none-eabihf -- -D warnings
cargo clippy -p csta-core --no-default-features --features defmt --target thumbv7em-none-eabihf -- -D warnings
cargo clippy -p ucsta-phone --no-default-features --features defmt --target thumbv7em-none-eabihf -- -D warnings
cargo clippy -p lan9118 --features defmt --target thumbv7em-none-eabihf -- -D warnings
cargo clippy -p ucsta-embassy --features defmt --target thumbv7em-none-eabihf -- -D warnings
for features in "" "--no-default-features" "--features defmt"; do
    # shellcheck disable=SC2086 # the feature flags are words
    (cd examples/gateway-mps2-an386 && cargo clippy --release $features -- -D warnings)
done

step "tests"
cargo test --workspace
# The phone's message set (csta-core without `application`), as a firmware builds it.
cargo test -p csta-core --no-default-features --test message_set

step "Windows builds: ucsta.tsp, tapi-host.exe, ucsta-tsp-setup.exe (clippy first)"
cargo clippy -p ucsta-tsp -p tapi-host --all-targets --target "$WINDOWS_TARGET" -- -D warnings
cargo build -p ucsta-tsp -p tapi-host --target "$WINDOWS_TARGET"
windows_out="target/$WINDOWS_TARGET/debug"

step "the TAPI service provider under Wine (tapi-host.exe loads ucsta.tsp)"
TAPI_HOST_EXE="$PWD/$windows_out/tapi-host.exe" \
    UCSTA_TSP_DLL="$PWD/$windows_out/ucsta_tsp.dll" \
    UCSTA_TSP_SETUP_EXE="$PWD/$windows_out/ucsta-tsp-setup.exe" \
    cargo test -p tapi-host --test wine -- --ignored --test-threads 1

step "SIP interop with sipp"
cargo test -p csta-server --test sipp -- --ignored

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "no_std builds"
for target in "${NO_STD_TARGETS[@]}"; do
    cargo build -p sip-lite --no-default-features --target "$target"
    cargo build -p sip-lite --no-default-features --release --target "$target"
    cargo build -p csta-core --no-default-features --target "$target"
    cargo build -p csta-core --no-default-features --release --target "$target"
    cargo build -p ucsta-phone --no-default-features --release --target "$target"
    cargo build -p lan9118 --release --target "$target"
    cargo build -p ucsta-embassy --release --target "$target"
done

step "firmware size probe (thumbv7em, opt-level s, LTO)"
(cd examples/sip-size && cargo build --release)
readelf -SW examples/sip-size/target/thumbv7em-none-eabihf/release/sip-size |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\.(text|rodata|data|bss)$/) print $i, $(i + 4) }' |
    while read -r section hex; do printf '  %-8s %6d bytes\n' "$section" "$((16#$hex))"; done

step "gateway firmware for mps2-an386 (thumbv7em, opt-level s, LTO): build and size"
(cd examples/gateway-mps2-an386 && cargo build --release)
gateway_elf="$PWD/examples/gateway-mps2-an386/target/thumbv7em-none-eabihf/release/gateway-mps2-an386"
scripts/firmware-size.sh "$gateway_elf"

step "gateway firmware in QEMU against csta-server, phone-sim and a CSTA client (loopback-only network namespace)"
# Built first, outside the namespace (it has no network). The test starts csta-server,
# two phone-sim phones and QEMU on free loopback ports and stops each by its id.
cargo build -p csta-server --bin csta-server -p phone-sim --bin phone-sim
cargo test -p ucsta-embassy --test qemu --no-run
GATEWAY_ELF="$gateway_elf" CARGO_NET_OFFLINE=true unshare -rn sh -c \
    'ip link set lo up && cargo test --offline -p ucsta-embassy --test qemu -- --ignored --nocapture --test-threads 1'

step "benchmarks compile"
cargo bench -p sip-benches --no-run

step "fuzz targets, ${FUZZ_SECONDS}s each"
bash fuzz/run.sh "$FUZZ_SECONDS"

step "all checks passed"

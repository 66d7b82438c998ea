#!/usr/bin/env bash
# Benchmarks csta-server against Kamailio with sipp on this machine (not part of the
# test suite): REGISTER rate with and without digest, call rate through the proxy,
# CPU per operation, memory per 10,000 registrations. Installs sipp and Kamailio from
# Debian when missing. Extra arguments go to benches/server/bench.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v kamailio >/dev/null || need+=(kamailio)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi
cargo build --release -p csta-server
exec python3 benches/server/bench.py "$@"

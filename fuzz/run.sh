#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS seconds, starting from the committed
# seeds (and the inputs kept under regressions/, if any) copied into a scratch corpus.
#
# Targets with a directory seeds/<target>/ start from it, the others from seeds/*.sip;
# the csta_* targets use csta.dict, the others sip.dict.
#
# usage: fuzz/run.sh SECONDS
#
# Exits non-zero if a target crashes, panics, leaks past the RSS limit or takes longer
# than the per-input timeout; libFuzzer leaves the input under artifacts/<target>/.
set -euo pipefail

seconds=${1:?usage: fuzz/run.sh SECONDS}
case $seconds in
  '' | *[!0-9]*) echo "usage: fuzz/run.sh SECONDS" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"

cargo +nightly fuzz build

status=0
for target in $(cargo +nightly fuzz list); do
  corpus=corpus/$target
  mkdir -p "$corpus" "artifacts/$target"
  if [ -d "seeds/$target" ]; then
    cp "seeds/$target"/* "$corpus"/
  else
    cp seeds/*.sip "$corpus"/
  fi
  case $target in
    csta_*) dict=csta.dict ;;
    *) dict=sip.dict ;;
  esac
  if [ -d "regressions/$target" ]; then
    cp "regressions/$target"/* "$corpus"/
  fi
  echo "== $target: ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "$corpus" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -dict="$dict" -print_final_stats=1; then
    echo "== $target: FAILED (see artifacts/$target/)" >&2
    status=1
  fi
done
exit $status

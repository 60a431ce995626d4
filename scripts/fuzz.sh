#!/usr/bin/env bash
# npm run fuzz [-- SECONDS [TARGET ...]]: runs each cargo-fuzz (libFuzzer)
# target for SECONDS (default 60) on its corpus (fuzz/corpus/TARGET, which
# grows with what the fuzzer finds), then minimises the corpus. Needs the
# nightly toolchain; installs cargo-fuzz from crates.io if it is missing.
# A crash stops the run, leaving its input in fuzz/artifacts/TARGET/.
# The corpus is replayed by `cargo test` (src/fuzzing.rs) as a regression test.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${1:-60}
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(frame_receiver upgrade_request inflate topics)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# One target/ dir for everything (target/fuzz here).
FUZZ=(cargo +nightly fuzz)
for t in "${TARGETS[@]}"; do
  echo "fuzz: $t for ${SECS}s"
  rc=0
  "${FUZZ[@]}" run --fuzz-dir fuzz --target-dir target/fuzz "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=4096 >"target/fuzz-$t.log" 2>&1 || rc=$?
  grep -E "^#[0-9]+ +DONE|^stat::(number_of_executed_units|peak_rss_mb)|^Done|ERROR|SUMMARY" "target/fuzz-$t.log" || true
  [[ $rc -eq 0 ]] || { echo "fuzz: $t failed (see target/fuzz-$t.log, fuzz/artifacts/$t/)" >&2; exit 1; }
  "${FUZZ[@]}" cmin --fuzz-dir fuzz --target-dir target/fuzz "$t" "fuzz/corpus/$t" >/dev/null 2>&1 || true
done

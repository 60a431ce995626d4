#!/usr/bin/env bash
# npm run test:asan: the addon built with AddressSanitizer (nightly Rust,
# -Zsanitizer=address, symbols kept), loaded into an ordinary Node with the
# ASan runtime preloaded (gcc's libasan.so, ABI-compatible with rustc's
# instrumentation), then:
#   1. the JS suite (every ava file but the packaging ones, which install
#      tarballs with npm and build with cargo, and the Chromium ones: a
#      preloaded ASan runtime does not belong in Chromium) and the fault
#      tests among them, with ASan's error checks (use after free, overflows,
#      double free) and no leak check (Node's own exit leaves its heap);
#   2. LeakSanitizer on scripts/leak-check.js (10 000 connections opened and
#      closed), counting the leaks whose stack passes through wsrs.
# Reports go to target/asan/report.*; any ASan error report fails the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-Zsanitizer=address" cargo +nightly build --profile profiling --target "$TRIPLE" --target-dir target/asan --lib
cp "target/asan/$TRIPLE/profiling/libwsrs.so" target/asan/wsrs.node
RUNTIME=${ASAN_RUNTIME:-$(gcc -print-file-name=libasan.so)}
[[ -f "$RUNTIME" ]] || { echo "asan: no ASan runtime ($RUNTIME); apt-get install libasan8" >&2; exit 2; }
rm -f target/asan/report.* target/asan/leaks.*
export WSRS_NATIVE_LIBRARY_PATH=$ROOT/target/asan/wsrs.node
# No backtraces: printing one for a panic raised on purpose inside libuv's
# poll callback (__test__/panics.test.js) aborts under the preloaded gcc
# runtime, while the same panic is caught and handled without it.
export RUST_BACKTRACE=0

echo "asan: the JS suite"
FILES=$(ls __test__/*.test.js | grep -v -E '/(package|workflow|browser|browser-deflate)\.test\.js$')
# shellcheck disable=SC2086
LD_PRELOAD=$RUNTIME ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:log_path=$ROOT/target/asan/report \
  npx ava --timeout=5m $FILES
if ls target/asan/report.* >/dev/null 2>&1; then
  echo "asan: error reports:" >&2
  cat target/asan/report.* >&2
  exit 1
fi

echo "asan: LeakSanitizer on scripts/leak-check.js"
LD_PRELOAD=$RUNTIME ASAN_OPTIONS=detect_leaks=1:log_path=$ROOT/target/asan/leaks \
  node scripts/leak-check.js || true
node - target/asan <<'EOF2'
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
let ours = 0;
let glue = 0;
let total = 0;
let bytes = 0;
for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('leaks.'))) {
  const text = fs.readFileSync(path.join(dir, f), 'utf8');
  for (const block of text.split(/\n(?=(?:Direct|Indirect) leak)/).filter((b) => /^(Direct|Indirect) leak/.test(b))) {
    total++;
    // Ours: a frame of the wsrs crate (v0-mangled `4wsrs`) allocated it.
    if (/4wsrs|wsrs::/.test(block)) {
      ours++;
      bytes += Number(/leak of (\d+) byte/.exec(block)[1]);
      console.log(block.split('\n').slice(0, 12).join('\n'));
    } else if (/4napi15bindgen_runtime/.test(block)) {
      // napi-rs's registration of the addon's class, once per module load.
      glue++;
    }
  }
}
console.log(
  `asan: LeakSanitizer: ${total} leak records in all; ${ours} from wsrs (${bytes} bytes); ` +
    `${glue} from napi-rs's module registration (once per load); the rest Node's own`
);
process.exit(ours ? 1 : 0);
EOF2

'use strict';

// Loads the native addon. In this order:
//   0. WSRS_NATIVE_LIBRARY_PATH, if set (a given .node file, for wsrs only);
//   1. NAPI_RS_NATIVE_LIBRARY_PATH, if set (the same, for every napi-rs
//      package in the process: rolldown, jest's resolver, ...);
//   2. the local wsrs.<platform>.node (what `napi build --platform` writes);
//   3. the platform package (wsrs-<platform>, an optional dependency);
//   (1 to 3 are the loader @napi-rs/cli generates, ../binding.js)
//   4. a source build of this checkout with plain cargo
//      (target/release/libwsrs.so, .dylib or wsrs.dll).
// When nothing loads, one Error names the platform and both ways out.

const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const { version } = require('../package.json');

/** The platform as napi-rs names it (linux-x64-gnu, darwin-arm64, win32-x64-msvc, ...). */
function platformName() {
  let abi = '';
  if (process.platform === 'linux') {
    const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null;
    abi = report && report.header && report.header.glibcVersionRuntime ? '-gnu' : '-musl';
  } else if (process.platform === 'win32') {
    abi = '-msvc';
  }
  return `${process.platform}-${process.arch}${abi}`;
}

const CARGO_OUTPUT = { linux: 'libwsrs.so', darwin: 'libwsrs.dylib', win32: 'wsrs.dll' }[process.platform] || 'libwsrs.so';

/** The command that builds this package from source, as the error gives it. */
function sourceBuildCommand() {
  const q = (p) => JSON.stringify(p);
  return `cargo build --release --manifest-path ${q(path.join(ROOT, 'Cargo.toml'))} --target-dir ${q(path.join(ROOT, 'target'))}`;
}

function load() {
  if (process.env.WSRS_NATIVE_LIBRARY_PATH) return require(path.resolve(process.env.WSRS_NATIVE_LIBRARY_PATH));
  let first;
  try {
    return require('../binding.js');
  } catch (err) {
    first = err;
  }
  const built = path.join(ROOT, 'target', 'release', CARGO_OUTPUT);
  if (fs.existsSync(built)) {
    // cargo's output is the addon under another name: load it as one.
    const m = { exports: {} };
    process.dlopen(m, built);
    return m.exports;
  }
  const name = platformName();
  const err = new Error(
    `wsrs: no native binary for this platform (${name}, Node ${process.version}).\n` +
      `Install the prebuilt package for it:\n` +
      `  npm install wsrs-${name}@${version}\n` +
      `(it is an optional dependency of wsrs: an install that skips optional dependencies, or a lockfile made on ` +
      `another platform, leaves it out), or build wsrs from source with Rust's cargo (https://rustup.rs):\n` +
      `  ${sourceBuildCommand()}`
  );
  err.code = 'WSRS_NO_BINARY';
  // What the loader tried, for whoever debugs it (not printed with the error).
  Object.defineProperty(err, 'loadError', { value: first });
  throw err;
}

module.exports = load();
module.exports.platformName = platformName;

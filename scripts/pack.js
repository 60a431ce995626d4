'use strict';

// `npm run pack`: writes into dist/ the root package's tarball and the
// tarball of this machine's platform package (npm/<platform>/, with the
// binary `napi build --platform --release` made), ready to install:
//   npm install dist/wsrs-0.1.0.tgz dist/wsrs-linux-x64-gnu-0.1.0.tgz
// Builds first unless the binary exists (--no-build: fail instead).

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const { platformName } = require('../lib/addon');

const platform = platformName();
const binary = `wsrs.${platform}.node`;
const npmDir = path.join(ROOT, 'npm', platform);
if (!fs.existsSync(npmDir)) throw new Error(`no platform package for ${platform} (npm/${platform}: see package.json "napi")`);

if (!fs.existsSync(path.join(ROOT, binary))) {
  if (process.argv.includes('--no-build')) throw new Error(`${binary} is not built (npm run build)`);
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

fs.mkdirSync(DIST, { recursive: true });
const pack = (dir) => {
  // --ignore-scripts: the root's `prepare` would build again.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', DIST], { cwd: dir });
  const [{ filename, size, unpackedSize }] = JSON.parse(out);
  console.log(`dist/${filename}: ${(size / 1024).toFixed(0)} KiB (unpacked ${(unpackedSize / 1024).toFixed(0)} KiB)`);
  return path.join(DIST, filename);
};

// The root package, from a staging copy of the files npm would pack, whose
// package.json has no `prepare`: that script builds this checkout on its
// own `npm install`, and a consumer's install must find no script at all.
const stage = path.join(DIST, '.stage');
fs.rmSync(stage, { recursive: true, force: true });
const listed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT }))[0].files;
for (const { path: f } of listed) {
  fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
  fs.copyFileSync(path.join(ROOT, f), path.join(stage, f));
}
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
delete manifest.scripts.prepare;
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
pack(stage);
fs.rmSync(stage, { recursive: true });

// This machine's platform package, with the binary.
fs.copyFileSync(path.join(ROOT, binary), path.join(npmDir, binary));
try {
  pack(npmDir);
} finally {
  fs.rmSync(path.join(npmDir, binary));
}

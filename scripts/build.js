'use strict';

// `npm install` runs this: builds the native addon from source (release) with
// cargo and copies it next to index.js as wsrs.node.

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const profile = process.argv.includes('--debug') ? 'debug' : 'release';
const args = ['build', '--lib'];
if (profile === 'release') args.push('--release');

execFileSync('cargo', args, { cwd: root, stdio: 'inherit' });

const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, 'target');
const names = { linux: 'libwsrs.so', darwin: 'libwsrs.dylib', win32: 'wsrs.dll' };
const lib = path.join(targetDir, profile, names[process.platform] || 'libwsrs.so');
const dest = path.join(root, 'wsrs.node');
// Replace rather than overwrite, so a running process keeps its mapped copy.
fs.copyFileSync(lib, dest + '.tmp');
fs.renameSync(dest + '.tmp', dest);
console.log(`wsrs: built ${path.relative(root, dest)} (${profile})`);

'use strict';

// Preload (`node --require`) for the seed fixtures: makes `require('ws')`
// resolve to the implementation named by WS_IMPL, whatever file asks:
//   WS_IMPL=ws       the real ws (node_modules/ws, the reference)
//   WS_IMPL=ws-shim  the real ws too (the shim only matters for `import`)
//   WS_IMPL=wsrs     this package (index.js)
// The first resolution is reported on stderr as a `[seed-harness]` line, so
// the test can check which implementation a run really used (and drop the
// line from the transcript).

const fs = require('fs');
const Module = require('module');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const IMPL = process.env.WS_IMPL;
const realWs = require.resolve('ws', { paths: [ROOT] });
const targets = { ws: realWs, 'ws-shim': realWs, wsrs: path.join(ROOT, 'index.js') };

if (!Object.prototype.hasOwnProperty.call(targets, IMPL)) {
  throw new Error(`use-impl.js: WS_IMPL must be one of ${Object.keys(targets).join(', ')} (got ${IMPL})`);
}

const target = targets[IMPL];
const resolveFilename = Module._resolveFilename;
let reported = false;

Module._resolveFilename = function (request, parent, isMain, options) {
  if (request === 'ws') {
    if (!reported) {
      reported = true;
      fs.writeSync(2, `[seed-harness] require('ws') -> ${IMPL} ${target}\n`);
    }
    return target;
  }
  return resolveFilename.call(this, request, parent, isMain, options);
};

'use strict';

// Pinning for the benchmark's processes (bench/run.js, bench/scale.js):
// servers on CPU 0, load on CPU 1, where taskset exists.

const { execFileSync } = require('child_process');

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

/** [command, args] that run `cmd args` on `cpu` (as they are without taskset). */
const pinned = (cpu, cmd, args) => (hasTaskset ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

module.exports = { hasTaskset, pinned };

'use strict';

// Preload (`node --require`), the same for ws and wsrs runs: time runs
// SEED_TIMER_DIVISOR (default 50) times faster for the seed code, so its
// 5 s heartbeats tick every 100 ms. Delays of setTimeout/setInterval are
// divided, and Date.now() is sped up by the same factor so that seeds which
// measure time with it (e.g. "no pong for 10 s") stay consistent with their
// timers.

const util = require('util');

const divisor = Number(process.env.SEED_TIMER_DIVISOR || 50);
if (!(divisor >= 1)) throw new Error(`scale-timers.js: bad SEED_TIMER_DIVISOR ${process.env.SEED_TIMER_DIVISOR}`);

function scale(ms) {
  const n = Number(ms);
  return Number.isFinite(n) && n > 0 ? Math.max(1, n / divisor) : ms;
}

const { setTimeout: realSetTimeout, setInterval: realSetInterval } = globalThis;

function setTimeout(fn, ms, ...args) {
  return realSetTimeout(fn, scale(ms), ...args);
}
function setInterval(fn, ms, ...args) {
  return realSetInterval(fn, scale(ms), ...args);
}
if (realSetTimeout[util.promisify.custom]) {
  setTimeout[util.promisify.custom] = (ms, ...args) => realSetTimeout[util.promisify.custom](scale(ms), ...args);
}

globalThis.setTimeout = setTimeout;
globalThis.setInterval = setInterval;

const realNow = Date.now;
const t0 = realNow();
Date.now = function now() {
  return t0 + (realNow() - t0) * divisor;
};

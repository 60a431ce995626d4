'use strict';

// Waiting in tests: for a condition (`eventually`), never for a guessed
// time. The one exception is showing that something does NOT happen, which
// only a fixed window can (`quietWindow`); each use says why.
// No dependencies, so that the seed harness can use it without loading wsrs.

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `fn` (which may return a promise) every `interval` ms until it
 * returns a truthy value, and resolves with that value. After `timeout` ms it
 * rejects with an Error (code 'ERR_EVENTUALLY_TIMEOUT') naming the condition:
 * `message` (a string, or a function called then, e.g. to report the values
 * seen) or else the source of `fn`. An exception thrown by `fn` rejects at once.
 */
async function eventually(fn, { timeout = 5000, interval = 10, message } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() >= end) {
      const what = typeof message === 'function' ? message() : message || `${fn}`;
      const err = new Error(`eventually: not true within ${timeout} ms: ${what}`);
      err.code = 'ERR_EVENTUALLY_TIMEOUT';
      throw err;
    }
    await delay(Math.min(interval, Math.max(1, end - Date.now())));
  }
}

/**
 * Waits `ms` during which something must NOT happen (no message, no close,
 * no late output): an absence has no event to wait for, so a bounded window
 * is the only way to show it. The caller says what it is watching for.
 */
function quietWindow(ms) {
  return delay(ms);
}

module.exports = { delay, eventually, quietWindow };

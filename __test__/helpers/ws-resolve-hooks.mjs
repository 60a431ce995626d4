// Module resolve hooks (registered by use-impl-esm.mjs: off-thread through
// `module.register()`, or in-thread through `module.registerHooks()`).
import { writeSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const targets = {
  ws: new URL('node_modules/ws/wrapper.mjs', root).href, // what `import 'ws'` gives on ws 8
  'ws-shim': new URL('__test__/helpers/ws-default-with-server.mjs', root).href,
  wsrs: new URL('index.mjs', root).href
};

let target = null;
let implName = null;
let reported = false;

export function initialize(data) {
  implName = data && data.impl;
  if (!Object.prototype.hasOwnProperty.call(targets, implName)) {
    throw new Error(`ws-resolve-hooks: WS_IMPL must be one of ${Object.keys(targets).join(', ')} (got ${implName})`);
  }
  target = targets[implName];
}

/** The resolve hook, synchronous (`registerHooks`). */
export function resolveSync(specifier, context, nextResolve) {
  if (specifier === 'ws') {
    if (!reported) {
      reported = true;
      writeSync(2, `[seed-harness] import 'ws' -> ${implName} ${target}\n`);
    }
    return { url: target, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

/** The resolve hook, asynchronous (`register`). */
export async function resolve(specifier, context, nextResolve) {
  return resolveSync(specifier, context, nextResolve);
}

// `node --import` entry for ESM seed fixtures: registers resolve hooks that
// make the specifier 'ws' mean the implementation named by WS_IMPL (see
// use-impl.js for the values; ws-shim is ws whose default export has .Server).
// In-thread hooks (`module.registerHooks`) where Node has them: Node 26
// deprecates `module.register()` (DEP0205), whose warning would differ
// between runs (it carries the PID); the off-thread ones elsewhere.
import module from 'node:module';

import { initialize, resolveSync } from './ws-resolve-hooks.mjs';

if (typeof module.registerHooks === 'function') {
  initialize({ impl: process.env.WS_IMPL });
  module.registerHooks({ resolve: resolveSync });
} else {
  module.register('./ws-resolve-hooks.mjs', import.meta.url, { data: { impl: process.env.WS_IMPL } });
}

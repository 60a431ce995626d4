// `node --import` entry for ESM seed fixtures: registers resolve hooks that
// make the specifier 'ws' mean the implementation named by WS_IMPL (see
// use-impl.js for the values; ws-shim is ws whose default export has .Server).
import { register } from 'node:module';

register('./ws-resolve-hooks.mjs', import.meta.url, { data: { impl: process.env.WS_IMPL } });

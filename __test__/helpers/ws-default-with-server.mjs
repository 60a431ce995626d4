// The real ws as seed 002 expects it: ws 8's ESM entry (wrapper.mjs) exports
// the WebSocket class as default, without `.Server`; its CommonJS entry
// (index.js) is that same class with `.Server` etc. attached. Loading
// index.js and making it the default export gives "ws where
// `import WS from 'ws'; new WS.Server(...)` works" -- what the seed's author
// obviously meant -- while every named export stays wrapper.mjs's.
export * from '../../node_modules/ws/wrapper.mjs';
import WebSocket from '../../node_modules/ws/index.js';

export default WebSocket;

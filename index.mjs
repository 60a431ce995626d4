// ESM entry: the same named exports as ws (and the readyState constants).
// Unlike ws, the default export also carries `.Server` and
// `.WebSocketServer`, so `import WS from 'wsrs'; new WS.Server(...)` works
// (on ws it throws).
import WebSocket from './index.js';

export const { createWebSocketStream, Sender, Server, WebSocketServer, CONNECTING, OPEN, CLOSING, CLOSED } = WebSocket;
export { WebSocket };
export default WebSocket;

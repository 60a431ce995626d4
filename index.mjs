// ESM entry: the same named exports as ws's wrapper.mjs (and the readyState
// constants, and `Server`). `Receiver` is there for ws's shape only: using
// it throws (see index.js).
// Unlike ws, the default export also carries `.Server` and
// `.WebSocketServer`, so `import WS from 'wsrs'; new WS.Server(...)` works
// (on ws it throws).
import WebSocket from './index.js';

export const {
  createWebSocketStream,
  extension,
  PerMessageDeflate,
  Receiver,
  Sender,
  Server,
  subprotocol,
  WebSocketServer,
  CONNECTING,
  OPEN,
  CLOSING,
  CLOSED
} = WebSocket;
export { WebSocket };
export default WebSocket;

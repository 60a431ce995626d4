// The WebSocket API as server code uses it: send variants, ping/pong,
// close/terminate, pause/resume, readyState, events (EventEmitter and DOM
// style), createWebSocketStream.

import WebSocket = require('wsrs');
import { createWebSocketStream } from 'wsrs';

declare const ws: WebSocket;

// send(): every kind of data, with and without options and callback.
ws.send('text');
ws.send(42);
ws.send(Buffer.from('bytes'));
ws.send(new Uint8Array([1, 2, 3]));
ws.send(new Float32Array(4), { binary: true });
ws.send(new ArrayBuffer(8));
ws.send(new DataView(new ArrayBuffer(8)));
ws.send(new Blob(['bytes']));
ws.send(new Blob(['text']), { binary: false }, (err) => console.log(err));
ws.send([Buffer.from('a'), Buffer.from('b')]);
ws.send([1, 2, 3]);
ws.send('part 1', { fin: false });
ws.send('part 2', { fin: true, binary: false, compress: false, mask: false });
ws.send('x', {}, (err) => {
  if (err) console.error(err.message);
});
ws.send('x', (err?: Error) => console.log(err));
ws.send(JSON.stringify({ type: 'hello' }));

// ping/pong/close/terminate.
ws.ping();
ws.ping('hb');
ws.ping(Buffer.alloc(0), false, (err) => console.log(err));
ws.pong();
ws.close();
ws.close(1000);
ws.close(4000, 'bye');
ws.close(1001, Buffer.from('going away'));
ws.terminate();
ws.pause();
ws.resume();
const paused: boolean = ws.isPaused;
const buffered: number = ws.bufferedAmount;
const protocol: string = ws.protocol;
const extensions: string = ws.extensions;
ws.binaryType = 'arraybuffer';
ws.binaryType = 'fragments';
ws.binaryType = 'nodebuffer';

// readyState: literal types, constants on the class and on instances.
function state(s: WebSocket): string {
  if (s.readyState === WebSocket.CONNECTING) return 'connecting';
  if (s.readyState === s.OPEN) {
    const open: 1 = s.readyState;
    return `open ${open}`;
  }
  if (s.readyState === WebSocket.WebSocket.CLOSING) return 'closing';
  if (s.readyState === s.CLOSED) return 'closed';
  const never: never = s.readyState;
  return never;
}
const constants: [0, 1, 2, 3] = [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED];
const instanceConstants: [0, 1, 2, 3] = [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED];

// EventEmitter events, with on/once/off/addListener/removeListener.
ws.on('open', () => {});
ws.on('ping', (data) => expectType<Same<typeof data, Buffer>>());
ws.once('pong', (data) => expectType<Same<typeof data, Buffer>>());
ws.once('close', (code, reason) => console.log(code, reason.toString('utf8')));
ws.once('message', function (data, isBinary) {
  expectType<Same<typeof this, WebSocket>>();
  if (!isBinary) console.log(data.toString());
});
const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
  if (Buffer.isBuffer(data)) console.log(data.length, isBinary);
  else if (Array.isArray(data)) console.log(Buffer.concat(data).length);
  else console.log(data.byteLength);
};
ws.on('message', onMessage);
ws.off('message', onMessage);
ws.addListener('message', onMessage);
ws.removeListener('message', onMessage);
const onError = (err: Error) => console.error(err.message);
ws.addListener('error', onError).removeListener('error', onError);
ws.on('upgrade', (req) => console.log(req.headers));
ws.on('unexpected-response', (req, res) => console.log(req.path, res.statusCode));
ws.on('redirect', (url, req) => console.log(url, req.method));
ws.on('custom', (...args: any[]) => console.log(args));
ws.removeAllListeners('message');
const handler: Parameters<typeof ws.once>[1] = () => {};
ws.off('anything', handler);

// DOM-style events.
ws.onopen = (event) => console.log(event.type, event.target.url);
ws.onmessage = (event: WebSocket.MessageEvent) => {
  expectType<Same<typeof event.data, WebSocket.Data>>();
  if (typeof event.data === 'string') console.log(event.data.length);
};
ws.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
ws.onerror = (event) => console.log(event.message, event.error);
ws.onmessage = null;
ws.addEventListener('message', (event) => console.log(event.data), { once: true });
const listener = { handleEvent: (event: WebSocket.CloseEvent) => console.log(event.code) };
ws.addEventListener('close', listener);
ws.removeEventListener('close', listener);

// createWebSocketStream: from the namespace and as a named import.
const duplex = WebSocket.createWebSocketStream(ws, { allowHalfOpen: false });
duplex.pipe(process.stdout);
process.stdin.pipe(duplex);
const duplex2 = createWebSocketStream(ws);
duplex2.on('data', (chunk: Buffer) => duplex2.write(chunk));
duplex2.end();

// The client constructor, as in ws.
function connect(): WebSocket {
  const client = new WebSocket('ws://localhost:8080', ['chat'], { handshakeTimeout: 1000, headers: { a: 'b' } });
  client.on('open', () => client.send('hi'));
  return client;
}

export { state, constants, instanceConstants, paused, buffered, protocol, extensions, connect };

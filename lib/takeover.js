'use strict';

// Handing a socket Node accepted or connected over to Rust.
//
// Where Rust cannot own a socket (a build without native sockets: Windows,
// where there is no fd to take over and no reactor), Node keeps every
// socket: servers listen through Node's own HTTP server and every
// connection takes the bridged path (Node moves the bytes; Rust keeps
// framing, limits, UTF-8 checks and the close handshake).
// WSRS_NODE_SOCKETS=1 selects that path on any platform, so that it is
// tested on Linux too.

const { nativeSockets } = require('./addon');

const NODE_SOCKETS = !nativeSockets() || process.env.WSRS_NODE_SOCKETS === '1';

/** The file descriptor of a plain TCP socket, or -1 (TLS, pipes, other Duplex streams). */
function fdOf(socket) {
  if (NODE_SOCKETS) return -1;
  const handle = socket && socket._handle;
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0) return -1;
  if (socket.encrypted || handle.constructor.name !== 'TCP') return -1;
  return handle.fd;
}

/**
 * Calls `adopt(fd, preread)` (which duplicates the fd in Rust) with the bytes
 * Node had already read past the handshake (`head` and anything buffered),
 * then closes Node's copy without touching the connection.
 */
function takeOver(socket, head, adopt) {
  // Node caches these on first read: keep `req.socket.remoteAddress` & co.
  // answering after Node's handle is gone.
  void socket.remoteAddress;
  void socket.localAddress;
  const chunks = head && head.length ? [head] : [];
  if (socket.readableLength > 0) {
    const buffered = socket.read(socket.readableLength);
    if (buffered) chunks.push(buffered);
  }
  adopt(fdOf(socket), Buffer.concat(chunks));
  socket.removeAllListeners('data');
  socket.on('error', () => {});
  socket.destroy();
  return true;
}

module.exports = { NODE_SOCKETS, fdOf, takeOver };

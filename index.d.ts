// Type definitions for wsrs: the `ws` v8 API, with Rust owning the sockets.
//
// The shape follows @types/ws (the types TypeScript users of ws compile
// against): the module is the WebSocket class, merged with a namespace that
// holds the server, the helpers and the option types, and it is exported with
// `export =`. Every name @types/ws exports is here, and a wsrs WebSocket or
// server can be passed where @types/ws's types are expected. Where wsrs
// differs from ws at runtime, the JSDoc says so.
//
// One file serves both entry points: index.mjs's default export is this same
// class (with `.Server`, `.WebSocketServer`, ...), and its named exports
// (`WebSocket`, `WebSocketServer`, `createWebSocketStream`) are members of the
// namespace. ws's other named exports (`Sender`, `subprotocol`, `Receiver`,
// `PerMessageDeflate`, `extension`), which index.mjs and index.js have too,
// are not declared, as @types/ws does not declare them: a value here that
// @types/ws lacks would make ws's types no longer assignable to wsrs's.

/// <reference types="node" />

import { EventEmitter } from 'events';
import {
  Agent,
  ClientRequest,
  ClientRequestArgs,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server as HTTPServer
} from 'http';
import { Server as HTTPSServer } from 'https';
import { createConnection } from 'net';
import { Duplex, DuplexOptions } from 'stream';
import { SecureContextOptions } from 'tls';
import { URL } from 'url';
import { ZlibOptions } from 'zlib';

/**
 * What `send()` accepts: a string (sent as a text message unless
 * `binary: true`), a number (sent as its decimal string), or anything
 * `Buffer.from()` takes, or a `Blob` (sent as a binary message unless
 * `binary: false`, after its bytes are read; later sends wait behind it).
 */
type SendData =
  | string
  | number
  | Blob
  | Buffer
  | DataView
  | ArrayBufferView
  | Uint8Array
  | ArrayBuffer
  | SharedArrayBuffer
  | readonly any[]
  | readonly number[]
  | { valueOf(): ArrayBuffer }
  | { valueOf(): SharedArrayBuffer }
  | { valueOf(): Uint8Array }
  | { valueOf(): readonly number[] }
  | { valueOf(): string }
  | { [Symbol.toPrimitive](hint: string): string };

/**
 * A WebSocket connection: a server-side socket (what a
 * {@link WebSocket.Server} hands to its `'connection'` listeners) or a
 * client (`new WebSocket(url)`). Either way Rust owns the connection.
 */
declare class WebSocket extends EventEmitter {
  /** The connection is not yet open. */
  static readonly CONNECTING: 0;
  /** The connection is open and ready to communicate. */
  static readonly OPEN: 1;
  /** The connection is in the process of closing. */
  static readonly CLOSING: 2;
  /** The connection is closed. */
  static readonly CLOSED: 3;

  /** The connection is not yet open. */
  readonly CONNECTING: 0;
  /** The connection is open and ready to communicate. */
  readonly OPEN: 1;
  /** The connection is in the process of closing. */
  readonly CLOSING: 2;
  /** The connection is closed. */
  readonly CLOSED: 3;

  /**
   * How binary messages are handed to `'message'` listeners: a `Buffer`
   * (default), an `ArrayBuffer`, or a `Buffer[]`. (wsrs, like ws, also accepts
   * `'blob'` at runtime; it is left out here as in @types/ws, so that the
   * two packages' types stay assignable to each other.)
   */
  binaryType: 'nodebuffer' | 'arraybuffer' | 'fragments';
  /** Bytes queued by `send()` but not yet written to the network. */
  readonly bufferedAmount: number;
  /** The negotiated extensions (`'permessage-deflate'` or `''`), as in ws. */
  readonly extensions: string;
  /** Whether the socket is paused (see `pause()`). */
  readonly isPaused: boolean;
  /** The subprotocol the server selected, or `''`. */
  readonly protocol: string;
  /** The state of the connection: one of the `CONNECTING`, `OPEN`, `CLOSING`, `CLOSED` constants. */
  readonly readyState:
    | typeof WebSocket.CONNECTING
    | typeof WebSocket.OPEN
    | typeof WebSocket.CLOSING
    | typeof WebSocket.CLOSED;
  /** The URL of a client connection (server-side sockets have none, as in ws). */
  readonly url: string;

  onopen: ((event: WebSocket.Event) => void) | null;
  onerror: ((event: WebSocket.ErrorEvent) => void) | null;
  onclose: ((event: WebSocket.CloseEvent) => void) | null;
  onmessage: ((event: WebSocket.MessageEvent) => void) | null;

  /** A server-side socket (what {@link WebSocket.Server} constructs for each connection). */
  constructor(address: null);
  /**
   * Connects to `address` (`ws:`, `wss:`, `http:`, `https:` or `ws+unix:`)
   * as a client. Node's HTTP client makes the opening handshake (TLS and
   * agent options as in ws); then Rust owns the connection.
   */
  constructor(address: string | URL, options?: WebSocket.ClientOptions | ClientRequestArgs);
  /**
   * Connects to `address` (`ws:`, `wss:`, `http:`, `https:` or `ws+unix:`)
   * as a client. Node's HTTP client makes the opening handshake (TLS and
   * agent options as in ws); then Rust owns the connection.
   */
  constructor(
    address: string | URL,
    protocols?: string | string[],
    options?: WebSocket.ClientOptions | ClientRequestArgs
  );

  /**
   * Starts the closing handshake: sends a close frame with `code` (1000-1014
   * except 1004-1006, or 3000-4999; throws otherwise) and `data` (at most 123
   * bytes), and waits up to `closeTimeout` ms for the peer's.
   */
  close(code?: number, data?: string | Buffer): void;
  /** Sends a ping (at most 125 bytes of data). */
  ping(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
  /** Sends an unsolicited pong (at most 125 bytes of data). */
  pong(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
  /**
   * Sends a message. `cb` is called once the data is written (with no error)
   * or lost (with one).
   */
  send(data: SendData, cb?: (err?: Error) => void): void;
  /**
   * Sends a message. `options.binary` overrides the message type (by default
   * strings are text and everything else binary); `options.fin: false` sends
   * a fragment, continued by the following `send()` calls. `compress: false`
   * sends it uncompressed where permessage-deflate was negotiated; `mask` is
   * accepted for compatibility with ws and ignored (server frames are
   * unmasked, client frames always masked).
   */
  send(data: SendData, options: WebSocket.SendOptions, cb?: (err?: Error) => void): void;
  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void;

  // wsrs only: topics for `Server#publish()`. Always present at runtime;
  // optional in the type only, so that wsrs sockets stay assignable to and
  // from @types/ws's (libraries typed against ws take them). Call them as
  // `ws.subscribe!('room')`.
  /** wsrs only. Subscribes this socket to `topic`; false if it already was. */
  subscribe?(topic: string): boolean;
  /** wsrs only. Returns false if it was not subscribed. */
  unsubscribe?(topic: string): boolean;
  /** wsrs only. */
  isSubscribed?(topic: string): boolean;
  /** wsrs only. The topics this socket is subscribed to. */
  getTopics?(): string[];

  /**
   * Stops emitting `'message'` (and reading from the network) until
   * `resume()`. A no-op while `CONNECTING` or once `CLOSED`.
   */
  pause(): void;
  /** Undoes `pause()`. A no-op while `CONNECTING` or once `CLOSED`. */
  resume(): void;

  // DOM-style events ('open', 'message', 'close', 'error'), on top of the
  // EventEmitter ones.
  addEventListener<K extends keyof WebSocket.WebSocketEventMap>(
    type: K,
    listener:
      | ((event: WebSocket.WebSocketEventMap[K]) => void)
      | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void },
    options?: WebSocket.EventListenerOptions
  ): void;
  removeEventListener<K extends keyof WebSocket.WebSocketEventMap>(
    type: K,
    listener:
      | ((event: WebSocket.WebSocketEventMap[K]) => void)
      | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void }
  ): void;

  // EventEmitter events. 'upgrade', 'redirect' and 'unexpected-response' are
  // client events: they never fire on server-side sockets.

  /**
   * The connection is closed. `code` is the peer's close code (1005 if its
   * close frame had none, 1006 if there was no close frame), `reason` its
   * reason (empty if none).
   */
  on(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  /**
   * A protocol error of the peer (the connection is then closed with the
   * matching code). Unlike ws, wsrs emits it only if there is a listener: a
   * misbehaving peer never crashes a process that has none.
   */
  on(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  on(event: 'upgrade', listener: (this: WebSocket, request: IncomingMessage) => void): this;
  /** `data` is a `Buffer` for text messages too; `isBinary` tells which it was. */
  on(event: 'message', listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
  on(event: 'open', listener: (this: WebSocket) => void): this;
  on(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  /** wsrs only: the writes a slow peer had stalled are all written. */
  on(event: 'drain', listener: (this: WebSocket) => void): this;
  on(event: 'redirect', listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
  on(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void
  ): this;
  on(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;

  once(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  once(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  once(event: 'upgrade', listener: (this: WebSocket, request: IncomingMessage) => void): this;
  once(event: 'message', listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
  once(event: 'open', listener: (this: WebSocket) => void): this;
  once(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  once(event: 'redirect', listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
  once(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void
  ): this;
  once(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;

  off(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  off(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  off(event: 'upgrade', listener: (this: WebSocket, request: IncomingMessage) => void): this;
  off(event: 'message', listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
  off(event: 'open', listener: (this: WebSocket) => void): this;
  off(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  off(event: 'redirect', listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
  off(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void
  ): this;
  off(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;

  addListener(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  addListener(event: 'error', listener: (error: Error) => void): this;
  addListener(event: 'upgrade', listener: (request: IncomingMessage) => void): this;
  addListener(event: 'message', listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
  addListener(event: 'open', listener: () => void): this;
  addListener(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  addListener(event: 'redirect', listener: (url: string, request: ClientRequest) => void): this;
  addListener(event: 'unexpected-response', listener: (request: ClientRequest, response: IncomingMessage) => void): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;

  removeListener(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  removeListener(event: 'error', listener: (error: Error) => void): this;
  removeListener(event: 'upgrade', listener: (request: IncomingMessage) => void): this;
  removeListener(event: 'message', listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
  removeListener(event: 'open', listener: () => void): this;
  removeListener(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  removeListener(event: 'redirect', listener: (url: string, request: ClientRequest) => void): this;
  removeListener(
    event: 'unexpected-response',
    listener: (request: ClientRequest, response: IncomingMessage) => void
  ): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

// The class under a second name, so that the namespace below can re-export it
// as `WebSocket.WebSocket` (a value and a type) without naming itself.
declare const WebSocketClass: typeof WebSocket;
interface WebSocketClass extends WebSocket {}

declare namespace WebSocket {
  /**
   * A received message, as `'message'` listeners get it: a `Buffer` (text
   * messages, and binary ones with the default `binaryType`), an
   * `ArrayBuffer` (`binaryType = 'arraybuffer'`) or a `Buffer[]`
   * (`binaryType = 'fragments'`).
   */
  type RawData = Buffer | ArrayBuffer | Buffer[];

  /** A message as DOM-style listeners get it (`MessageEvent#data`): text messages are strings. */
  type Data = string | Buffer | ArrayBuffer | Buffer[];

  /** Certificate and key data (client TLS options). */
  type CertMeta = string | string[] | Buffer | Buffer[];

  /** What `verifyClient` gets about an upgrade request. */
  interface VerifyClientInfo<Request extends IncomingMessage = IncomingMessage> {
    /**
     * The `Origin` header (`Sec-WebSocket-Origin` for protocol version 8).
     * Typed `string` as in @types/ws, but `undefined` at runtime when the
     * request has no such header.
     */
    origin: string;
    /** Whether the request came over TLS (`req.socket.authorized || req.socket.encrypted`). */
    secure: boolean;
    req: Request;
  }

  /**
   * A synchronous `verifyClient` hook (it takes one parameter): return
   * `false` to refuse the upgrade with 401.
   */
  type VerifyClientCallbackSync<Request extends IncomingMessage = IncomingMessage> = (info: {
    origin: string;
    secure: boolean;
    req: Request;
  }) => boolean;

  /**
   * An asynchronous `verifyClient` hook (it takes two parameters): call
   * `callback(true)` to accept the upgrade, or `callback(false, code,
   * message, headers)` to refuse it (401 by default).
   */
  type VerifyClientCallbackAsync<Request extends IncomingMessage = IncomingMessage> = (
    info: { origin: string; secure: boolean; req: Request },
    callback: (res: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void
  ) => void;

  /**
   * The `verifyClient` server option: synchronous or asynchronous, told apart
   * at runtime by the number of parameters the function declares (as in ws).
   *
   * - One parameter: return `true` to accept the upgrade, `false` to refuse
   *   it with 401.
   * - Two parameters: call `callback(true)` to accept, or
   *   `callback(false, code, message, headers)` to refuse (401 by default).
   *
   * One signature covers both, so that an inline arrow function gets its
   * parameters typed either way (with @types/ws's union of the two, a
   * one-parameter arrow function has an implicitly `any` parameter), and a
   * hook returning a Promise (always "true" to a synchronous check) is a type
   * error. {@link VerifyClientCallbackSync} and
   * {@link VerifyClientCallbackAsync} functions are both assignable to it.
   */
  type VerifyClientCallback<Request extends IncomingMessage = IncomingMessage> = (
    info: VerifyClientInfo<Request>,
    callback: (res: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void
  ) => boolean | void;

  /** Client option: last-minute changes to the upgrade request (see ws). */
  type FinishRequestCallback = (request: ClientRequest, websocket: WebSocket) => void;

  /** `send()`'s options. */
  interface SendOptions {
    /** Ignored by wsrs (server frames are never masked). */
    mask?: boolean | undefined;
    /** Send as a binary (true) or text (false) message. Defaults to `typeof data !== 'string'`. */
    binary?: boolean | undefined;
    /** With permessage-deflate negotiated: compress it (the default) or not. */
    compress?: boolean | undefined;
    /** Whether this is the last fragment of the message. Defaults to `true`. */
    fin?: boolean | undefined;
  }

  /**
   * Options of the client constructor, as in ws (`perMessageDeflate` is
   * offered by default, as ws does), plus wsrs's `maxBufferedAmount` and
   * `backpressure`.
   */
  interface ClientOptions extends SecureContextOptions {
    protocol?: string | undefined;
    followRedirects?: boolean | undefined;
    generateMask?(mask: Buffer): void;
    handshakeTimeout?: number | undefined;
    maxRedirects?: number | undefined;
    perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
    localAddress?: string | undefined;
    protocolVersion?: number | undefined;
    headers?: { [key: string]: string } | undefined;
    origin?: string | undefined;
    agent?: Agent | undefined;
    host?: string | undefined;
    family?: number | undefined;
    checkServerIdentity?(servername: string, cert: CertMeta): boolean;
    rejectUnauthorized?: boolean | undefined;
    allowSynchronousEvents?: boolean | undefined;
    autoPong?: boolean | undefined;
    closeTimeout?: number | undefined;
    maxPayload?: number | undefined;
    maxBufferedChunks?: number | undefined;
    maxFragments?: number | undefined;
    maxPendingAutoPongs?: number | undefined;
    skipUTF8Validation?: boolean | undefined;
    createConnection?: typeof createConnection | undefined;
    finishRequest?: FinishRequestCallback | undefined;
  }

  /**
   * permessage-deflate settings, as ws's (negotiation follows ws's rules; of
   * `zlibDeflateOptions` only `level` applies, see the README).
   */
  interface PerMessageDeflateOptions {
    serverNoContextTakeover?: boolean | undefined;
    clientNoContextTakeover?: boolean | undefined;
    serverMaxWindowBits?: number | undefined;
    clientMaxWindowBits?: number | undefined;
    zlibDeflateOptions?:
      | {
          flush?: number | undefined;
          finishFlush?: number | undefined;
          chunkSize?: number | undefined;
          windowBits?: number | undefined;
          level?: number | undefined;
          memLevel?: number | undefined;
          strategy?: number | undefined;
          dictionary?: Buffer | Buffer[] | DataView | undefined;
          info?: boolean | undefined;
        }
      | undefined;
    zlibInflateOptions?: ZlibOptions | undefined;
    threshold?: number | undefined;
    concurrencyLimit?: number | undefined;
  }

  /** wsrs's native heartbeat (the `heartbeat` server option). */
  interface HeartbeatOptions {
    /**
     * Milliseconds of silence after which a connection is pinged. Anything
     * received from the peer (a message, a pong, any frame) counts as a sign
     * of life.
     */
    interval: number;
    /**
     * Milliseconds a pinged connection may stay silent before it is
     * terminated (its `'close'` event then has code 1006). Defaults to
     * `interval`.
     */
    timeout?: number | undefined;
  }

  interface Event {
    type: string;
    target: WebSocket;
  }

  interface ErrorEvent {
    error: any;
    message: string;
    type: string;
    target: WebSocket;
  }

  interface CloseEvent {
    wasClean: boolean;
    code: number;
    reason: string;
    type: string;
    target: WebSocket;
  }

  interface MessageEvent {
    data: Data;
    type: string;
    target: WebSocket;
  }

  interface WebSocketEventMap {
    open: Event;
    error: ErrorEvent;
    close: CloseEvent;
    message: MessageEvent;
  }

  interface EventListenerOptions {
    once?: boolean | undefined;
  }

  /**
   * Server options. Exactly one of `port`, `server` and `noServer` must be
   * given (the constructor throws a TypeError otherwise).
   *
   * - `port`: wsrs listens itself, in Rust, and reads the upgrade requests
   *   there (`handshakeTimeout` and `maxHeaderSize` apply).
   * - `server`: mounted on a Node `http.Server`, whose `'upgrade'` events it
   *   handles; Rust takes each accepted connection over from Node.
   * - `noServer`: call `handleUpgrade()` yourself.
   */
  interface ServerOptions<
    U extends typeof WebSocket.WebSocket = typeof WebSocket.WebSocket,
    V extends typeof IncomingMessage = typeof IncomingMessage
  > {
    /** The address to listen on (`port` mode). Default: all interfaces (`::`, dual-stack). */
    host?: string | undefined;
    /** The port to listen on (0 for an ephemeral one). */
    port?: number | undefined;
    /** The listen backlog (`port` mode). Default: 511. */
    backlog?: number | undefined;
    /**
     * An HTTP server to attach to. wsrs takes over plain TCP connections
     * only: upgrades arriving over TLS (an `https.Server`) are not supported
     * yet (`handleUpgrade()` throws a TypeError).
     */
    server?: HTTPServer<V> | HTTPSServer<V> | undefined;
    /**
     * A hook to accept or refuse upgrade requests: synchronous if it takes
     * one parameter (return `false` to refuse with 401), asynchronous if it
     * takes two (call `callback(false, code?, message?, headers?)` to refuse).
     * See {@link VerifyClientCallback}.
     */
    verifyClient?: VerifyClientCallback<InstanceType<V>> | undefined;
    /**
     * Picks the subprotocol among those the client offered; return `false`
     * to answer with none. Default: the first one offered.
     */
    handleProtocols?: (protocols: Set<string>, request: InstanceType<V>) => string | false;
    /** Accept only requests for this path (others get 400). */
    path?: string | undefined;
    /** Don't listen nor attach to a server: the caller calls `handleUpgrade()`. */
    noServer?: boolean | undefined;
    /** Accepted for compatibility with ws; it has no effect in wsrs. Default: `true`. */
    allowSynchronousEvents?: boolean | undefined;
    /** Whether pings are answered with a pong automatically (by Rust, at once). Default: `true`. */
    autoPong?: boolean | undefined;
    /** Whether to keep the open connections in `server.clients`. Default: `true`. */
    clientTracking?: boolean | undefined;
    /**
     * Milliseconds to wait for the peer's close frame after `close()` before
     * the connection is destroyed. Default: 30000.
     */
    closeTimeout?: number | undefined;
    /** permessage-deflate (RFC 7692), negotiated as ws does. Default: false. */
    perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
    /** The largest message accepted, in bytes (larger ones close the connection with 1009). Default: 100 MiB. */
    maxPayload?: number | undefined;
    /** Accepted for compatibility with ws; it has no effect in wsrs. Default: 262144. */
    maxBufferedChunks?: number | undefined;
    /** The most fragments a message may have (more close the connection with 1008); 0 = no limit. Default: 16384. */
    maxFragments?: number | undefined;
    /**
     * The most automatic pongs that may wait to be written to a peer that is
     * not reading; a peer that pings beyond that is terminated. 0 = no limit.
     * Default: 60.
     */
    maxPendingAutoPongs?: number | undefined;
    /** Skip the UTF-8 validation of text messages and close reasons. Default: `false`. */
    skipUTF8Validation?: boolean | undefined;
    /** The class of the sockets the server creates: `WebSocket` or a subclass of it. */
    WebSocket?: U | undefined;

    // wsrs's own options.

    /**
     * wsrs only. A heartbeat run by Rust, instead of the usual
     * `setInterval` + `ping()` + `'pong'` bookkeeping in JS: every
     * connection of this server that has been silent for `interval` ms is
     * pinged, and one that stays silent `timeout` ms after that ping is
     * terminated. A number is the interval (the timeout is then the same).
     * Anything received from the peer counts as a sign of life.
     *
     * Default: off (`undefined` or `false`), as in ws.
     *
     * @example
     * new WebSocketServer({ port: 8080, heartbeat: 30000 });
     * new WebSocketServer({ port: 8080, heartbeat: { interval: 30000, timeout: 10000 } });
     */
    heartbeat?: number | HeartbeatOptions | false | undefined;
    /**
     * wsrs only (`port` mode). Milliseconds a new connection has to send a
     * complete upgrade request; slower ones are dropped. Default: 30000.
     */
    handshakeTimeout?: number | undefined;
    /**
     * wsrs only (`port` mode). The largest upgrade request head accepted, in
     * bytes; larger ones are answered with 431 (Request Header Fields Too
     * Large). Default: 16384.
     */
    maxHeaderSize?: number | undefined;
    /**
     * wsrs only. The most bytes a socket may have queued for a peer that does
     * not read (0 = no limit). Past it, `backpressure` decides. Default: 16 MiB.
     */
    maxBufferedAmount?: number | undefined;
    /**
     * wsrs only. What a send past `maxBufferedAmount` does: `'close'`
     * terminates the connection (an `'error'` with code
     * `WSRS_ERR_BUFFER_FULL`, then `'close'` 1006); `'drop'` discards the
     * message (its callback gets that error) and keeps the connection.
     * Default: `'close'`.
     */
    backpressure?: 'close' | 'drop' | undefined;
    /** wsrs only. Upgrades past this many open connections get 503 (0 = no limit). Default: 0. */
    maxConnections?: number | undefined;
    /**
     * wsrs only (the name is Node's own `net` listen option). With `port`,
     * binds with SO_REUSEPORT, so that one server per worker thread or per
     * process shares the port and the kernel spreads the connections between
     * them. Linux and FreeBSD; elsewhere the constructor throws. Default: false.
     */
    reusePort?: boolean | undefined;
    /**
     * wsrs only. Publishes reach the subscribers of every server, in every
     * process and on every machine, that names the same Redis (README:
     * "Scaling out"): a URL, or `{ url, prefix, outbox }`.
     */
    redis?: string | RedisOptions | undefined;
  }

  /** The `redis` server option as an object (wsrs only). */
  interface RedisOptions {
    /** `redis://[user:password@]host:port[/db]` or `redis+unix:///path`. */
    url: string;
    /** A topic's Redis channel is `prefix + topic`. Default: `'wsrs:'`. */
    prefix?: string | undefined;
    /** Publishes Redis has not taken yet (in an outage, all of them), at least 1. Default: 10000. */
    outbox?: number | undefined;
  }

  /** `Server#redisStats` (wsrs only). */
  interface RedisStats {
    connected: boolean;
    /** Publishes Redis took. */
    published: number;
    /** Messages from other processes fanned out here. */
    received: number;
    /** Publishes the full outbox refused. */
    dropped: number;
    /** Publishes in flight on a connection that was lost (never repeated). */
    lost: number;
    /** Messages on our channels that were not ours (ignored). */
    malformed: number;
    /** Pipelines of publishes in which Redis refused a command (e.g. an ACL on a channel). */
    refused: number;
    reconnects: number;
    /** Publishes waiting for Redis. */
    outbox: number;
  }

  /** Options of `Server#publish()` and `Server#broadcast()` (wsrs only). */
  interface PublishOptions {
    /** Send as a binary frame. Default: true unless the data is a string. */
    binary?: boolean | undefined;
    /** A socket to leave out (e.g. the sender). */
    except?: WebSocket | undefined;
  }

  /** The address a server listens on (see `Server#address()`). */
  interface AddressInfo {
    address: string;
    family: string;
    port: number;
  }

  /**
   * A WebSocket server. `T` is the class of its sockets (the `WebSocket`
   * option), `U` the class of the upgrade requests (that of the `server`'s
   * `IncomingMessage`).
   */
  class Server<
    T extends typeof WebSocket.WebSocket = typeof WebSocket.WebSocket,
    U extends typeof IncomingMessage = typeof IncomingMessage
  > extends EventEmitter {
    /** The options, with the defaults filled in. */
    options: ServerOptions<T, U>;
    /** Declared by @types/ws; never set at runtime (neither by ws nor by wsrs). Use `options.path`. */
    path: string;
    /** The open connections (`undefined` when `clientTracking: false`). */
    clients: Set<InstanceType<T>>;

    /**
     * @param options exactly one of `port`, `server` and `noServer` is required.
     * @param callback a `'listening'` listener (`port` mode).
     */
    constructor(options?: ServerOptions<T, U>, callback?: () => void);

    /**
     * The address the server listens on: that of the `server` in `server`
     * mode, `null` before listening or after `close()`. Throws in `noServer`
     * mode.
     */
    address(): AddressInfo | string | null;
    /**
     * Stops accepting connections; open ones stay open, as in ws. `'close'`
     * (and `cb`) follow once the server's connections have ended. `cb` gets
     * an error if the server was already closed.
     */
    close(cb?: (err?: Error) => void): void;
    /**
     * Completes (or refuses) the upgrade of an HTTP request, as in ws; `callback`
     * gets the open socket. wsrs then owns the connection: `socket` must be a
     * plain TCP `net.Socket` (a TLS socket or another Duplex makes it throw a
     * TypeError).
     */
    handleUpgrade(
      request: InstanceType<U>,
      socket: Duplex,
      upgradeHead: Buffer,
      callback: (client: InstanceType<T>, request: InstanceType<U>) => void
    ): void;
    /**
     * Whether the request's path matches the `path` option. `handleUpgrade()`
     * calls it synchronously (as ws does): a subclass must return a boolean
     * (a Promise would count as `true`). The `Promise` in the return type is
     * @types/ws's, kept so that wsrs and ws servers stay assignable to each other.
     */
    shouldHandle(request: InstanceType<U>): boolean | Promise<boolean>;
    /**
     * wsrs only. Sends `data` to every socket subscribed to `topic`, framed
     * once and fanned out in Rust. Returns the number of recipients.
     * (Like the socket's topic methods, optional in the type only, to keep
     * wsrs and @types/ws servers assignable to each other: call it as
     * `wss.publish!(...)`.)
     */
    publish?(topic: string, data: string | Buffer | ArrayBuffer | ArrayBufferView, options?: PublishOptions): number;
    /** wsrs only, with the `redis` option: the link's counters (undefined without it). */
    readonly redisStats?: RedisStats | undefined;
    /**
     * wsrs only: resolves once Redis has confirmed every subscription the
     * process made so far (at once without the `redis` option).
     */
    redisSynced?(): Promise<void>;
    /** wsrs only: connections the native heartbeat has terminated so far. */
    readonly heartbeatReaped?: number;
    /**
     * wsrs only. Sends `data` (string, Buffer, ArrayBuffer or a view) to every
     * open socket of this server, like `clients.forEach(c => c.send(data))`
     * but framed once and fanned out in Rust; `options` as for `publish`.
     * Returns the number of recipients.
     *
     * Typed loosely on purpose: ws code often defines its own `broadcast`
     * (`wss.broadcast = function (data) { ... }`, or in a subclass), which
     * must keep compiling (and, at runtime, simply replaces this one).
     */
    broadcast?(data: any, options?: any): any;

    // Events. 'connection': an upgrade completed (with the request it came
    // in); 'headers': the 101 response's header lines, which a listener may
    // add to before they are sent; 'wsClientError': an invalid upgrade
    // request, which the listener must answer (without one, wsrs answers with
    // the matching 4xx as ws does); 'error': e.g. the port is in use.
    on(event: 'connection', cb: (this: Server<T>, websocket: InstanceType<T>, request: InstanceType<U>) => void): this;
    on(event: 'error', cb: (this: Server<T>, error: Error) => void): this;
    on(event: 'headers', cb: (this: Server<T>, headers: string[], request: InstanceType<U>) => void): this;
    on(event: 'close' | 'listening', cb: (this: Server<T>) => void): this;
    on(event: 'redisReady', cb: (this: Server<T>) => void): this;
    on(event: 'redisOverflow', cb: (this: Server<T>, info: { dropped: number; total: number }) => void): this;
    on(
      event: 'wsClientError',
      cb: (this: Server<T>, error: Error, socket: Duplex, request: InstanceType<U>) => void
    ): this;
    on(event: string | symbol, listener: (this: Server<T>, ...args: any[]) => void): this;

    once(event: 'connection', cb: (this: Server<T>, websocket: InstanceType<T>, request: InstanceType<U>) => void): this;
    once(event: 'error', cb: (this: Server<T>, error: Error) => void): this;
    once(event: 'headers', cb: (this: Server<T>, headers: string[], request: InstanceType<U>) => void): this;
    once(event: 'close' | 'listening', cb: (this: Server<T>) => void): this;
    once(event: 'redisReady', cb: (this: Server<T>) => void): this;
    once(event: 'redisOverflow', cb: (this: Server<T>, info: { dropped: number; total: number }) => void): this;
    once(
      event: 'wsClientError',
      cb: (this: Server<T>, error: Error, socket: Duplex, request: InstanceType<U>) => void
    ): this;
    once(event: string | symbol, listener: (this: Server<T>, ...args: any[]) => void): this;

    off(event: 'connection', cb: (this: Server<T>, websocket: InstanceType<T>, request: InstanceType<U>) => void): this;
    off(event: 'error', cb: (this: Server<T>, error: Error) => void): this;
    off(event: 'headers', cb: (this: Server<T>, headers: string[], request: InstanceType<U>) => void): this;
    off(event: 'close' | 'listening', cb: (this: Server<T>) => void): this;
    off(event: 'redisReady', cb: (this: Server<T>) => void): this;
    off(event: 'redisOverflow', cb: (this: Server<T>, info: { dropped: number; total: number }) => void): this;
    off(
      event: 'wsClientError',
      cb: (this: Server<T>, error: Error, socket: Duplex, request: InstanceType<U>) => void
    ): this;
    off(event: string | symbol, listener: (this: Server<T>, ...args: any[]) => void): this;

    addListener(event: 'connection', cb: (websocket: InstanceType<T>, request: InstanceType<U>) => void): this;
    addListener(event: 'error', cb: (error: Error) => void): this;
    addListener(event: 'headers', cb: (headers: string[], request: InstanceType<U>) => void): this;
    addListener(event: 'close' | 'listening', cb: () => void): this;
    addListener(event: 'wsClientError', cb: (error: Error, socket: Duplex, request: InstanceType<U>) => void): this;
    addListener(event: string | symbol, listener: (...args: any[]) => void): this;

    removeListener(event: 'connection', cb: (websocket: InstanceType<T>, request: InstanceType<U>) => void): this;
    removeListener(event: 'error', cb: (error: Error) => void): this;
    removeListener(event: 'headers', cb: (headers: string[], request: InstanceType<U>) => void): this;
    removeListener(event: 'close' | 'listening', cb: () => void): this;
    removeListener(event: 'wsClientError', cb: (error: Error, socket: Duplex, request: InstanceType<U>) => void): this;
    removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  /** The server class (the same as `Server`). */
  const WebSocketServer: typeof Server;
  interface WebSocketServer extends Server {}

  /** The WebSocket class itself (`require('wsrs').WebSocket === require('wsrs')`). */
  const WebSocket: typeof WebSocketClass;
  interface WebSocket extends WebSocketClass {}

  /**
   * A Duplex stream over `websocket`: what is written is sent as messages,
   * received messages are read. Ending the stream closes the WebSocket;
   * destroying it terminates the connection.
   */
  function createWebSocketStream(websocket: WebSocket, options?: DuplexOptions): Duplex;
}

export = WebSocket;

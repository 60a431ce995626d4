// A small stand-in for @types/node, so that the type tests run with nothing
// but `typescript` installed. It declares the parts of Node's API that
// index.d.ts and the fixtures use, with the same names and shapes as
// @types/node (a subset of its members; the same generics where it matters,
// e.g. http.Server<Request>). The test is also run against the real
// @types/node when that package is installed.

// ---- globals -----------------------------------------------------------------

type BufferEncoding =
  | 'ascii'
  | 'utf8'
  | 'utf-8'
  | 'utf16le'
  | 'utf-16le'
  | 'ucs2'
  | 'ucs-2'
  | 'base64'
  | 'base64url'
  | 'latin1'
  | 'binary'
  | 'hex';

interface Buffer extends Uint8Array {
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  toJSON(): { type: 'Buffer'; data: number[] };
  equals(otherBuffer: Uint8Array): boolean;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  write(string: string, encoding?: BufferEncoding): number;
}

interface BufferConstructor {
  new (str: string, encoding?: BufferEncoding): Buffer;
  from(data: string, encoding?: BufferEncoding): Buffer;
  from(arrayBuffer: ArrayBuffer | SharedArrayBuffer, byteOffset?: number, length?: number): Buffer;
  from(data: Uint8Array | readonly number[]): Buffer;
  alloc(size: number, fill?: string | number): Buffer;
  allocUnsafe(size: number): Buffer;
  concat(list: readonly Uint8Array[], totalLength?: number): Buffer;
  isBuffer(obj: any): obj is Buffer;
  byteLength(string: string | ArrayBufferView | ArrayBuffer, encoding?: BufferEncoding): number;
  readonly prototype: Buffer;
}
declare var Buffer: BufferConstructor;

declare class Blob {
  constructor(sources?: Array<ArrayBuffer | ArrayBufferView | Blob | string>, options?: { type?: string });
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  slice(start?: number, end?: number, type?: string): Blob;
}

declare namespace NodeJS {
  interface Timeout {
    ref(): this;
    unref(): this;
    hasRef(): boolean;
    refresh(): this;
    [Symbol.toPrimitive](): number;
  }
  interface Require {
    (id: string): any;
    resolve(id: string): string;
  }
  interface ProcessEnv {
    [key: string]: string | undefined;
  }
  interface Process extends import('events').EventEmitter {
    env: ProcessEnv;
    argv: string[];
    pid: number;
    exitCode?: number | string | undefined;
    stdout: import('stream').Writable;
    stderr: import('stream').Writable;
    stdin: import('stream').Readable;
    exit(code?: number): never;
    nextTick(callback: (...args: any[]) => void, ...args: any[]): void;
    memoryUsage(): { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  }
}

declare var process: NodeJS.Process;
declare var require: NodeJS.Require;
declare var module: { exports: any };
declare var __dirname: string;
declare var __filename: string;

interface Console {
  log(...data: any[]): void;
  info(...data: any[]): void;
  warn(...data: any[]): void;
  error(...data: any[]): void;
  debug(...data: any[]): void;
}
declare var console: Console;

declare function setTimeout<TArgs extends any[]>(callback: (...args: TArgs) => void, ms?: number, ...args: TArgs): NodeJS.Timeout;
declare function setInterval<TArgs extends any[]>(callback: (...args: TArgs) => void, ms?: number, ...args: TArgs): NodeJS.Timeout;
declare function setImmediate<TArgs extends any[]>(callback: (...args: TArgs) => void, ...args: TArgs): unknown;
declare function clearTimeout(timeout: NodeJS.Timeout | string | number | undefined): void;
declare function clearInterval(timeout: NodeJS.Timeout | string | number | undefined): void;

declare var URL: typeof import('url').URL;
type URL = import('url').URL;
declare var URLSearchParams: typeof import('url').URLSearchParams;
type URLSearchParams = import('url').URLSearchParams;

// ---- modules -----------------------------------------------------------------

declare module 'events' {
  class EventEmitter {
    constructor(options?: { captureRejections?: boolean | undefined });
    addListener(eventName: string | symbol, listener: (...args: any[]) => void): this;
    on(eventName: string | symbol, listener: (...args: any[]) => void): this;
    once(eventName: string | symbol, listener: (...args: any[]) => void): this;
    removeListener(eventName: string | symbol, listener: (...args: any[]) => void): this;
    off(eventName: string | symbol, listener: (...args: any[]) => void): this;
    removeAllListeners(eventName?: string | symbol): this;
    setMaxListeners(n: number): this;
    getMaxListeners(): number;
    listeners(eventName: string | symbol): Function[];
    rawListeners(eventName: string | symbol): Function[];
    emit(eventName: string | symbol, ...args: any[]): boolean;
    listenerCount(eventName: string | symbol, listener?: Function): number;
    prependListener(eventName: string | symbol, listener: (...args: any[]) => void): this;
    prependOnceListener(eventName: string | symbol, listener: (...args: any[]) => void): this;
    eventNames(): Array<string | symbol>;
  }
  namespace EventEmitter {
    export function once(emitter: EventEmitter, eventName: string | symbol): Promise<any[]>;
  }
  import internal = require('events');
  namespace EventEmitter {
    export { internal as EventEmitter };
  }
  export = EventEmitter;
}

declare module 'stream' {
  import { EventEmitter } from 'events';
  class Stream extends EventEmitter {
    pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean | undefined }): T;
  }
  namespace Stream {
    export interface ReadableOptions {
      highWaterMark?: number | undefined;
      encoding?: BufferEncoding | undefined;
      objectMode?: boolean | undefined;
      emitClose?: boolean | undefined;
      autoDestroy?: boolean | undefined;
    }
    export interface WritableOptions {
      highWaterMark?: number | undefined;
      decodeStrings?: boolean | undefined;
      defaultEncoding?: BufferEncoding | undefined;
      objectMode?: boolean | undefined;
      emitClose?: boolean | undefined;
      autoDestroy?: boolean | undefined;
    }
    export interface DuplexOptions extends ReadableOptions, WritableOptions {
      allowHalfOpen?: boolean | undefined;
      readableObjectMode?: boolean | undefined;
      writableObjectMode?: boolean | undefined;
      readableHighWaterMark?: number | undefined;
      writableHighWaterMark?: number | undefined;
    }
    export class Readable extends Stream implements NodeJS.ReadableStream {
      constructor(opts?: ReadableOptions);
      readable: boolean;
      readonly readableLength: number;
      destroyed: boolean;
      read(size?: number): any;
      setEncoding(encoding: BufferEncoding): this;
      pause(): this;
      resume(): this;
      isPaused(): boolean;
      push(chunk: any, encoding?: BufferEncoding): boolean;
      destroy(error?: Error): this;
      [Symbol.asyncIterator](): AsyncIterableIterator<any>;
    }
    export class Writable extends Stream implements NodeJS.WritableStream {
      constructor(opts?: WritableOptions);
      writable: boolean;
      destroyed: boolean;
      write(chunk: any, callback?: (error: Error | null | undefined) => void): boolean;
      write(chunk: any, encoding: BufferEncoding, callback?: (error: Error | null | undefined) => void): boolean;
      end(cb?: () => void): this;
      end(chunk: any, cb?: () => void): this;
      end(chunk: any, encoding: BufferEncoding, cb?: () => void): this;
      destroy(error?: Error): this;
    }
    export class Duplex extends Readable implements Writable {
      constructor(opts?: DuplexOptions);
      writable: boolean;
      allowHalfOpen: boolean;
      write(chunk: any, callback?: (error: Error | null | undefined) => void): boolean;
      write(chunk: any, encoding: BufferEncoding, callback?: (error: Error | null | undefined) => void): boolean;
      end(cb?: () => void): this;
      end(chunk: any, cb?: () => void): this;
      end(chunk: any, encoding: BufferEncoding, cb?: () => void): this;
    }
    export function pipeline(...streams: Array<NodeJS.ReadableStream | NodeJS.WritableStream | ((err: NodeJS.ErrnoException | null) => void)>): NodeJS.WritableStream;
    export { Stream };
  }
  export = Stream;
}

declare namespace NodeJS {
  interface ErrnoException extends Error {
    errno?: number | undefined;
    code?: string | undefined;
    syscall?: string | undefined;
  }
  interface ReadableStream extends import('events').EventEmitter {
    readable: boolean;
    read(size?: number): string | Buffer;
    pause(): this;
    resume(): this;
    pipe<T extends WritableStream>(destination: T, options?: { end?: boolean | undefined }): T;
  }
  interface WritableStream extends import('events').EventEmitter {
    writable: boolean;
    write(buffer: Uint8Array | string, cb?: (err?: Error | null) => void): boolean;
    end(cb?: () => void): this;
  }
}

declare module 'net' {
  import { EventEmitter } from 'events';
  import { Duplex } from 'stream';
  interface AddressInfo {
    address: string;
    family: string;
    port: number;
  }
  class Socket extends Duplex {
    readonly remoteAddress?: string | undefined;
    readonly remoteFamily?: string | undefined;
    readonly remotePort?: number | undefined;
    readonly localAddress?: string | undefined;
    readonly localPort?: number | undefined;
    setNoDelay(noDelay?: boolean): this;
    setKeepAlive(enable?: boolean, initialDelay?: number): this;
    setTimeout(timeout: number, callback?: () => void): this;
  }
  class Server extends EventEmitter {
    listen(port?: number, hostname?: string, listeningListener?: () => void): this;
    listen(port?: number, listeningListener?: () => void): this;
    close(callback?: (err?: Error) => void): this;
    address(): AddressInfo | string | null;
    readonly listening: boolean;
  }
  function createConnection(port: number, host?: string, connectionListener?: () => void): Socket;
  function createConnection(path: string, connectionListener?: () => void): Socket;
}

declare module 'http' {
  import * as net from 'net';
  import * as stream from 'stream';
  import { URL } from 'url';
  interface IncomingHttpHeaders {
    [header: string]: string | string[] | undefined;
    'sec-websocket-protocol'?: string | undefined;
    authorization?: string | undefined;
    cookie?: string | undefined;
    host?: string | undefined;
    origin?: string | undefined;
    'set-cookie'?: string[] | undefined;
    upgrade?: string | undefined;
  }
  interface OutgoingHttpHeaders {
    [header: string]: number | string | string[] | undefined;
  }
  class IncomingMessage extends stream.Readable {
    constructor(socket: net.Socket);
    aborted: boolean;
    httpVersion: string;
    complete: boolean;
    headers: IncomingHttpHeaders;
    rawHeaders: string[];
    method?: string | undefined;
    url?: string | undefined;
    statusCode?: number | undefined;
    socket: net.Socket;
  }
  class OutgoingMessage<Request extends IncomingMessage = IncomingMessage> extends stream.Writable {
    readonly req: Request;
    headersSent: boolean;
    setHeader(name: string, value: number | string | readonly string[]): this;
    getHeader(name: string): number | string | string[] | undefined;
  }
  class ServerResponse<Request extends IncomingMessage = IncomingMessage> extends OutgoingMessage<Request> {
    statusCode: number;
    statusMessage: string;
    writeHead(statusCode: number, headers?: OutgoingHttpHeaders): this;
  }
  class ClientRequest extends OutgoingMessage {
    path: string;
    method: string;
    host: string;
  }
  interface ClientRequestArgs {
    host?: string | null | undefined;
    hostname?: string | null | undefined;
    port?: number | string | null | undefined;
    path?: string | null | undefined;
    headers?: OutgoingHttpHeaders | undefined;
    timeout?: number | undefined;
    agent?: Agent | boolean | undefined;
  }
  class Agent {
    constructor(opts?: { keepAlive?: boolean | undefined });
    destroy(): void;
  }
  type RequestListener<
    Request extends typeof IncomingMessage = typeof IncomingMessage,
    Response extends typeof ServerResponse = typeof ServerResponse
  > = (req: InstanceType<Request>, res: InstanceType<Response> & { req: InstanceType<Request> }) => void;
  interface ServerOptions<
    Request extends typeof IncomingMessage = typeof IncomingMessage,
    Response extends typeof ServerResponse = typeof ServerResponse
  > {
    IncomingMessage?: Request | undefined;
    ServerResponse?: Response | undefined;
  }
  class Server<
    Request extends typeof IncomingMessage = typeof IncomingMessage,
    Response extends typeof ServerResponse = typeof ServerResponse
  > extends net.Server {
    constructor(requestListener?: RequestListener<Request, Response>);
    constructor(options: ServerOptions<Request, Response>, requestListener?: RequestListener<Request, Response>);
    on(event: 'upgrade', listener: (req: InstanceType<Request>, socket: stream.Duplex, head: Buffer) => void): this;
    on(event: 'request', listener: RequestListener<Request, Response>): this;
    on(event: 'listening' | 'close', listener: () => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }
  function createServer<
    Request extends typeof IncomingMessage = typeof IncomingMessage,
    Response extends typeof ServerResponse = typeof ServerResponse
  >(requestListener?: RequestListener<Request, Response>): Server<Request, Response>;
  function createServer<
    Request extends typeof IncomingMessage = typeof IncomingMessage,
    Response extends typeof ServerResponse = typeof ServerResponse
  >(options: ServerOptions<Request, Response>, requestListener?: RequestListener<Request, Response>): Server<Request, Response>;
  function request(url: string | URL, callback?: (res: IncomingMessage) => void): ClientRequest;
  const STATUS_CODES: { [errorCode: number]: string | undefined };
}

declare module 'https' {
  import * as http from 'http';
  import * as tls from 'tls';
  interface ServerOptions<
    Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
    Response extends typeof http.ServerResponse = typeof http.ServerResponse
  > extends http.ServerOptions<Request, Response>, tls.SecureContextOptions {}
  class Server<
    Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
    Response extends typeof http.ServerResponse = typeof http.ServerResponse
  > extends tls.Server {
    constructor(requestListener?: http.RequestListener<Request, Response>);
    constructor(options: ServerOptions<Request, Response>, requestListener?: http.RequestListener<Request, Response>);
  }
  function createServer<
    Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
    Response extends typeof http.ServerResponse = typeof http.ServerResponse
  >(options: ServerOptions<Request, Response>, requestListener?: http.RequestListener<Request, Response>): Server<Request, Response>;
}

declare module 'tls' {
  import * as net from 'net';
  interface SecureContextOptions {
    ca?: string | Buffer | Array<string | Buffer> | undefined;
    cert?: string | Buffer | Array<string | Buffer> | undefined;
    key?: string | Buffer | Array<string | Buffer> | undefined;
    passphrase?: string | undefined;
    pfx?: string | Buffer | Array<string | Buffer> | undefined;
    ciphers?: string | undefined;
    minVersion?: string | undefined;
  }
  class Server extends net.Server {}
}

declare module 'url' {
  class URLSearchParams {
    constructor(init?: string | Record<string, string>);
    get(name: string): string | null;
    has(name: string): boolean;
    set(name: string, value: string): void;
  }
  class URL {
    constructor(input: string | URL, base?: string | URL);
    hash: string;
    host: string;
    hostname: string;
    href: string;
    readonly origin: string;
    pathname: string;
    port: string;
    protocol: string;
    search: string;
    readonly searchParams: URLSearchParams;
    toString(): string;
  }
}

declare module 'zlib' {
  interface ZlibOptions {
    flush?: number | undefined;
    finishFlush?: number | undefined;
    chunkSize?: number | undefined;
    windowBits?: number | undefined;
    level?: number | undefined;
    memLevel?: number | undefined;
    strategy?: number | undefined;
    dictionary?: ArrayBufferView | ArrayBuffer | undefined;
    info?: boolean | undefined;
  }
}

declare module 'node:events' {
  import events = require('events');
  export = events;
}
declare module 'node:stream' {
  import stream = require('stream');
  export = stream;
}
declare module 'node:http' {
  export * from 'http';
}
declare module 'node:https' {
  export * from 'https';
}
declare module 'node:net' {
  export * from 'net';
}
declare module 'node:url' {
  export * from 'url';
}

//! wsrs: the `ws` API for Node.js with Rust owning the sockets.
//!
//! - `runtime`: the tokio runtime (one I/O thread: accept, handshakes, timers).
//! - `reactor`: the JS thread's socket reactor (an epoll set polled by libuv):
//!   open connections are read there.
//! - `server`: listening, accepting, the HTTP part of the handshake, heartbeat.
//! - `handshake`: parsing upgrade requests and the HTTP answers to bad ones.
//! - `connection`: one WebSocket connection: reading, its I/O task, sending.
//! - `frame`: RFC 6455 frame parsing and writing (pure, unit-tested).
//! - `bridge`: batching events from all connections to the JS thread.
//! - `pool`: reuse of the buffers large messages are handed over in.
//! - `registry`: the JS thread's open connections by slot, server and topic
//!   (sends, native publish and broadcast).
//! - `binding`: the napi boundary, the only module that knows about JS.

pub mod bridge;
pub mod connection;
pub mod frame;
pub mod handshake;
pub mod pool;
pub mod reactor;
pub mod registry;
pub mod runtime;
pub mod server;

mod binding;

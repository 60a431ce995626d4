//! wsrs: the `ws` API for Node.js with Rust owning the sockets.
//!
//! - `runtime`: the tokio runtime (one I/O thread for the whole process:
//!   accept, handshakes, timers).
//! - `instance`: what one copy of the module (per napi environment and module
//!   registry) owns that the I/O thread reaches: its event queue, servers,
//!   pending upgrades and epoll set.
//! - `js_thread`: an instance's JS-thread half: its registry, reactor, calls
//!   into JS, and teardown with its environment.
//! - `reactor`: the JS thread's socket reactor (an instance's epoll set polled
//!   by libuv): open connections are read there.
//! - `server`: listening, accepting, the HTTP part of the handshake, heartbeat.
//! - `handshake`: parsing upgrade requests and the HTTP answers to bad ones.
//! - `connection`: one WebSocket connection: reading, its I/O task, sending.
//! - `frame`: RFC 6455 frame parsing and writing (pure, unit-tested).
//! - `events`: the event queue, batching an instance's events to its JS thread.
//! - `pool`: reuse of the buffers large messages are handed over in.
//! - `sys`: what the native socket path needs from the OS (Unix; elsewhere
//!   Node keeps the sockets).
//! - `registry`: an instance's open connections by slot, server and topic
//!   (sends, native publish and broadcast) and their flush list.
//! - `binding`: the napi boundary, the only module that knows about JS.

pub mod connection;
pub mod events;
pub mod frame;
pub mod handshake;
pub mod instance;
pub mod pool;
pub mod reactor;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod sys;

mod binding;
mod js_buffers;
mod js_thread;

//! wsrs: the `ws` API for Node.js with Rust owning the sockets.
//!
//! The crate's modules, one concern each (this list is the one list of them;
//! ARCHITECTURE.md follows a message through them):
//!
//! - `runtime`: the tokio runtime (one I/O thread for the whole process:
//!   accept, handshakes, timers).
//! - `instance`: what one copy of the module (per napi environment and module
//!   registry) owns that the I/O thread reaches: its event queue, servers,
//!   pending upgrades and readiness set.
//! - `js_thread`: an instance's JS-thread half: its registry, reactor, calls
//!   into JS, and teardown with its environment.
//! - `reactor`: the JS thread's socket reactor (an instance's readiness set,
//!   mio's `Poll`, polled by libuv): open connections are read there.
//! - `sys`: what the native socket path needs from the OS (Unix; elsewhere
//!   Node keeps the sockets).
//! - `server`: listening, accepting, adopting Node's sockets, the heartbeat.
//! - `handshake`: the HTTP side of the opening handshake: reading and parsing
//!   upgrade requests, and the answers to everything else (400, 426, 431).
//! - `connection`: one WebSocket connection: `lifecycle` (its state machine,
//!   pure), `out` (the write side shared with the I/O task), `reader` (the
//!   JS-thread read path), `flush` (corked writes), `task` (its I/O task),
//!   `mask` (client masking keys).
//! - `frame`: RFC 6455 frame parsing and writing (pure, unit-tested).
//! - `deflate`: permessage-deflate's data path (RFC 7692 §7): inflating with
//!   a bound, deflating with a sync flush, which codec for which message
//!   (pure); `zlib`: C zlib's streams behind a safe interface.
//! - `events`: the event queue: an instance's events batched to its JS thread.
//! - `pool`: reuse of the buffers event batches and large messages are
//!   handed over in (one pool per JS thread).
//! - `pubsub`: publishes beyond one instance: the process's topics and each
//!   instance's mailbox (`hub`), Redis links (`link`) and their message
//!   format (`wire`).
//! - `registry`: an instance's open connections by slot, server and topic
//!   (sends, native publish and broadcast) and their flush list.
//! - `binding`: the napi boundary (argument conversion), the only module JS
//!   calls (`binding::sends`: the sends, as plain napi callbacks);
//!   `js_buffers`: the Buffers it hands to JS.

pub mod connection;
pub mod deflate;
pub mod events;
pub mod frame;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod handshake;
pub mod instance;
pub mod pool;
pub mod pubsub;
pub mod reactor;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod sync;
pub mod sys;
pub mod zlib;

mod binding;
mod js_buffers;
mod js_thread;

//! The napi boundary: every function JavaScript calls, and nothing else.
//! Kept thin: argument conversion, then a call into the crate.
//!
//! JS makes one `Native` per copy of the module (`lib/native.js`): one per
//! napi environment (the main thread, each worker) and per module registry
//! (jest and vitest load a copy per test file). Each has its own
//! connections, servers, event batch and reactor (`js_thread`), so nothing
//! is shared between them but the process's I/O thread.

#![cfg_attr(test, allow(dead_code))]
#![allow(clippy::new_without_default)]

use std::rc::Rc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::connection::{Conn, ConnOptions, Sent};
use crate::frame::{self, Limits};
use crate::js_buffers::{self, RawValue};
use crate::js_thread::JsThread;
use crate::sync::Lock;

/// One instance of the addon (see the module's doc).
#[napi]
pub struct Native {
  js: Rc<JsThread>,
}

impl Drop for Native {
  fn drop(&mut self) {
    self.js.dropped();
  }
}

/// Whether `reusePort` works on this platform.
#[napi(catch_unwind)]
pub fn reuse_port_supported() -> bool {
  crate::server::REUSE_PORT
}

/// Whether this build reads and writes sockets itself (every Unix); where
/// it does not (Windows), Node keeps them (`lib/takeover.js`).
#[napi(catch_unwind)]
pub fn native_sockets() -> bool {
  crate::sys::NATIVE_SOCKETS
}

/// The numbers JS and Rust share, from their one source: event kinds and
/// flags (`events`), what a send did (`Sent`), and opcodes (`frame`).
/// JS reads them once (`lib/native.js`).
#[napi(catch_unwind)]
pub fn wire_constants() -> std::collections::HashMap<String, u32> {
  use crate::events::{kind, FLAG_BINARY, FLAG_OWNED, FLAG_RANGE_ERROR};
  use crate::pubsub::link::status;
  let all: [(&str, u32); 30] = [
    ("K_UPGRADE", kind::UPGRADE),
    ("K_MESSAGE", kind::MESSAGE),
    ("K_PING", kind::PING),
    ("K_PONG", kind::PONG),
    ("K_PEER_CLOSE", kind::PEER_CLOSE),
    ("K_ERROR", kind::ERROR),
    ("K_CLOSED", kind::CLOSED),
    ("K_DRAIN", kind::DRAIN),
    ("K_SERVER_ERROR", kind::SERVER_ERROR),
    ("K_BRIDGED_WRITE", kind::BRIDGED_WRITE),
    ("K_PUBLISHED", kind::PUBLISHED),
    ("K_REDIS", kind::REDIS),
    ("REDIS_READY", status::READY),
    ("REDIS_UNREACHABLE", status::UNREACHABLE),
    ("REDIS_LOST", status::LOST),
    ("REDIS_OVERFLOW", status::OVERFLOW),
    ("REDIS_SYNCED", status::SYNCED),
    ("FLAG_BINARY", FLAG_BINARY),
    ("FLAG_RANGE_ERROR", FLAG_RANGE_ERROR),
    ("FLAG_OWNED", FLAG_OWNED),
    ("SENT", Sent::Queued as u32),
    ("NOT_OPEN", Sent::NotOpen as u32),
    ("DROPPED", Sent::Dropped as u32),
    ("OVERFLOW", Sent::Overflow as u32),
    ("OP_CONT", frame::OP_CONT as u32),
    ("OP_TEXT", frame::OP_TEXT as u32),
    ("OP_BINARY", frame::OP_BINARY as u32),
    ("OP_CLOSE", frame::OP_CLOSE as u32),
    ("OP_PING", frame::OP_PING as u32),
    ("OP_PONG", frame::OP_PONG as u32),
  ];
  all.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

/// The close codes an endpoint may send (`frame::is_valid_close_code`, the
/// rule the parser applies to the peer's), for `close()`'s argument check.
#[napi(catch_unwind)]
pub fn is_valid_close_code(code: u32) -> bool {
  u16::try_from(code).is_ok_and(frame::is_valid_close_code)
}

/// The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key (RFC 6455 §4.2.2),
/// for the handshakes JS completes (a server on Node's sockets, the client);
/// Rust's own are answered with `handshake::accept_key` when parsed.
#[napi(catch_unwind)]
pub fn accept_key(key: String) -> String {
  crate::handshake::accept_key(key.as_bytes())
}

/// Process-wide counters (all instances together), for leak checks.
#[napi(object)]
pub struct ProcessStats {
  /// Instances alive (an instance lives until the last of its tasks ends).
  pub instances: u32,
  /// Connection tasks alive on the I/O thread.
  pub tasks: u32,
}

#[napi(catch_unwind)]
pub fn process_stats() -> ProcessStats {
  let (instances, tasks) = crate::instance::process_counts();
  ProcessStats { instances: instances as u32, tasks: tasks as u32 }
}

/// Bytes the C allocator has handed out and not had back, in the whole
/// process (Rust's, Node's, and V8's outside its heap; glibc only, else 0):
/// for the memory breakdown (`bench/memory.js`).
#[napi(catch_unwind)]
pub fn malloc_in_use() -> f64 {
  crate::sys::malloc_in_use() as f64
}

#[napi(object)]
pub struct BridgeOut {
  pub slot: u32,
  pub data: Option<Buffer>,
  pub end: bool,
  pub destroy: bool,
}

#[napi(object)]
pub struct FlushResult {
  /// What JS must write (or end, or destroy) for bridged connections
  /// (sockets Node keeps).
  pub bridged: Option<Vec<BridgeOut>>,
  /// Slots whose queue is all written (when asked for).
  pub written: Option<Vec<u32>>,
  /// Connections are left to write: flush again on a later turn.
  pub more: bool,
}

/// permessage-deflate's negotiated parameters, from our side
/// (`PerMessageDeflate#nativeParams` in lib/permessage-deflate.js).
#[napi(object)]
pub struct DeflateOptions {
  pub peer_takeover: bool,
  pub peer_window_bits: u32,
  pub own_takeover: bool,
  pub own_window_bits: u32,
  /// zlib's `level`, `memLevel` and `strategy` (ws's `zlibDeflateOptions`).
  pub level: u32,
  pub mem_level: u32,
  pub strategy: u32,
  pub threshold: u32,
}

impl DeflateOptions {
  fn native(&self) -> crate::connection::Deflate {
    crate::connection::Deflate {
      peer_takeover: self.peer_takeover,
      peer_window_bits: self.peer_window_bits.clamp(9, 15) as u8,
      own_takeover: self.own_takeover,
      settings: crate::deflate::Settings::new(self.level, self.own_window_bits, self.mem_level, self.strategy),
      threshold: self.threshold,
    }
  }
}

fn millis(ms: f64) -> Duration {
  Duration::from_millis(if ms.is_finite() && ms > 0.0 { ms as u64 } else { 0 })
}

fn sent(r: Sent) -> u32 {
  r as u32
}

#[napi(object)]
pub struct Stats {
  /// This instance's connection tasks alive on the I/O thread.
  pub tasks: u32,
  /// Upgrade requests waiting for JS's decision.
  pub pending: u32,
  /// Open connections known to the JS thread.
  pub sockets: u32,
  /// Topics with at least one subscriber.
  pub topics: u32,
  /// Servers known to Rust.
  pub native_servers: u32,
  /// Process-unique id of this instance.
  pub instance: u32,
  /// Instances alive in the process.
  pub process_instances: u32,
  /// Connection tasks alive in the process, all instances together.
  pub process_tasks: u32,
}

#[napi(object)]
pub struct ConnectionOptions {
  pub max_payload: f64,
  pub max_fragments: u32,
  pub skip_utf8_validation: bool,
  pub auto_pong: bool,
  pub max_pending_auto_pongs: u32,
  pub close_timeout: f64,
  pub max_buffered_amount: f64,
  pub backpressure: String,
}

/// Per-connection settings; `client` = the client role (masked frames out,
/// unmasked frames in).
fn conn_options(o: &ConnectionOptions, client: bool) -> ConnOptions {
  let positive = |x: f64| x.is_finite() && x > 0.0;
  ConnOptions {
    limits: Limits {
      max_payload: if positive(o.max_payload) { o.max_payload as u64 } else { 0 },
      max_fragments: o.max_fragments,
      skip_utf8_validation: o.skip_utf8_validation,
      expect_masked: !client,
    },
    auto_pong: o.auto_pong,
    max_pending_auto_pongs: o.max_pending_auto_pongs,
    close_timeout: millis(o.close_timeout),
    max_buffered: if positive(o.max_buffered_amount) { o.max_buffered_amount as usize } else { 0 },
    drop_when_full: o.backpressure == "drop",
    mask: client,
  }
}

fn torn_down() -> Error {
  Error::from_reason(
    "wsrs: this instance was shut down when its environment (worker thread or test environment) exited; \
     create servers and sockets from code that is still running",
  )
}

#[napi]
impl Native {
  /// A new instance; `on_wake(batch)` is called with each batch of events
  /// (layout in `events.rs`).
  #[napi(constructor, catch_unwind)]
  pub fn new(env: Env, on_wake: Function<Buffer, Unknown<'static>>) -> Result<Native> {
    // SAFETY: a constructor runs on the JS thread of `env`.
    let js = unsafe { JsThread::start(env.raw(), on_wake.raw()) }.map_err(Error::from_reason)?;
    Ok(Native { js })
  }

  /// The instance's id among this environment's copies (what the
  /// functions below take first).
  #[napi(getter, catch_unwind)]
  pub fn id(&self) -> u32 {
    self.js.id
  }
}

/// This environment's copy `id` (see `Native`).
fn copy(env: &Env, id: u32) -> Result<Rc<JsThread>> {
  // SAFETY: called by napi on the JS thread of `env`.
  unsafe { crate::js_thread::copy(env.raw(), id) }
    .ok_or_else(|| Error::from_reason(format!("wsrs: no instance {id} in this environment")))
}

/// Like `copy`, for calls that start something: refused after teardown.
fn live(env: &Env, id: u32) -> Result<Rc<JsThread>> {
  let js = copy(env, id)?;
  if js.is_torn_down() {
    return Err(torn_down());
  }
  Ok(js)
}

/// Keeps the event loop alive (true) while any server listens or socket is
/// open, exactly like ws's sockets do; false lets the process exit.
#[napi(catch_unwind)]
pub fn set_ref(env: Env, id: u32, on: bool) -> Result<()> {
  copy(&env, id)?.set_ref(on);
  Ok(())
}

/// The next batch of waiting events as one Buffer (layout in `events.rs`),
/// or `undefined` when there is none. (Rust passes each batch to `onWake`
/// itself; JS drains only when it resumes a batch a handler threw in.)
#[napi(ts_return_type = "Buffer | undefined", catch_unwind)]
pub fn drain(env: Env, id: u32) -> Result<RawValue> {
  let js = copy(&env, id)?;
  // SAFETY: napi-rs calls this on the JS thread, inside its handle scope.
  Ok(match unsafe { js.next_batch(env.raw()) } {
    Some(v) => RawValue::from_raw(v),
    None => js_buffers::undefined(&env),
  })
}

/// The buffer of the next event flagged as owned (a large message), handed
/// over without a copy; when V8 frees it, its memory goes back to the pool.
#[napi(ts_return_type = "Buffer", catch_unwind)]
pub fn take_owned(env: Env, id: u32) -> Result<RawValue> {
  let data = copy(&env, id)?.owned.borrow_mut().pop_front().unwrap_or_default();
  js_buffers::owned(&env, data)
}

/// Writes what was sent since the last flush, one write per connection
/// (see `FlushList::flush` for which and in what order); with `collect`,
/// also which connections have everything written. `undefined` when
/// there is nothing to report.
#[napi(catch_unwind)]
pub fn flush(env: Env, id: u32, collect: Option<bool>) -> Result<Option<FlushResult>> {
  let (bridged, written, more) = copy(&env, id)?.registry.borrow_mut().flush(collect.unwrap_or(false));
  if bridged.is_empty() && written.is_empty() && !more {
    return Ok(None);
  }
  let written = (!written.is_empty()).then_some(written);
  let bridged = (!bridged.is_empty()).then(|| {
    bridged
      .into_iter()
      .map(|w| BridgeOut {
        slot: w.slot,
        data: (!w.data.is_empty()).then(|| Buffer::from(w.data)),
        end: w.end,
        destroy: w.destroy,
      })
      .collect()
  });
  Ok(Some(FlushResult { bridged, written, more }))
}

/// Forgets a closed connection's slot (after its CLOSED event), with its
/// topic subscriptions.
#[napi(catch_unwind)]
pub fn release(env: Env, id: u32, slot: u32) -> Result<()> {
  copy(&env, id)?.registry.borrow_mut().remove(slot);
  Ok(())
}

// sendBuffer, sendCompressed and sendString (`sends()`).
mod sends;
// Servers, upgrades, taking sockets over, bridged sockets.
mod opening;
// Topics, publish and broadcast, Redis links.
mod pubsub;

/// The three sends (`sends.rs`), after their argument conversion.
///
/// A panic inside (a bug) becomes a JS Error from `send`, and that one
/// connection is terminated ('close' with 1006).
pub(crate) fn send_bytes(
  env: &Env,
  id: u32,
  slot: u32,
  data: &[u8],
  opcode: u32,
  fin: bool,
  compress: bool,
) -> Result<u32> {
  let send =
    |c: &std::sync::Arc<Conn>, l: &mut crate::connection::FlushList| sent(c.send(opcode as u8, fin, data, compress, l));
  let js = copy(env, id)?;
  let mut r = js.registry.borrow_mut();
  match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.with_conn(slot, sent(Sent::NotOpen), send))) {
    Ok(result) => Ok(result),
    Err(panic) => {
      r.with_conn(slot, (), |c, _| c.terminate());
      let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
      Err(Error::from_reason(format!("wsrs: internal error in send; the connection is terminated ({what})")))
    }
  }
}

/// Queues bytes that are already a frame (ws's `Sender.frame()` output);
/// returns as `sendBuffer`.
#[napi(catch_unwind)]
pub fn send_raw(env: Env, id: u32, slot: u32, frame: BufferSlice) -> Result<u32> {
  Ok(copy(&env, id)?.registry.borrow_mut().with_conn(slot, sent(Sent::NotOpen), |c, l| sent(c.send_framed(&frame, l))))
}

/// Sends a close frame (`code` undefined = no body). With `end`, or in
/// answer to the peer's close frame, the connection ends once it is written.
#[napi(catch_unwind)]
pub fn close(
  env: Env,
  id: u32,
  slot: u32,
  code: Option<u32>,
  reason: Option<BufferSlice>,
  end: Option<bool>,
) -> Result<()> {
  let reason = reason.as_deref().unwrap_or(&[]);
  let js = copy(&env, id)?;
  js.registry.borrow_mut().with_conn(slot, (), |c, l| c.close(code.map(|c| c as u16), reason, end.unwrap_or(false), l));
  Ok(())
}

/// What `ws._socket` reports of a socket Rust owns.
#[napi(object)]
pub struct SocketInfo {
  pub bytes_read: f64,
  pub bytes_written: f64,
  pub no_delay: bool,
  pub keep_alive: bool,
}

#[napi(catch_unwind)]
pub fn socket_info(env: Env, id: u32, slot: u32) -> Result<Option<SocketInfo>> {
  let js = copy(&env, id)?;
  let reg = js.registry.borrow();
  let Some((read, written)) = reg.byte_counts(slot) else {
    return Ok(None);
  };
  let opts =
    reg.get(slot).and_then(|c| c.with_socket(|s| (s.tcp_nodelay().unwrap_or(false), s.keepalive().unwrap_or(false))));
  let (no_delay, keep_alive) = opts.unwrap_or((false, false));
  Ok(Some(SocketInfo { bytes_read: read as f64, bytes_written: written as f64, no_delay, keep_alive }))
}

/// `ws._socket.setNoDelay()` / `setKeepAlive()` on a socket Rust owns.
/// False if the socket is gone.
#[napi(catch_unwind)]
pub fn set_socket_options(
  env: Env,
  id: u32,
  slot: u32,
  no_delay: Option<bool>,
  keep_alive: Option<bool>,
  keep_alive_delay_ms: Option<u32>,
) -> Result<bool> {
  let js = copy(&env, id)?;
  let reg = js.registry.borrow();
  let Some(conn) = reg.get(slot) else {
    return Ok(false);
  };
  let done = conn.with_socket(|s| {
    if let Some(on) = no_delay {
      s.set_tcp_nodelay(on)?;
    }
    if let Some(on) = keep_alive {
      s.set_keepalive(on)?;
      if let (true, Some(ms)) = (on, keep_alive_delay_ms.filter(|&ms| ms > 0)) {
        let ka = socket2::TcpKeepalive::new().with_time(Duration::from_millis(ms as u64));
        s.set_tcp_keepalive(&ka)?;
      }
    }
    std::io::Result::Ok(())
  });
  Ok(matches!(done, Some(Ok(()))))
}

/// For tests only: the next read (`"read"`) or send (`"send"`) on this
/// thread panics, inside the code that a bug would panic in.
#[napi(catch_unwind)]
pub fn arm_test_panic(what: String) -> Result<()> {
  use crate::connection::test_panic;
  match what.as_str() {
    "read" => test_panic::arm(test_panic::READ),
    "send" => test_panic::arm(test_panic::SEND),
    _ => return Err(Error::new(Status::InvalidArg, "armTestPanic: 'read' or 'send'")),
  }
  Ok(())
}

#[napi(catch_unwind)]
pub fn terminate(env: Env, id: u32, slot: u32) -> Result<()> {
  copy(&env, id)?.registry.borrow_mut().with_conn(slot, (), |c, _| c.terminate());
  Ok(())
}

#[napi(catch_unwind)]
pub fn pause(env: Env, id: u32, slot: u32) -> Result<()> {
  copy(&env, id)?.registry.borrow_mut().set_paused(slot, true);
  Ok(())
}

#[napi(catch_unwind)]
pub fn resume(env: Env, id: u32, slot: u32) -> Result<()> {
  copy(&env, id)?.registry.borrow_mut().set_paused(slot, false);
  Ok(())
}

/// Bytes queued but not yet written to the socket.
#[napi(catch_unwind)]
pub fn buffered(env: Env, id: u32, slot: u32) -> Result<u32> {
  Ok(copy(&env, id)?.registry.borrow().get(slot).map_or(0, |c| c.buffered_amount().min(u32::MAX as usize) as u32))
}

/// Counters for leak checks (tests, monitoring): this instance's, and
/// the process's.
#[napi(catch_unwind)]
pub fn stats(env: Env, id: u32) -> Result<Stats> {
  let js = copy(&env, id)?;
  let (tasks, pending) = js.inst.counts();
  let (sockets, topics) = js.registry.borrow().counts();
  let (instances, all_tasks) = crate::instance::process_counts();
  let native_servers = js.inst.servers.locked().len() as u32;
  Ok(Stats {
    tasks: tasks as u32,
    pending: pending as u32,
    sockets: sockets as u32,
    topics: topics as u32,
    native_servers,
    instance: js.inst.id,
    process_instances: instances as u32,
    process_tasks: all_tasks as u32,
  })
}

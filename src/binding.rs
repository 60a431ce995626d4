//! The napi boundary: every function JavaScript calls, and nothing else.
//! Kept thin: argument conversion, then a call into the crate.

#![cfg_attr(test, allow(dead_code))]
#![allow(clippy::new_without_default)]

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::bridge::{self, Batch, Waker};
use crate::connection::{Conn, ConnOptions, Sent};
use crate::frame::Limits;
use crate::registry;
use crate::pool;
use crate::server::{Server, ServerConfig};

type WakeFn = ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>;

struct TsfnWaker(WakeFn);

impl Waker for TsfnWaker {
  fn wake(&self) {
    self.0.call((), ThreadsafeFunctionCallMode::NonBlocking);
  }
}

/// The raw threadsafe function, for ref/unref on the JS thread.
static TSFN: AtomicPtr<sys::napi_threadsafe_function__> = AtomicPtr::new(ptr::null_mut());

thread_local! {
  static SPARE: std::cell::RefCell<Batch> = std::cell::RefCell::new(Batch::default());
}

/// Registers the JS function called (with no arguments) whenever events are
/// waiting; it then calls `drain()`. Other threads reach it through a
/// threadsafe function (which starts unreferenced, see `setRef`); the JS
/// thread's own reactor calls it directly. Starts the reactor.
#[napi]
pub fn init(env: Env, on_wake: Function<(), Unknown<'static>>) -> Result<()> {
  if !TSFN.load(Ordering::Acquire).is_null() {
    return Ok(());
  }
  let raw_fn = on_wake.raw();
  let tsfn: WakeFn = on_wake
    .build_threadsafe_function::<()>()
    .weak::<true>()
    .callee_handled::<false>()
    .build_callback(|_ctx| Ok(()))?;
  TSFN.store(tsfn.raw(), Ordering::Release);
  bridge::bridge().set_waker(Box::new(TsfnWaker(tsfn)));
  start_reactor(env.raw(), raw_fn)
}

/// How the reactor calls JS (JS thread only).
#[derive(Clone, Copy)]
struct Direct {
  env: sys::napi_env,
  func: sys::napi_ref,
  context: sys::napi_async_context,
}

thread_local! {
  static DIRECT: std::cell::Cell<Option<Direct>> = const { std::cell::Cell::new(None) };
}

fn start_reactor(env: sys::napi_env, func: sys::napi_value) -> Result<()> {
  let fail = || Error::from_reason("cannot start the socket reactor on the JS thread");
  // SAFETY: napi calls on the JS thread with its env; the reference keeps
  // the function alive for the life of the environment.
  unsafe {
    let mut loop_ = ptr::null_mut();
    let mut fref = ptr::null_mut();
    let mut resource = ptr::null_mut();
    let mut name = ptr::null_mut();
    let mut context = ptr::null_mut();
    let mut resource_ref = ptr::null_mut();
    // The async context holds its resource weakly: keep it alive.
    let ok = sys::napi_get_uv_event_loop(env, &mut loop_) == sys::Status::napi_ok
      && sys::napi_create_reference(env, func, 1, &mut fref) == sys::Status::napi_ok
      && sys::napi_create_object(env, &mut resource) == sys::Status::napi_ok
      && sys::napi_create_reference(env, resource, 1, &mut resource_ref) == sys::Status::napi_ok
      && sys::napi_create_string_utf8(env, c"wsrs".as_ptr(), 4, &mut name) == sys::Status::napi_ok
      && sys::napi_async_init(env, resource, name, &mut context) == sys::Status::napi_ok;
    if !ok {
      return Err(fail());
    }
    DIRECT.with(|d| d.set(Some(Direct { env, func: fref, context })));
    let hooks = crate::reactor::Hooks { readable: |slot, hup| registry::with(|r| r.on_readable(slot, hup)), deliver: call_on_wake };
    if !crate::reactor::start(loop_.cast(), hooks) {
      return Err(fail());
    }
    sys::napi_add_env_cleanup_hook(env, Some(stop_reactor), ptr::null_mut());
  }
  Ok(())
}

unsafe extern "C" fn stop_reactor(_arg: *mut std::ffi::c_void) {
  crate::reactor::stop();
  DIRECT.with(|d| d.set(None));
}

/// Calls JS's `onWake` from the reactor (outside any JS frame), as a
/// top-level callback: microtasks and `process.nextTick` run after it, and an
/// exception it throws becomes an 'uncaughtException', as with any I/O
/// callback in Node.
fn call_on_wake() {
  let Some(d) = DIRECT.with(|d| d.get()) else { return };
  // SAFETY: napi calls on the JS thread, inside a handle scope opened here.
  unsafe {
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(d.env, &mut scope) != sys::Status::napi_ok {
      return;
    }
    let (mut func, mut recv, mut result) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    if sys::napi_get_reference_value(d.env, d.func, &mut func) == sys::Status::napi_ok
      && sys::napi_get_global(d.env, &mut recv) == sys::Status::napi_ok
    {
      sys::napi_make_callback(d.env, d.context, recv, func, 0, ptr::null(), &mut result);
      let mut pending = false;
      if sys::napi_is_exception_pending(d.env, &mut pending) == sys::Status::napi_ok && pending {
        let mut err = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(d.env, &mut err);
        sys::napi_fatal_exception(d.env, err);
      }
    }
    sys::napi_close_handle_scope(d.env, scope);
  }
  // Any flush JS scheduled has run (ticks run as the callback returns).
  Conn::end_read_turn();
}

/// Keeps the event loop alive (true) while any server listens or socket is
/// open, exactly like ws's sockets do; false lets the process exit.
#[napi]
pub fn set_ref(env: Env, on: bool) -> Result<()> {
  let raw = TSFN.load(Ordering::Acquire);
  if raw.is_null() {
    return Ok(());
  }
  let status = unsafe {
    if on {
      sys::napi_ref_threadsafe_function(env.raw(), raw)
    } else {
      sys::napi_unref_threadsafe_function(env.raw(), raw)
    }
  };
  if status != sys::Status::napi_ok {
    return Err(Error::from_reason("cannot change the threadsafe function's reference"));
  }
  Ok(())
}

pub struct RawValue(sys::napi_value);

impl ToNapiValue for RawValue {
  unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
    Ok(val.0)
  }
}

impl TypeName for RawValue {
  fn type_name() -> &'static str {
    "Buffer"
  }
  fn value_type() -> ValueType {
    ValueType::Object
  }
}

thread_local! {
  /// Large message buffers of the drained batch, in event order.
  static OWNED: std::cell::RefCell<std::collections::VecDeque<Vec<u8>>> = const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// Takes every waiting event as one Buffer (layout in `bridge.rs`), or
/// `undefined` when there is none.
#[napi(ts_return_type = "Buffer | undefined")]
pub fn drain(env: Env) -> Result<RawValue> {
  SPARE.with(|spare| {
    let mut spare = spare.borrow_mut();
    bridge::bridge().take(&mut spare);
    let mut value = ptr::null_mut();
    if spare.is_empty() {
      unsafe { sys::napi_get_undefined(env.raw(), &mut value) };
      return Ok(RawValue(value));
    }
    let len = spare.encoded_len();
    let mut data = ptr::null_mut();
    let status = unsafe { sys::napi_create_buffer(env.raw(), len, &mut data, &mut value) };
    if status != sys::Status::napi_ok {
      return Err(Error::from_reason("cannot allocate the event buffer"));
    }
    let out = unsafe { std::slice::from_raw_parts_mut(data as *mut u8, len) };
    spare.encode_into(out);
    if !spare.owned.is_empty() {
      OWNED.with(|o| o.borrow_mut().extend(spare.owned.drain(..)));
    }
    spare.clear();
    Ok(RawValue(value))
  })
}

/// The buffer of the next event flagged as owned (a large message), handed
/// over without a copy; when V8 frees it, its memory goes back to the pool.
#[napi(ts_return_type = "Buffer")]
pub fn take_owned(env: Env) -> Result<RawValue> {
  let mut data = OWNED.with(|o| o.borrow_mut().pop_front()).unwrap_or_default();
  let len = data.len();
  let ptr = data.as_mut_ptr();
  let hint = Box::into_raw(Box::new(data));
  let mut value = ptr::null_mut();
  let status = unsafe {
    sys::napi_create_external_buffer(env.raw(), len, ptr.cast(), Some(return_to_pool), hint.cast(), &mut value)
  };
  if status == sys::Status::napi_ok {
    return Ok(RawValue(value));
  }
  // No external buffers in this runtime: copy.
  let data = unsafe { Box::from_raw(hint) };
  let status = unsafe { sys::napi_create_buffer_copy(env.raw(), len, data.as_ptr().cast(), ptr::null_mut(), &mut value) };
  pool::give(*data);
  if status != sys::Status::napi_ok {
    return Err(Error::from_reason("cannot create a message buffer"));
  }
  Ok(RawValue(value))
}

unsafe extern "C" fn return_to_pool(_env: sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
  // SAFETY: `hint` is the Box<Vec<u8>> leaked in `take_owned`, finalised once.
  let data = unsafe { Box::from_raw(hint as *mut Vec<u8>) };
  pool::give(*data);
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

/// Writes what was sent since the last flush, one write per connection (see
/// `Conn::flush_all` for which and in what order); with `collect`, also
/// which connections have everything written. `undefined` when there is
/// nothing to report.
#[napi]
pub fn flush(collect: Option<bool>) -> Option<FlushResult> {
  let (bridged, written, more) = Conn::flush_all(collect.unwrap_or(false));
  if bridged.is_empty() && written.is_empty() && !more {
    return None;
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
  Some(FlushResult { bridged, written, more })
}

/// Opens a bridged connection as `slot`: Node keeps the socket (TLS, any
/// Duplex) and moves the bytes; Rust keeps the protocol. False if the
/// server is gone.
#[napi]
pub fn bridge_open(server_id: u32, slot: u32) -> bool {
  let Some(opts) = Server::conn_options(server_id) else {
    return false;
  };
  let conn = Conn::new_bridged(opts, slot);
  registry::with(|r| r.insert(slot, server_id, conn));
  true
}

/// Bytes read from a bridged connection's socket.
#[napi]
pub fn bridge_feed(slot: u32, data: BufferSlice) -> bool {
  let mut bytes = data.to_vec();
  registry::with(|r| r.feed(slot, &mut bytes))
}

/// Settings of a server beyond those of its connections.
#[napi(object)]
pub struct ServerOptions {
  /// Milliseconds; 0 = no native heartbeat.
  pub heartbeat_interval: f64,
  pub heartbeat_timeout: f64,
  pub handshake_timeout: f64,
  pub max_header_size: u32,
}

#[napi(object)]
pub struct ListenResult {
  /// 0 on success, else the OS error number (positive).
  pub errno: i32,
  pub address: String,
  pub family: String,
  pub port: u32,
}

fn millis(ms: f64) -> Duration {
  Duration::from_millis(if ms.is_finite() && ms > 0.0 { ms as u64 } else { 0 })
}

/// Registers a WebSocketServer's settings under `server_id`: those of its
/// connections and its own.
#[napi]
pub fn create_server(server_id: u32, conn: ConnectionOptions, o: ServerOptions) {
  Server::create(
    server_id,
    ServerConfig {
      conn: conn_options(&conn, false),
      heartbeat: (o.heartbeat_interval > 0.0).then(|| (millis(o.heartbeat_interval), millis(o.heartbeat_timeout))),
      handshake_timeout: millis(o.handshake_timeout),
      max_header_size: o.max_header_size as usize,
    },
  );
}

/// Binds a listening socket for a created server, like `net.Server#listen`.
#[napi]
pub fn listen(server_id: u32, host: Option<String>, port: u32, backlog: i32) -> ListenResult {
  match Server::listen(server_id, host.as_deref(), port as u16, backlog) {
    Ok(addr) => ListenResult {
      errno: 0,
      address: addr.ip().to_string(),
      family: if addr.is_ipv4() { "IPv4".into() } else { "IPv6".into() },
      port: addr.port() as u32,
    },
    Err(e) => ListenResult {
      errno: e.raw_os_error().unwrap_or(22),
      address: String::new(),
      family: String::new(),
      port: 0,
    },
  }
}

/// Stops accepting; open connections stay open.
#[napi]
pub fn server_close(server_id: u32) {
  Server::close(server_id);
}

/// Forgets the server (after its 'close').
#[napi]
pub fn server_remove(server_id: u32) {
  Server::remove(server_id);
}

fn with<R>(slot: u32, default: R, f: impl FnOnce(&Arc<Conn>) -> R) -> R {
  registry::with(|r| match r.get(slot) {
    Some(c) => f(c),
    None => default,
  })
}

/// Completes an upgrade: `head` (the 101 response) is written before anything
/// sent on `slot`. False if the peer is already gone.
#[napi]
pub fn accept(request_id: u32, slot: u32, server_id: u32, head: BufferSlice) -> bool {
  let Some((conn, leftover)) = Conn::accept(request_id, slot, &head) else {
    return false;
  };
  Server::accepted(server_id, &conn);
  registry::with(|r| r.insert_native(slot, server_id, conn, leftover));
  true
}

/// Takes over a TCP socket Node accepted (by duplicating `fd`) as `slot`:
/// `head` (the 101 response) is written first and `preread` is parsed as if
/// just read.
#[napi]
pub fn adopt(server_id: u32, fd: i32, slot: u32, head: BufferSlice, preread: BufferSlice) -> Result<()> {
  let conn = Server::adopt(server_id, fd, slot, &head)
    .map_err(|e| Error::from_reason(format!("cannot take over the socket: {e}")))?;
  registry::with(|r| r.insert_native(slot, server_id, conn, preread.to_vec()));
  Ok(())
}

/// Refuses an upgrade: writes `answer` and closes, or just closes (`null`).
#[napi]
pub fn reject(request_id: u32, answer: Option<BufferSlice>) {
  Conn::reject(request_id, answer.as_deref());
}

/// Forgets a closed connection's slot (after its CLOSED event), with its
/// topic subscriptions.
#[napi]
pub fn release(slot: u32) {
  registry::with(|r| r.remove(slot));
}

#[napi]
pub fn subscribe(slot: u32, topic: String) -> bool {
  registry::with(|r| r.subscribe(slot, &topic))
}

#[napi]
pub fn unsubscribe(slot: u32, topic: String) -> bool {
  registry::with(|r| r.unsubscribe(slot, &topic))
}

#[napi]
pub fn is_subscribed(slot: u32, topic: String) -> bool {
  registry::with(|r| r.is_subscribed(slot, &topic))
}

#[napi]
pub fn topics(slot: u32) -> Vec<String> {
  registry::with(|r| r.topics_of(slot))
}

/// Frames the message once and queues it to every subscriber of `topic`
/// (but `except`, a slot, or -1). Returns the number of recipients.
#[napi]
pub fn publish(topic: String, data: Either<String, BufferSlice>, opcode: u32, except: i32) -> u32 {
  let except = (except >= 0).then_some(except as u32);
  registry::with(|r| match &data {
    Either::A(s) => r.publish(&topic, opcode as u8, s.as_bytes(), except),
    Either::B(b) => r.publish(&topic, opcode as u8, b, except),
  })
}

/// Like `publish`, to every open connection of a server.
#[napi]
pub fn broadcast(server_id: u32, data: Either<String, BufferSlice>, opcode: u32, except: i32) -> u32 {
  let except = (except >= 0).then_some(except as u32);
  registry::with(|r| match &data {
    Either::A(s) => r.broadcast(server_id, opcode as u8, s.as_bytes(), except),
    Either::B(b) => r.broadcast(server_id, opcode as u8, b, except),
  })
}

fn sent(r: Sent) -> u32 {
  match r {
    Sent::Queued => 0,
    Sent::NotOpen => 1,
    Sent::Dropped => 2,
    Sent::Overflow => 3,
  }
}

/// Queues a frame with a Buffer/Uint8Array payload. Returns 0 (queued),
/// 1 (not open), 2 (dropped: buffer limit) or 3 (buffer limit: terminating).
#[napi]
pub fn send_buffer(slot: u32, data: BufferSlice, opcode: u32, fin: bool) -> u32 {
  with(slot, 1, |c| sent(c.send(opcode as u8, fin, &data)))
}

/// Queues a frame with a string payload (sent as UTF-8); returns as `sendBuffer`.
#[napi]
pub fn send_string(slot: u32, data: String, opcode: u32, fin: bool) -> u32 {
  with(slot, 1, |c| sent(c.send(opcode as u8, fin, data.as_bytes())))
}

/// Queues bytes that are already a frame (ws's `Sender.frame()` output);
/// returns as `sendBuffer`.
#[napi]
pub fn send_raw(slot: u32, frame: BufferSlice) -> u32 {
  with(slot, 1, |c| if c.send_framed(&frame) { 0 } else { 1 })
}

/// Sends a close frame (`code` undefined = no body). With `end`, or in
/// answer to the peer's close frame, the connection ends once it is written.
#[napi]
pub fn close(slot: u32, code: Option<u32>, reason: Option<BufferSlice>, end: Option<bool>) {
  with(slot, (), |c| c.close(code.map(|c| c as u16), reason.as_deref().unwrap_or(&[]), end.unwrap_or(false)))
}

#[napi]
pub fn terminate(slot: u32) {
  with(slot, (), |c| c.terminate())
}

#[napi]
pub fn pause(slot: u32) {
  registry::with(|r| r.set_paused(slot, true))
}

#[napi]
pub fn resume(slot: u32) {
  registry::with(|r| r.set_paused(slot, false))
}

/// Bytes queued but not yet written to the socket.
#[napi]
pub fn buffered(slot: u32) -> u32 {
  with(slot, 0, |c| c.buffered_amount().min(u32::MAX as usize) as u32)
}

#[napi(object)]
pub struct Stats {
  /// Connection tasks alive on the I/O thread.
  pub tasks: u32,
  /// Upgrade requests waiting for JS's decision.
  pub pending: u32,
  /// Open connections known to the JS thread.
  pub sockets: u32,
  /// Topics with at least one subscriber.
  pub topics: u32,
}

/// Counters for leak checks (tests, monitoring).
#[napi]
pub fn stats() -> Stats {
  let (tasks, pending) = crate::connection::counts();
  let (sockets, topics) = registry::with(|r| r.counts());
  Stats { tasks: tasks as u32, pending: pending as u32, sockets: sockets as u32, topics: topics as u32 }
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

/// A client connection whose handshake Node completed on a plain TCP socket:
/// Rust takes it over (as `adopt`), in the client role (masked frames).
#[napi]
pub fn client_adopt(fd: i32, slot: u32, preread: BufferSlice, o: ConnectionOptions) -> Result<()> {
  let conn = crate::connection::adopt(conn_options(&o, true), fd, slot, &[], |_| {})
    .map_err(|e| Error::from_reason(format!("cannot take over the socket: {e}")))?;
  registry::with(|r| r.insert_native(slot, 0, conn, preread.to_vec()));
  Ok(())
}

/// A client connection over a socket Node keeps (TLS, a Unix socket): bridged.
#[napi]
pub fn client_bridge_open(slot: u32, o: ConnectionOptions) -> bool {
  let conn = Conn::new_bridged(conn_options(&o, true), slot);
  registry::with(|r| r.insert(slot, 0, conn));
  true
}

//! One WebSocket connection: its reading state (`Reader`, on the JS thread:
//! reads when the reactor says the socket is readable, parses frames, answers
//! pings), its I/O task (on the I/O thread: the phases before it opens, the
//! close timeout, waiting for a full socket to take writes, the teardown),
//! and the shared state through which the JS thread sends.
//!
//! Writes are corked: `send` (JS thread) frames into the connection's output
//! buffer and puts the connection on the JS thread's flush list; `flush` (once
//! per JS turn) writes each listed connection's bytes with one non-blocking
//! write, on the JS thread, without waking the I/O thread. Only when the
//! kernel's buffer is full does the I/O task take over, waiting for the
//! socket to become writable.

mod flush;
mod lifecycle;
mod mask;
mod out;
mod reader;
mod task;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::frame::{self, Limits};
use crate::instance::Instance;

pub use crate::sys::Socket;
pub use flush::{BridgeWrite, FlushList};
pub use reader::Reader;

pub use task::{adopt, run};

use lifecycle::{Stage, State};
use mask::next_mask;

/// Panics on purpose, for the tests that show a panic neither aborts Node
/// nor breaks a lock for ever (`armTestPanic`): armed per thread, once.
pub mod test_panic {
  use std::cell::Cell;
  use std::sync::atomic::{AtomicBool, Ordering};

  pub const READ: u8 = 1;
  pub const SEND: u8 = 2;

  /// Whether any thread ever armed one: until then a send or read looks at
  /// this one static and not at its thread's local.
  static EVER: AtomicBool = AtomicBool::new(false);

  thread_local! {
    static ARMED: Cell<u8> = const { Cell::new(0) };
  }

  /// The next read (`READ`) or send (`SEND`) on this thread panics.
  pub fn arm(what: u8) {
    EVER.store(true, Ordering::Relaxed);
    ARMED.with(|a| a.set(what));
  }

  #[inline]
  pub(crate) fn maybe(what: u8) {
    if EVER.load(Ordering::Relaxed) && ARMED.with(|a| a.get()) == what {
      ARMED.with(|a| a.set(0));
      panic!("wsrs: a panic on purpose (armTestPanic), in a {}", if what == READ { "read" } else { "send" });
    }
  }
}
use crate::sync::Lock;
use out::{write_vectored_all, Out, OutGuard};

/// Per-connection settings, copied from the server's options.
#[derive(Debug, Clone, Copy)]
pub struct ConnOptions {
  pub limits: Limits,
  pub auto_pong: bool,
  /// 0 = no limit.
  pub max_pending_auto_pongs: u32,
  pub close_timeout: Duration,
  /// Bytes a connection may have queued for a slow reader (0 = no limit).
  pub max_buffered: usize,
  /// What happens to a send past `max_buffered`: drop it, or end the
  /// connection.
  pub drop_when_full: bool,
  /// Client role: every frame sent is masked (and `limits.expect_masked`
  /// is false).
  pub mask: bool,
}

#[cfg(any(test, feature = "fuzzing"))]
impl ConnOptions {
  /// A server's connection with no limits (unit tests and fuzz targets).
  pub fn unlimited_server() -> ConnOptions {
    ConnOptions {
      limits: Limits { max_payload: 0, max_fragments: 0, skip_utf8_validation: false, expect_masked: true },
      auto_pong: true,
      max_pending_auto_pongs: 0,
      close_timeout: Duration::from_secs(1),
      max_buffered: 0,
      drop_when_full: false,
      mask: false,
    }
  }
}

/// What permessage-deflate negotiated for one connection (RFC 7692 §7.1),
/// from our side: whether the peer keeps its compression context (so must
/// our inflater, and within which window), whether we keep ours, how we
/// compress (zlib's settings with our negotiated window), and ws's
/// `threshold`.
#[derive(Debug, Clone, Copy)]
pub struct Deflate {
  pub peer_takeover: bool,
  pub peer_window_bits: u8,
  pub own_takeover: bool,
  pub settings: crate::deflate::Settings,
  pub threshold: u32,
}

/// A fan-out's compressed frames, made once per compressor settings for
/// the recipients that keep no compression context.
#[derive(Default)]
pub struct SharedFrames(Vec<(crate::deflate::Settings, Vec<u8>)>);

impl SharedFrames {
  fn get(&mut self, settings: crate::deflate::Settings, opcode: u8, payload: &[u8]) -> &[u8] {
    let i = match self.0.iter().position(|(k, _)| *k == settings) {
      Some(i) => i,
      None => {
        let mut z = Vec::new();
        crate::deflate::deflate_shared(settings, payload, &mut z);
        let mut f = Vec::with_capacity(z.len() + 10);
        frame::write_compressed_frame(&mut f, true, opcode, &z, None);
        self.0.push((settings, f));
        self.0.len() - 1
      }
    };
    &self.0[i].1
  }
}

/// What `send` did (JS reads the numbers through `wireConstants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Sent {
  Queued = 0,
  /// Not open for data any more (closing or closed).
  NotOpen = 1,
  /// Over `max_buffered`, dropped (the connection stays open).
  Dropped = 2,
  /// Over `max_buffered`: the connection is being terminated.
  Overflow = 3,
}

pub struct Conn {
  /// The instance (environment and copy of the module) it belongs to.
  pub inst: Arc<Instance>,
  /// Rust-side id (the request id while the handshake is pending).
  pub id: u32,
  /// JS-side slot, the id in events once open.
  slot: AtomicU32,
  opts: ConnOptions,
  out: Mutex<Out>,
  notify: Notify,
  /// When the peer last sent anything (ms on `clock()`), for the heartbeat.
  pub last_seen: AtomicU64,
  /// When the heartbeat last pinged this peer (0 = never).
  pub pinged_at: AtomicU64,
  /// The peer sent more pings than it reads pongs: stop reading it.
  flooded: AtomicBool,
  /// A copy of `Out`'s flags, updated whenever its lock is released.
  state: AtomicU32,
  /// Itself, for the I/O task it starts when it first needs one.
  me: std::sync::Weak<Conn>,
  /// What its I/O task runs when it ends, until that task is started
  /// (`start_task`): a connection that JS reads and writes has none, which
  /// saves an idle connection the task's memory.
  deferred: Mutex<Option<OnEnd>>,
}

/// What a connection's I/O task runs as it ends (its server forgets it).
pub type OnEnd = Box<dyn FnOnce(&Arc<Conn>) + Send>;

/// Milliseconds since the first call: a cheap monotonic clock for heartbeats.
pub fn clock() -> u64 {
  static EPOCH: OnceLock<Instant> = OnceLock::new();
  EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Payloads at least this large are written at once rather than corked.
const DIRECT_WRITE_MIN: usize = 16 * 1024;

impl Conn {
  pub fn new(inst: &Arc<Instance>, opts: ConnOptions, stream: Arc<Socket>) -> Arc<Conn> {
    Conn::build(inst, opts, 0, Out::new(Stage::Pending, Some(stream), false))
  }

  fn build(inst: &Arc<Instance>, opts: ConnOptions, slot: u32, out: Out) -> Arc<Conn> {
    let state = out.life.flags(out.blocked).0;
    Arc::new_cyclic(|me| Conn {
      inst: inst.clone(),
      id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
      slot: AtomicU32::new(slot),
      opts,
      out: Mutex::new(out),
      notify: Notify::new(),
      last_seen: AtomicU64::new(clock()),
      pinged_at: AtomicU64::new(0),
      flooded: AtomicBool::new(false),
      state: AtomicU32::new(state),
      me: me.clone(),
      deferred: Mutex::new(None),
    })
  }

  /// Waits for JS's decision; `leftover` (bytes after the request head) is
  /// parsed once the connection is open.
  pub fn register_pending(self: &Arc<Self>, leftover: Vec<u8>) {
    self.inst.pending.locked().insert(self.id, (self.clone(), leftover));
  }

  pub fn slot(&self) -> u32 {
    self.slot.load(Ordering::Acquire)
  }

  /// Locks the shared state; releasing it publishes the flags the I/O task
  /// polls (`State`), so that task never takes the lock just to look, and
  /// wakes the task if they changed (see `OutGuard`).
  ///
  /// A panic while the state was held (a bug) leaves it half changed: the
  /// connection is then terminated ('close' with 1006), the lock
  /// cleared of its poison, and the other connections go on.
  fn lock(&self) -> OutGuard<'_> {
    let out = match self.out.lock() {
      Ok(out) => out,
      Err(poisoned) => {
        self.out.clear_poison();
        let mut out = poisoned.into_inner();
        out.life.terminate();
        out
      }
    };
    OutGuard { out: std::mem::ManuallyDrop::new(out), conn: self }
  }

  fn mask_key(&self) -> Option<[u8; 4]> {
    self.opts.mask.then(next_mask)
  }

  fn state(&self) -> State {
    State(self.state.load(Ordering::Acquire))
  }

  /// Puts this connection on the JS thread's flush list (JS thread only).
  fn mark_dirty(self: &Arc<Self>, out: &mut Out, list: &mut FlushList) {
    if !out.dirty && !out.blocked {
      out.dirty = true;
      list.dirty.push_back(self.clone());
    }
  }

  // ---- called on the JS thread -------------------------------------------

  /// JS accepted the upgrade: `head` (the 101 response) goes out first, with
  /// whatever is sent before the next flush. Returns the connection and the
  /// bytes that followed the request.
  pub fn accept(
    inst: &Instance,
    request_id: u32,
    slot: u32,
    head: &[u8],
    list: &mut FlushList,
  ) -> Option<(Arc<Conn>, Vec<u8>)> {
    let (conn, leftover) = inst.pending.locked().remove(&request_id)?;
    if !Conn::open(&conn, slot, head, list) {
      return None;
    }
    Some((conn, leftover))
  }

  /// Moves a connection to the open phase under JS slot `slot`, with `head`
  /// queued before anything else. False if its socket is already gone.
  pub fn open(conn: &Arc<Conn>, slot: u32, head: &[u8], list: &mut FlushList) -> bool {
    let mut out = conn.lock();
    if out.stream.is_none() {
      return false;
    }
    out.buf.extend_from_slice(head);
    out.life.accept();
    conn.slot.store(slot, Ordering::Release);
    // The 101 answer goes on the wire now, as ws writes it before it emits
    // 'connection': whatever that handler does next (terminate, close), the
    // peer has its handshake answer, and bufferedAmount counts only frames.
    out.write_now();
    if out.buf.is_empty() {
      // A connection that stays idle keeps no buffer for its 101 answer.
      out.buf = Vec::new();
    }
    conn.mark_dirty(&mut out, list);
    true
  }

  /// JS refused the upgrade: write `answer` (if any) and close.
  pub fn reject(inst: &Instance, request_id: u32, answer: Option<&[u8]>) {
    let Some((conn, _)) = inst.pending.locked().remove(&request_id) else {
      return;
    };
    {
      let mut out = conn.lock();
      match answer {
        Some(a) => {
          out.buf.extend_from_slice(a);
          out.life.reject(true);
        }
        None => out.life.reject(false),
      }
    }
  }

  /// Queues one data frame, within the connection's buffer limit. As ws's
  /// Sender compresses (`send(data, { compress, fin })`): with `compress`,
  /// a message's first frame is compressed if permessage-deflate was
  /// negotiated and the frame has at least `threshold` bytes; its
  /// continuations follow that choice, whatever their own `compress`.
  pub fn send(self: &Arc<Self>, opcode: u8, fin: bool, payload: &[u8], compress: bool, list: &mut FlushList) -> Sent {
    let mut guard = self.lock();
    if let Some(refused) = self.admit(&mut guard, payload.len(), list) {
      return refused;
    }
    test_panic::maybe(test_panic::SEND);
    let out: &mut Out = &mut guard;
    let first = opcode != frame::OP_CONT;
    let compressed = if first {
      compress && out.deflater.is_some() && payload.len() >= out.threshold as usize
    } else {
      out.frag_compressed
    };
    if first || fin {
      out.frag_compressed = compressed && !fin;
    }
    if let Some(d) = out.deflater.as_mut().filter(|_| compressed) {
      let mut z = Vec::with_capacity(payload.len() / 2 + 16);
      d.deflate_fragment(payload, fin, &mut z);
      if first {
        // RSV1 on a message's first frame only (RFC 7692 §6.1).
        frame::write_compressed_frame(&mut out.buf, fin, opcode, &z, self.mask_key());
      } else {
        frame::write_frame(&mut out.buf, fin, opcode, &z, self.mask_key());
      }
      self.mark_dirty(out, list);
      return Sent::Queued;
    }
    let mut out = guard;
    if payload.len() >= DIRECT_WRITE_MIN
      && out.buf.is_empty()
      && !out.blocked
      && out.stream.is_some()
      && !self.opts.mask
    {
      // A large payload with nothing queued before it: write it now, straight
      // from the caller's memory (no copy), and queue only what the socket
      // did not take.
      let mut header = Vec::with_capacity(10);
      frame::write_header(&mut header, fin, opcode, payload.len(), None);
      let stream = out.stream.clone().unwrap();
      let written = write_vectored_all(stream.get_ref(), &header, payload);
      if let Ok(n) = written {
        out.written += n as u64;
      }
      match written {
        Ok(n) if n == header.len() + payload.len() => {
          // Written; on the flush list all the same, so that the next flush
          // reports it written (send callbacks).
          self.mark_dirty(&mut out, list);
          return Sent::Queued;
        }
        Ok(n) => {
          if n < header.len() {
            out.buf.extend_from_slice(&header[n..]);
            out.buf.extend_from_slice(payload);
          } else {
            out.buf.extend_from_slice(&payload[n - header.len()..]);
          }
          out.blocked = true;
          return Sent::Queued;
        }
        Err(_) => {
          out.life.fail();
          return Sent::Queued;
        }
      }
    }
    frame::write_frame(&mut out.buf, fin, opcode, payload, self.mask_key());
    self.mark_dirty(&mut out, list);
    Sent::Queued
  }

  /// Queues an already framed message (a publish framed it once for all,
  /// or engine.io's `sendFrame`): the same checks and results as `send`.
  pub fn send_framed(self: &Arc<Self>, framed: &[u8], list: &mut FlushList) -> Sent {
    let mut out = self.lock();
    if let Some(refused) = self.admit(&mut out, framed.len(), list) {
      return refused;
    }
    out.buf.extend_from_slice(framed);
    self.mark_dirty(&mut out, list);
    Sent::Queued
  }

  /// Whether `len` more bytes may be queued: None if so, else what the send
  /// did instead (not open; over `max_buffered`: dropped, or the connection
  /// is terminated).
  fn admit(self: &Arc<Self>, out: &mut Out, len: usize, list: &mut FlushList) -> Option<Sent> {
    if !out.open_for_data() {
      return Some(Sent::NotOpen);
    }
    let max = self.opts.max_buffered;
    if max == 0 || out.buffered() + len <= max {
      return None;
    }
    // A reader too slow for what is sent to it: memory must not grow
    // without bound.
    if self.opts.drop_when_full {
      return Some(Sent::Dropped);
    }
    out.life.terminate();
    if out.bridged {
      // JS destroys a bridged socket; the flush tells it to.
      self.mark_dirty(out, list);
    }
    Some(Sent::Overflow)
  }

  /// Queues a close frame (`code` None = no body) and starts the close
  /// timer. After the peer's close frame (this is the answer to it) or with
  /// `end`, the connection is ended once the frame is written, as ws does.
  pub fn close(self: &Arc<Self>, code: Option<u16>, reason: &[u8], end: bool, list: &mut FlushList) {
    let mut out = self.lock();
    if !out.life.stage().is_established() || !out.connected() {
      return;
    }
    if out.life.send_close(Instant::now()) {
      frame::write_close(&mut out.buf, code, reason, self.mask_key());
    }
    if end {
      out.life.shut_after_write();
    }
    self.mark_dirty(&mut out, list);
  }

  /// Ends the connection at once (`terminate()`, the heartbeat). What was
  /// sent before goes out first, as far as the socket takes it at once: ws
  /// writes each send to its socket before a `terminate()` can follow.
  pub fn terminate(&self) {
    let mut out = self.lock();
    if out.life.stage().is_established() && out.connected() {
      out.write_now();
    }
    out.life.terminate();
  }

  /// Bytes queued but not yet handed to the kernel.
  pub fn buffered_amount(&self) -> usize {
    self.lock().buffered()
  }

  /// Puts it on the flush list (JS thread): the I/O thread queued a frame
  /// on it, or ended it.
  pub fn kick(self: &Arc<Self>, list: &mut FlushList) {
    let mut out = self.lock();
    self.mark_dirty(&mut out, list);
  }

  /// Queues one recipient's copy of a fan-out (publish, broadcast), under
  /// one lock: `framed`, the frame made once for all; or, where
  /// permessage-deflate was negotiated and the message reaches `threshold`,
  /// the message compressed with its own context, or (keeping none) the
  /// frame compressed once for all recipients with its settings (`shared`).
  pub fn send_fan_out(
    self: &Arc<Self>,
    opcode: u8,
    payload: &[u8],
    framed: &[u8],
    shared: &mut SharedFrames,
    list: &mut FlushList,
  ) -> Sent {
    let mut guard = self.lock();
    if let Some(refused) = self.admit(&mut guard, framed.len(), list) {
      return refused;
    }
    let out: &mut Out = &mut guard;
    let threshold = out.threshold as usize;
    match out.deflater.as_mut().filter(|_| payload.len() >= threshold) {
      None => out.buf.extend_from_slice(framed),
      Some(d) => match d.shareable() {
        Some(settings) => out.buf.extend_from_slice(shared.get(settings, opcode, payload)),
        None => {
          let mut z = Vec::with_capacity(payload.len() / 2 + 16);
          d.deflate(payload, &mut z);
          frame::write_compressed_frame(&mut out.buf, true, opcode, &z, None);
        }
      },
    }
    self.mark_dirty(out, list);
    Sent::Queued
  }

  /// permessage-deflate was negotiated for it (JS thread, as it opens).
  pub fn set_deflate(&self, d: &Deflate) {
    let mut out = self.lock();
    out.deflater = Some(Box::new(crate::deflate::Deflater::new(d.settings, d.own_takeover)));
    out.threshold = d.threshold;
  }

  /// Bytes written to its socket so far.
  pub fn bytes_written(&self) -> u64 {
    self.lock().written
  }

  /// Runs `f` on its socket (None once it is gone, or where Node keeps it).
  pub fn with_socket<R>(&self, f: impl FnOnce(socket2::SockRef<'_>) -> R) -> Option<R> {
    let out = self.lock();
    out.stream.as_ref().map(|s| f(socket2::SockRef::from(s.get_ref())))
  }

  /// Whether Node keeps this connection's socket (the bridged path).
  pub fn is_bridged(&self) -> bool {
    self.lock().bridged
  }

  /// Whether JS has released it (its slot may be another's).
  pub fn is_released(&self) -> bool {
    self.lock().life.is_released()
  }

  /// JS released the connection's slot (JS thread): nothing queued for it
  /// may reach whichever connection gets the slot next.
  pub fn release(&self) {
    let mut out = self.lock();
    out.life.release();
    out.dirty = false;
    out.buf = Vec::new();
    out.pos = 0;
    out.js_out = Vec::new();
    out.js_end = false;
  }

  /// A connection whose socket Node keeps (a TLS socket, any Duplex): JS
  /// feeds what it reads to `Reader::feed` and writes what `flush_all`
  /// returns; Rust keeps the protocol. Open at once under `slot`.
  pub fn new_bridged(inst: &Arc<Instance>, opts: ConnOptions, slot: u32) -> Arc<Conn> {
    Conn::build(inst, opts, slot, Out::new(Stage::Open, None, true))
  }

  /// The instance is being torn down (its environment is exiting): a last
  /// close frame, 1001 "going away", where one can still be sent, then the
  /// connection ends at once (its I/O task closes the socket).
  pub fn going_away(&self) {
    let mut out = self.lock();
    if out.life.stage().is_established() && out.connected() && !out.bridged {
      if out.life.send_close(Instant::now()) {
        frame::write_close(&mut out.buf, Some(1001), &[], self.mask_key());
      }
      // What the peer sent and nobody will read would turn our close into
      // a reset that can eat the close frame: read it away first.
      if let Some(stream) = &out.stream {
        let mut sink = [0u8; 4096];
        for _ in 0..64 {
          match stream.get_ref().read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
          }
        }
      }
      out.life.shut_after_write();
      out.blocked = false;
      let _ = out.write_some();
    }
    out.life.terminate();
  }

  // ---- called on the I/O thread --------------------------------------------

  /// Queues a control frame and writes it at once (I/O thread).
  pub fn send_control(&self, opcode: u8, payload: &[u8]) -> bool {
    let mut out = self.lock();
    if !out.life.may_send_control() || !out.connected() {
      return false;
    }
    frame::write_frame(&mut out.buf, true, opcode, payload, self.mask_key());
    out.write_now();
    true
  }
}

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

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::bridge::{self, kind, FLAG_BINARY, FLAG_RANGE_ERROR};
use crate::frame::{self, Limits, Progress, Receiver, Sink};
use crate::instance::Instance;
use crate::pool;

pub use crate::sys::Socket;

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

thread_local! {
  static MASK_STATE: std::cell::Cell<u64> = std::cell::Cell::new({
    use std::hash::{BuildHasher, Hasher};
    // Seeded from the OS (RandomState's keys), then xorshift64*.
    std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
  });
}

/// A fresh masking key for a client frame.
fn next_mask() -> [u8; 4] {
  MASK_STATE.with(|s| {
    let mut x = s.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.set(x);
    ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32).to_ne_bytes()
  })
}

/// What `send` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
  Queued,
  /// Not open for data any more (closing or closed).
  NotOpen,
  /// Over `max_buffered`, dropped (the connection stays open).
  Dropped,
  /// Over `max_buffered`: the connection is being terminated.
  Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
  /// Upgrade request parsed; JS has not decided yet.
  Pending,
  Open,
  /// JS refused the upgrade: write the answer, then close.
  Rejected,
}

/// State shared by the I/O task and the JS thread.
struct Out {
  phase: Phase,
  stream: Option<Arc<Socket>>,
  buf: Vec<u8>,
  /// How much of `buf` is already written.
  pos: usize,
  /// The socket returned EAGAIN: the I/O task owns writing until it drains.
  blocked: bool,
  /// On the JS thread's flush list.
  dirty: bool,
  close_sent: bool,
  close_received: bool,
  /// Shut the write side down once `buf` is written.
  shutdown_pending: bool,
  shut: bool,
  closing_since: Option<Instant>,
  terminate: bool,
  write_failed: bool,
  /// The peer closed its side (seen by the JS thread's read).
  peer_eof: bool,
  pending_pongs: u32,
  /// Node keeps the socket (TLS, any Duplex): bytes to write are handed to
  /// JS (`js_out`), and `js_end` asks JS to end the socket once written.
  bridged: bool,
  js_out: Vec<u8>,
  js_end: bool,
  /// JS released the slot (after CLOSED): the connection is gone for good,
  /// and the slot may already name another one.
  released: bool,
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
}

/// The flags of `Out` that the I/O task checks on every wake-up.
#[derive(Clone, Copy)]
struct State(u32);

impl State {
  const TERMINATE: u32 = 1;
  const BLOCKED: u32 = 4;
  const FAILED: u32 = 8;
  const OPEN: u32 = 16;
  const REJECTED: u32 = 32;
  const SHUT: u32 = 64;
  const CLOSING: u32 = 128;
  const EOF: u32 = 256;

  fn of(o: &Out) -> State {
    let mut b = 0;
    let mut set = |cond: bool, bit: u32| {
      if cond {
        b |= bit
      }
    };
    set(o.terminate, Self::TERMINATE);
    set(o.blocked, Self::BLOCKED);
    set(o.write_failed, Self::FAILED);
    set(o.phase == Phase::Open, Self::OPEN);
    set(o.phase == Phase::Rejected, Self::REJECTED);
    set(o.shut, Self::SHUT);
    set(o.closing_since.is_some(), Self::CLOSING);
    set(o.peer_eof, Self::EOF);
    State(b)
  }

  fn has(self, bit: u32) -> bool {
    self.0 & bit != 0
  }
}

/// The shared state, locked. Releasing it publishes the flags the I/O task
/// acts on (`State`) and, when they changed, wakes the task: whichever
/// thread changes them (a send past the limit, a pong that fills the socket,
/// a close, a terminate), the task learns of it in this one place.
struct OutGuard<'a> {
  out: std::mem::ManuallyDrop<std::sync::MutexGuard<'a, Out>>,
  state: &'a AtomicU32,
  notify: &'a Notify,
}

impl std::ops::Deref for OutGuard<'_> {
  type Target = Out;
  fn deref(&self) -> &Out {
    &self.out
  }
}

impl std::ops::DerefMut for OutGuard<'_> {
  fn deref_mut(&mut self) -> &mut Out {
    &mut self.out
  }
}

impl Drop for OutGuard<'_> {
  fn drop(&mut self) {
    let now = State::of(&self.out).0;
    let before = self.state.swap(now, Ordering::AcqRel);
    // SAFETY: dropped once, here; the lock is released before the wake-up.
    unsafe { std::mem::ManuallyDrop::drop(&mut self.out) };
    if now != before {
      self.notify.notify_one();
    }
  }
}

/// Milliseconds since the first call: a cheap monotonic clock for heartbeats.
pub fn clock() -> u64 {
  static EPOCH: OnceLock<Instant> = OnceLock::new();
  EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// An instance's connections with bytes to write (JS thread): the flush
/// list of corked writes.
#[derive(Default)]
pub struct FlushList {
  /// Connections with unwritten bytes queued by the JS thread, in the order
  /// they were first sent to.
  dirty: VecDeque<Arc<Conn>>,
  /// Connections the reactor read since the last flush: their answers are
  /// written first.
  read_turn: Vec<Arc<Conn>>,
}

thread_local! {
  /// The reading thread's one receive buffer, shared by all connections.
  static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; 256 * 1024]);
}

impl Out {
  fn new(phase: Phase, stream: Option<Arc<Socket>>, bridged: bool) -> Out {
    Out {
      phase,
      stream,
      buf: Vec::new(),
      pos: 0,
      blocked: false,
      dirty: false,
      close_sent: false,
      close_received: false,
      shutdown_pending: false,
      shut: false,
      closing_since: None,
      terminate: false,
      write_failed: false,
      peer_eof: false,
      pending_pongs: 0,
      bridged,
      js_out: Vec::new(),
      js_end: false,
      released: false,
    }
  }

  /// Writes as much of `buf` as the socket takes. Ok(true) when all is written.
  fn write_some(&mut self) -> io::Result<bool> {
    if self.bridged {
      let pending = &self.buf[self.pos..];
      self.js_out.extend_from_slice(pending);
      self.buf.clear();
      self.pos = 0;
      self.pending_pongs = 0;
      if self.shutdown_pending && !self.shut {
        self.shut = true;
        self.js_end = true;
      }
      return Ok(true);
    }
    let Some(stream) = self.stream.clone() else {
      self.buf.clear();
      self.pos = 0;
      return Ok(true);
    };
    while self.pos < self.buf.len() {
      match stream.get_ref().write(&self.buf[self.pos..]) {
        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => self.pos += n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
        Err(e) => return Err(e),
      }
    }
    self.pos = 0;
    if self.buf.capacity() > 4096 {
      self.buf = Vec::new();
    } else {
      self.buf.clear();
    }
    self.pending_pongs = 0;
    if self.shutdown_pending && !self.shut {
      self.shut = true;
      let _ = stream.get_ref().shutdown(Shutdown::Write);
    }
    Ok(true)
  }

  /// Writes now unless the I/O task owns writing. Returns true if writing is
  /// not finished (the socket is full, or writing failed); the task learns
  /// of it when the lock is released.
  fn write_now(&mut self) -> bool {
    if self.blocked {
      return false;
    }
    match self.write_some() {
      Ok(true) => false,
      Ok(false) => {
        self.blocked = true;
        true
      }
      Err(_) => {
        self.write_failed = true;
        true
      }
    }
  }

  fn buffered(&self) -> usize {
    self.buf.len() - self.pos
  }

  fn open_for_data(&self) -> bool {
    self.phase == Phase::Open && !self.close_sent && self.connected()
  }

  /// The connection still has a socket (its own, or Node's when bridged).
  fn connected(&self) -> bool {
    (self.stream.is_some() || self.bridged) && !self.released
  }
}

impl Conn {
  pub fn new(inst: &Arc<Instance>, opts: ConnOptions, stream: Arc<Socket>) -> Arc<Conn> {
    Conn::build(inst, opts, 0, Out::new(Phase::Pending, Some(stream), false))
  }

  fn build(inst: &Arc<Instance>, opts: ConnOptions, slot: u32, out: Out) -> Arc<Conn> {
    let state = State::of(&out).0;
    Arc::new(Conn {
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
    })
  }

  /// Waits for JS's decision; `leftover` (bytes after the request head) is
  /// parsed once the connection is open.
  pub fn register_pending(self: &Arc<Self>, leftover: Vec<u8>) {
    self.inst.pending.lock().unwrap().insert(self.id, (self.clone(), leftover));
  }

  pub fn slot(&self) -> u32 {
    self.slot.load(Ordering::Acquire)
  }

  /// Locks the shared state; releasing it publishes the flags the I/O task
  /// polls (`State`), so that task never takes the lock just to look, and
  /// wakes the task if they changed (see `OutGuard`).
  fn lock(&self) -> OutGuard<'_> {
    OutGuard { out: std::mem::ManuallyDrop::new(self.out.lock().unwrap()), state: &self.state, notify: &self.notify }
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
    let (conn, leftover) = inst.pending.lock().unwrap().remove(&request_id)?;
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
    out.phase = Phase::Open;
    conn.slot.store(slot, Ordering::Release);
    conn.mark_dirty(&mut out, list);
    true
  }

  /// JS refused the upgrade: write `answer` (if any) and close.
  pub fn reject(inst: &Instance, request_id: u32, answer: Option<&[u8]>) {
    let Some((conn, _)) = inst.pending.lock().unwrap().remove(&request_id) else {
      return;
    };
    {
      let mut out = conn.lock();
      match answer {
        Some(a) => {
          out.buf.extend_from_slice(a);
          out.shutdown_pending = true;
          out.phase = Phase::Rejected;
        }
        None => out.terminate = true,
      }
    }
  }

  /// Queues one data frame, within the connection's buffer limit.
  pub fn send(self: &Arc<Self>, opcode: u8, fin: bool, payload: &[u8], list: &mut FlushList) -> Sent {
    let mut out = self.lock();
    if !out.open_for_data() {
      return Sent::NotOpen;
    }
    let max = self.opts.max_buffered;
    if max > 0 && out.buffered() + payload.len() > max {
      // A reader too slow for what is sent to it: memory must not grow
      // without bound.
      if self.opts.drop_when_full {
        return Sent::Dropped;
      }
      out.terminate = true;
      if out.bridged {
        // JS destroys a bridged socket; the flush tells it to.
        self.mark_dirty(&mut out, list);
      }
      return Sent::Overflow;
    }
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
          out.write_failed = true;
          return Sent::Queued;
        }
      }
    }
    frame::write_frame(&mut out.buf, fin, opcode, payload, self.mask_key());
    self.mark_dirty(&mut out, list);
    Sent::Queued
  }

  /// Queues an already framed message (a publish framed it once for all).
  pub fn send_framed(self: &Arc<Self>, framed: &[u8], list: &mut FlushList) -> bool {
    let mut out = self.lock();
    if !out.open_for_data() {
      return false;
    }
    let max = self.opts.max_buffered;
    if max > 0 && out.buffered() + framed.len() > max {
      if !self.opts.drop_when_full {
        out.terminate = true;
      }
      return false;
    }
    out.buf.extend_from_slice(framed);
    self.mark_dirty(&mut out, list);
    true
  }

  /// Queues a close frame (`code` None = no body) and starts the close
  /// timer. After the peer's close frame (this is the answer to it) or with
  /// `end`, the connection is ended once the frame is written, as ws does.
  pub fn close(self: &Arc<Self>, code: Option<u16>, reason: &[u8], end: bool, list: &mut FlushList) {
    let mut out = self.lock();
    if out.phase != Phase::Open || !out.connected() {
      return;
    }
    if !out.close_sent {
      frame::write_close(&mut out.buf, code, reason, self.mask_key());
      out.close_sent = true;
    }
    if out.closing_since.is_none() {
      out.closing_since = Some(Instant::now());
    }
    if out.close_received || end {
      out.shutdown_pending = true;
    }
    self.mark_dirty(&mut out, list);
  }

  pub fn terminate(&self) {
    self.lock().terminate = true;
  }

  /// Bytes queued but not yet handed to the kernel.
  pub fn buffered_amount(&self) -> usize {
    self.lock().buffered()
  }

  /// JS released the connection's slot (JS thread): nothing queued for it
  /// may reach whichever connection gets the slot next.
  pub fn release(&self) {
    let mut out = self.lock();
    out.released = true;
    out.dirty = false;
    out.buf = Vec::new();
    out.pos = 0;
    out.js_out = Vec::new();
    out.js_end = false;
  }

  /// Writes this connection's queued bytes with one write if it is on the
  /// flush list (JS thread). False if it was not. Adds its slot to `written`
  /// if everything it had queued is written.
  fn flush_if_dirty(&self, bridged: &mut Vec<BridgeWrite>, written: Option<&mut Vec<u32>>) -> bool {
    let mut out = self.lock();
    if !out.dirty {
      return false;
    }
    out.dirty = false;
    if !out.connected() {
      // Gone since it was queued (its slot may be another's by now):
      // nothing to write, nothing to report.
      return true;
    }
    out.write_now();
    if let (Some(w), false, 0) = (written, out.blocked, out.buffered()) {
      w.push(self.slot());
    }
    if out.bridged && (!out.js_out.is_empty() || out.js_end || out.terminate) {
      bridged.push(BridgeWrite {
        slot: self.slot(),
        data: std::mem::take(&mut out.js_out),
        end: std::mem::take(&mut out.js_end),
        destroy: out.terminate,
      });
    }
    true
  }

  /// A connection whose socket Node keeps (a TLS socket, any Duplex): JS
  /// feeds what it reads to `Reader::feed` and writes what `flush_all`
  /// returns; Rust keeps the protocol. Open at once under `slot`.
  pub fn new_bridged(inst: &Arc<Instance>, opts: ConnOptions, slot: u32) -> Arc<Conn> {
    Conn::build(inst, opts, slot, Out::new(Phase::Open, None, true))
  }

  /// The instance is being torn down (its environment is exiting): a last
  /// close frame, 1001 "going away", where one can still be sent, then the
  /// connection ends at once (its I/O task closes the socket).
  pub fn going_away(&self) {
    let mut out = self.lock();
    if out.phase == Phase::Open && out.connected() && !out.bridged {
      if !out.close_sent {
        frame::write_close(&mut out.buf, Some(1001), &[], self.mask_key());
        out.close_sent = true;
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
      out.shutdown_pending = true;
      out.blocked = false;
      let _ = out.write_some();
    }
    out.terminate = true;
  }

  // ---- called on the I/O thread --------------------------------------------

  /// Queues a control frame and writes it at once (I/O thread).
  pub fn send_control(&self, opcode: u8, payload: &[u8]) -> bool {
    let mut out = self.lock();
    if out.phase != Phase::Open || out.close_sent || !out.connected() {
      return false;
    }
    frame::write_frame(&mut out.buf, true, opcode, payload, self.mask_key());
    out.write_now();
    true
  }
}

impl FlushList {
  /// Writes what connections on the flush list have queued (JS thread), one
  /// write each: first every connection read since the last flush (the
  /// peers talking to us get their answers now), then the others in the
  /// order they were sent to, at most `FLUSH_SLICE` of them. Returns the
  /// bridged connections' bytes for JS to write, the slots whose queue is
  /// now all written (if `collect`: JS runs their send callbacks), and
  /// whether connections are left for the next flush.
  ///
  /// Slicing matters for fan-out under load: between slices the event loop
  /// reads again, and what it reads is queued behind what the remaining
  /// recipients already have, so they get more messages per write (fewer
  /// system calls and packets for the same deliveries).
  pub fn flush(&mut self, collect: bool) -> (Vec<BridgeWrite>, Vec<u32>, bool) {
    let mut bridged = Vec::new();
    let mut written = Vec::new();
    let mut done = collect.then_some(&mut written);
    for conn in self.read_turn.drain(..) {
      conn.flush_if_dirty(&mut bridged, done.as_deref_mut());
    }
    let mut flushed = 0;
    while flushed < FLUSH_SLICE {
      let Some(conn) = self.dirty.pop_front() else {
        break;
      };
      if conn.flush_if_dirty(&mut bridged, done.as_deref_mut()) {
        flushed += 1;
      }
    }
    let more = !self.dirty.is_empty();
    (bridged, written, more)
  }

  /// Forgets the connections read this turn (JS thread, after JS ran): a
  /// server that answers nothing must not collect them.
  pub fn end_read_turn(&mut self) {
    self.read_turn.clear();
  }

  /// A connection the reactor read (JS thread).
  fn was_read(&mut self, conn: &Arc<Conn>) {
    self.read_turn.push(conn.clone());
  }

  /// Forgets everything (the instance's teardown).
  pub fn clear(&mut self) {
    self.dirty.clear();
    self.read_turn.clear();
  }
}

/// Receives what the parser finds in one read. Messages go straight into the
/// JS batch. Pings are answered at once, before the batch is visible to JS,
/// so a pong never waits behind replies to later messages. The close frame
/// and protocol faults are answered by JS (`close` / `fail`), after the
/// messages before them, exactly in ws's order.
struct ConnSink<'a, 'b> {
  conn: &'a Conn,
  slot: u32,
  events: &'a mut bridge::Events<'b>,
  close: Option<(u16, Vec<u8>)>,
  /// Too many pongs queued to a peer that does not read: terminate.
  flooded: bool,
  /// The input is the connection's own frame buffer, which a large message
  /// may take over instead of being copied.
  input_owned: bool,
  /// (kind, offset, len) of the large message that takes the buffer.
  take: Option<(u32, usize, usize)>,
}

/// Messages this large are handed to JS in a buffer of their own.
const OWN_MIN: usize = pool::MIN;

impl Sink for ConnSink<'_, '_> {
  fn message(&mut self, binary: bool, payload: &[u8], at: Option<usize>) -> bool {
    let k = kind::MESSAGE | if binary { FLAG_BINARY } else { 0 };
    if payload.len() >= OWN_MIN {
      if let (true, Some(at)) = (self.input_owned, at) {
        // Pause here: the caller hands the whole buffer to JS with this
        // message in it, then parses what follows.
        self.take = Some((k, at, payload.len()));
        return false;
      }
      // Its own (pooled) buffer rather than the batch: one copy, not two.
      let mut own = pool::take(payload.len());
      own.extend_from_slice(payload);
      self.events.push_owned(k, self.slot, own, 0, payload.len());
      return true;
    }
    self.events.push(k, self.slot, 0, payload);
    true
  }
  fn ping(&mut self, payload: &[u8]) {
    self.events.push(kind::PING, self.slot, 0, payload);
    if self.conn.opts.auto_pong && !self.flooded {
      let max = self.conn.opts.max_pending_auto_pongs;
      let mut out = self.conn.lock();
      out.pending_pongs += 1;
      if out.blocked && max > 0 && out.pending_pongs > max {
        out.terminate = true;
        self.flooded = true;
        self.conn.flooded.store(true, Ordering::Relaxed);
        return;
      }
      if out.phase == Phase::Open && !out.close_sent && out.connected() {
        frame::write_frame(&mut out.buf, true, frame::OP_PONG, payload, self.conn.mask_key());
        out.write_now();
      }
    }
  }
  fn pong(&mut self, payload: &[u8]) {
    self.events.push(kind::PONG, self.slot, 0, payload);
  }
  fn close(&mut self, code: u16, reason: &[u8]) {
    self.close = Some((code, reason.to_vec()));
  }
}

/// What a bridged connection asks JS to do with its socket.
pub struct BridgeWrite {
  pub slot: u32,
  pub data: Vec<u8>,
  /// End the socket (after writing `data`).
  pub end: bool,
  /// Destroy the socket.
  pub destroy: bool,
}

/// A connection's reading state. It belongs to the JS thread (the registry
/// keeps it with the connection's slot): the socket is read there, when the
/// reactor says it is readable, or, for a socket Node keeps, fed by JS.
pub struct Reader {
  rx: Receiver,
  /// Bytes of an incomplete frame carried to the next read.
  rbuf: Vec<u8>,
  /// No more frames are parsed (close frame received or protocol error).
  done: bool,
  /// Nothing more to read: the peer closed its side, or reading failed.
  eof: bool,
  /// `pause()`: the socket is not read until `resume()`.
  paused: bool,
}

/// How a read ended.
enum ReadEnd {
  /// The socket has nothing more for now.
  Drained,
  /// The socket may have more, but others get their turn first.
  Budget,
  Eof,
  Failed,
  /// The peer sends pings faster than it reads pongs: terminating.
  Flooded,
}

impl Reader {
  pub fn new() -> Reader {
    Reader { rx: Receiver::new(), rbuf: Vec::new(), done: false, eof: false, paused: false }
  }

  /// Starts reading a connection that has a socket of its own (JS thread):
  /// `preread` (bytes already received after the handshake) is parsed
  /// first, then the reactor watches the socket.
  pub fn start(&mut self, conn: &Arc<Conn>, mut preread: Vec<u8>) {
    if !preread.is_empty() {
      let mut events = conn.inst.bridge.events();
      self.process(conn, Some(&mut preread), &mut events);
      deliver_if_connected(conn, events);
    }
    self.watch(conn, true);
  }

  /// `pause()` / `resume()` (JS thread).
  pub fn set_paused(&mut self, conn: &Conn, paused: bool) {
    self.paused = paused;
    self.watch(conn, !paused);
  }

  /// Adds the socket to the reactor (`on`) or takes it out. Under the
  /// connection's lock, so it cannot race the I/O thread's teardown.
  fn watch(&self, conn: &Conn, on: bool) {
    let mut out = conn.lock();
    if let Some(s) = &out.stream {
      if on && !self.paused && !self.eof {
        if !conn.inst.poller.add(s.fd(), conn.slot()) {
          // Cannot be watched (the system's epoll limit): end it rather
          // than leave it unread.
          out.write_failed = true;
        }
      } else {
        conn.inst.poller.remove(s.fd());
      }
    }
  }

  /// Parses bytes JS read from a bridged connection's socket. What parsing
  /// wrote (pongs) is returned to JS by the next flush.
  pub fn feed(&mut self, conn: &Arc<Conn>, bytes: &mut [u8], list: &mut FlushList) {
    let mut events = conn.inst.bridge.events();
    self.process(conn, Some(bytes), &mut events);
    drop(events);
    let mut out = conn.lock();
    if !out.js_out.is_empty() || out.js_end || !out.buf.is_empty() {
      conn.mark_dirty(&mut out, list);
    }
  }

  /// The reactor found the socket readable (JS thread): reads what it has
  /// and parses it (with `hup`, up to the end of the stream). The events are handed to the bridge without waking JS:
  /// the reactor calls JS once, after every ready socket is read.
  pub fn on_readable(&mut self, conn: &Arc<Conn>, hup: bool, list: &mut FlushList) {
    let Some(stream) = conn.lock().stream.clone() else {
      return;
    };
    list.was_read(conn);
    let mut events = conn.inst.bridge.events_quiet();
    let end = self.read(conn, stream.get_ref(), hup, &mut events);
    let mut out = deliver_if_connected(conn, events);
    match end {
      ReadEnd::Drained => return,
      ReadEnd::Budget => return conn.inst.poller.rearm(stream.fd(), conn.slot()),
      // The I/O task finishes the connection (woken as the lock is released).
      ReadEnd::Eof => out.peer_eof = true,
      ReadEnd::Failed => out.write_failed = true,
      ReadEnd::Flooded => {}
    }
    self.eof = true;
    conn.inst.poller.remove(stream.fd());
  }

  fn read(&mut self, conn: &Conn, stream: &TcpStream, hup: bool, events: &mut bridge::Events<'_>) -> ReadEnd {
    READ_BUF.with(|b| {
      let mut buf = b.borrow_mut();
      // A few reads per wake-up, so one busy peer does not starve the others
      // (the rest is read on the reactor's next round: `rearm`).
      for _ in 0..4 {
        // The rest of a large frame goes straight into its own buffer (sized
        // for the whole frame), saving a copy; everything else lands in the
        // shared buffer first, so idle connections hold none.
        let direct = !self.rbuf.is_empty() && self.rbuf.capacity() - self.rbuf.len() >= 16 * 1024;
        let (r, room) = if direct {
          let room = self.rbuf.capacity() - self.rbuf.len();
          let r = socket2::SockRef::from(stream).recv(self.rbuf.spare_capacity_mut());
          if let Ok(n) = r {
            // SAFETY: recv initialised the first n bytes of the spare capacity.
            unsafe { self.rbuf.set_len(self.rbuf.len() + n) };
          }
          (r, room)
        } else {
          ((&*stream).read(&mut buf[..]), buf.len())
        };
        match r {
          Ok(0) => return ReadEnd::Eof,
          Ok(n) => {
            self.process(conn, if direct { None } else { Some(&mut buf[..n]) }, events);
            if conn.flooded.load(Ordering::Relaxed) {
              return ReadEnd::Flooded;
            }
            if n < room && !hup {
              // A short read drained the socket: skip the read that would
              // only say EAGAIN (data arriving later is a new edge). After
              // the peer's FIN no edge would come: read on to the end.
              return ReadEnd::Drained;
            }
          }
          Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadEnd::Drained,
          Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
          Err(_) => return ReadEnd::Failed,
        }
      }
      ReadEnd::Budget
    })
  }

  /// Parses one chunk from the socket (`None`: the new bytes were read
  /// straight into `rbuf`). Payloads are unmasked in place.
  fn process(&mut self, conn: &Conn, chunk: Option<&mut [u8]>, events: &mut bridge::Events<'_>) {
    if self.done || chunk.as_ref().is_some_and(|c| c.is_empty()) {
      return;
    }
    let slot = conn.slot();
    let mut chunk = chunk;
    if !self.rbuf.is_empty() {
      if let Some(c) = chunk.take() {
        self.rbuf.extend_from_slice(c);
      }
    }
    let mut close = None;
    loop {
      let from_rbuf = chunk.is_none();
      let mut sink = ConnSink { conn, slot, events, close: None, flooded: false, input_owned: from_rbuf, take: None };
      let progress = match chunk.as_deref_mut() {
        Some(c) => self.rx.feed(c, &conn.opts.limits, &mut sink),
        None => self.rx.feed(&mut self.rbuf, &conn.opts.limits, &mut sink),
      };
      let take = sink.take.take();
      close = close.or(sink.close.take());
      match progress {
        Progress::Paused { consumed } => {
          // A large message: hand the buffer it sits in to JS as is, and
          // carry on with what follows it in a buffer of its own.
          let (k, at, len) = take.expect("paused without a message");
          let rest = self.rbuf[consumed..].to_vec();
          let buf = std::mem::replace(&mut self.rbuf, rest);
          events.push_owned(k, slot, buf, at, len);
          if self.rbuf.is_empty() {
            self.rbuf = Vec::new();
            break;
          }
          continue;
        }
        Progress::More { consumed, need } => {
          match chunk {
            None => {
              self.rbuf.drain(..consumed);
            }
            Some(c) => self.rbuf.extend_from_slice(&c[consumed..]),
          }
          if self.rbuf.is_empty() {
            if self.rbuf.capacity() > 0 {
              self.rbuf = Vec::new();
            }
          } else if need > self.rbuf.capacity() {
            // Room for the whole frame, within reason, so that the rest of
            // it is read straight into place.
            let want = need.min(16 << 20);
            let mut bigger = pool::take(want);
            bigger.extend_from_slice(&self.rbuf);
            pool::give(std::mem::replace(&mut self.rbuf, bigger));
          }
        }
        Progress::Closed { .. } => self.stop(conn, true),
        Progress::Error(e) => {
          self.stop(conn, false);
          let msg = format!("{}\n{}", e.code(), e.message());
          let flags = if e.is_range_error() { FLAG_RANGE_ERROR } else { 0 };
          events.push(kind::ERROR | flags, slot, e.close_code() as u32, msg.as_bytes());
        }
      }
      break;
    }
    if let Some((code, reason)) = &close {
      events.push(kind::PEER_CLOSE, slot, *code as u32, reason);
    }
    conn.last_seen.store(clock(), Ordering::Relaxed);
  }

  /// Stops parsing after the peer's close frame or a protocol fault. JS
  /// answers (after the messages before it); the close timer starts now.
  fn stop(&mut self, conn: &Conn, close_received: bool) {
    self.done = true;
    self.rbuf = Vec::new();
    let mut out = conn.lock();
    if out.closing_since.is_none() {
      out.closing_since = Some(Instant::now());
    }
    if close_received {
      out.close_received = true;
      if out.close_sent {
        // We closed first; the handshake is complete: end the connection.
        out.shutdown_pending = true;
        out.write_now();
      }
    }
  }
}

impl Default for Reader {
  fn default() -> Self {
    Reader::new()
  }
}

/// Hands events read on the JS thread to the bridge, unless the connection
/// is gone meanwhile. Under its lock: the I/O thread tears a connection down
/// (and then queues its CLOSED event) under it too, so events read here
/// cannot follow CLOSED. Returns the lock, still held.
fn deliver_if_connected<'a>(conn: &'a Conn, events: bridge::Events<'_>) -> OutGuard<'a> {
  let out = conn.lock();
  if out.connected() {
    drop(events);
  } else {
    events.discard();
  }
  out
}

/// The connection's I/O task, from the parsed upgrade request to the end:
/// the phases before the connection opens, writes the socket was too full
/// for, the close timeout, and the teardown. (Reading is the JS thread's.)
pub async fn run(conn: Arc<Conn>, stream: Arc<Socket>, on_end: impl FnOnce(&Arc<Conn>)) {
  let _live = conn.inst.task();
  let mut close_timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;

  loop {
    // The shared state's flags, without taking its lock.
    let st = conn.state();
    let (terminate, blocked, failed, shut, eof) = (
      st.has(State::TERMINATE),
      st.has(State::BLOCKED),
      st.has(State::FAILED),
      st.has(State::SHUT),
      st.has(State::EOF),
    );
    let phase = if st.has(State::OPEN) {
      Phase::Open
    } else if st.has(State::REJECTED) {
      Phase::Rejected
    } else {
      Phase::Pending
    };
    if terminate || failed {
      break;
    }
    let deadline = if st.has(State::CLOSING) && close_timer.is_none() {
      conn.lock().closing_since.map(|t| t + conn.opts.close_timeout)
    } else {
      None
    };
    match phase {
      Phase::Pending => {
        conn.notify.notified().await;
        continue;
      }
      Phase::Rejected => {
        if !shut && !blocked {
          conn.lock().write_now();
          continue;
        }
        if shut {
          // Answer written: wait briefly for the peer to close so that no
          // unread bytes turn our close into a reset that eats the answer.
          if let Ok(dup) = stream.get_ref().try_clone() {
            // Boxed: only rejected connections pay for this future.
            let _ = tokio::time::timeout(Duration::from_secs(2), Box::pin(drain_until_eof(dup))).await;
          }
          break;
        }
      }
      Phase::Open => {
        if eof && !blocked {
          // The peer closed its side: finish writing, then we are done.
          let mut o = conn.lock();
          o.shutdown_pending = true;
          if !o.write_now() {
            break;
          }
          continue;
        }
      }
    }
    // The close timer exists only while closing (idle connections carry none).
    if let Some(d) = deadline {
      if close_timer.is_none() {
        close_timer = Some(Box::pin(tokio::time::sleep_until(d.into())));
      }
    }
    let sleep = async {
      match close_timer.as_mut() {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
      }
    };
    tokio::select! {
      biased;
      _ = conn.notify.notified() => {}
      r = stream.writable(), if blocked => {
        let Ok(mut guard) = r else { break };
        let (drained, wake_js) = {
          let mut o = conn.lock();
          match o.write_some() {
            Ok(true) => {
              o.blocked = false;
              (true, o.phase == Phase::Open)
            }
            Ok(false) => {
              guard.clear_ready();
              (false, false)
            }
            Err(_) => {
              o.write_failed = true;
              (false, false)
            }
          }
        };
        if drained && wake_js {
          conn.inst.bridge.events().push(kind::DRAIN, conn.slot(), 0, &[]);
        }
      }
      _ = sleep => {
        // closeTimeout: destroy the socket.
        break;
      }
    }
  }

  // Tear down: close the socket now, not when JS garbage-collects its handle.
  let was_open = {
    let mut o = conn.lock();
    conn.inst.poller.remove(stream.fd());
    o.stream = None;
    o.dirty = false;
    o.buf = Vec::new();
    o.pos = 0;
    o.phase == Phase::Open
  };
  conn.inst.pending.lock().unwrap().remove(&conn.id);
  drop(stream);
  on_end(&conn);
  if was_open {
    conn.inst.bridge.events().push(kind::CLOSED, conn.slot(), 0, &[]);
  }
}

/// Takes over a connected socket by duplicating `fd` (JS thread): `head` is
/// written first; the connection opens as `slot` and its task runs until it
/// ends (then `on_end`). The caller starts reading it (`Reader::start`).
pub fn adopt(
  inst: &Arc<Instance>,
  opts: ConnOptions,
  fd: i32,
  slot: u32,
  head: &[u8],
  list: &mut FlushList,
  on_end: impl FnOnce(&Arc<Conn>) + Send + 'static,
) -> io::Result<Arc<Conn>> {
  let std_stream = crate::sys::dup(fd)?;
  let _ = std_stream.set_nodelay(true);
  let stream = {
    let _guard = crate::runtime::handle().enter();
    Socket::register(std_stream)?
  };
  let conn = Conn::new(inst, opts, stream.clone());
  Conn::open(&conn, slot, head, list);
  crate::runtime::handle().spawn(run(conn.clone(), stream, on_end));
  Ok(conn)
}

/// Connections a flush writes beyond those read since the last one.
const FLUSH_SLICE: usize = 128;

/// Payloads at least this large are written at once rather than corked.
const DIRECT_WRITE_MIN: usize = 16 * 1024;

/// Writes `a` then `b` with as few syscalls as the socket allows; returns how
/// many bytes were written before it would block.
fn write_vectored_all(stream: &TcpStream, a: &[u8], b: &[u8]) -> io::Result<usize> {
  let total = a.len() + b.len();
  let mut done = 0;
  while done < total {
    let r = if done < a.len() {
      (&*stream).write_vectored(&[io::IoSlice::new(&a[done..]), io::IoSlice::new(b)])
    } else {
      (&*stream).write(&b[done - a.len()..])
    };
    match r {
      Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
      Ok(n) => done += n,
      Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
      Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
      Err(e) => return Err(e),
    }
  }
  Ok(done)
}

/// Reads (and discards) until the peer closes, on a duplicate of the socket
/// (the connection's own registration is for writing only).
async fn drain_until_eof(dup: TcpStream) {
  use tokio::io::AsyncReadExt;
  let Ok(mut s) = tokio::net::TcpStream::from_std(dup) else {
    return;
  };
  let mut buf = [0u8; 1024];
  while let Ok(n) = s.read(&mut buf).await {
    if n == 0 {
      return;
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Every idle connection holds one of these futures: keep it small.
  #[test]
  fn the_connection_task_is_small() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
      let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
      let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
      let (s, _) = l.accept().unwrap();
      let stream = Socket::register(s).unwrap();
      let opts = ConnOptions {
        limits: Limits { max_payload: 0, max_fragments: 0, skip_utf8_validation: false, expect_masked: true },
        auto_pong: true,
        max_pending_auto_pongs: 0,
        close_timeout: Duration::from_secs(1),
        max_buffered: 0,
        drop_when_full: false,
        mask: false,
      };
      let conn = Conn::new(&Instance::detached(), opts, stream.clone());
      let fut = run(conn.clone(), stream, |_| {});
      let size = std::mem::size_of_val(&fut);
      println!("connection task: {size} bytes; Conn: {} bytes", std::mem::size_of::<Conn>());
      assert!(size < 1024, "{size}");
    });
  }
}

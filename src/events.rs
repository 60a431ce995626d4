//! The event queue: how events from every connection reach JavaScript.
//!
//! Each instance (one per napi environment and copy of the module) has two
//! batches of events (payload bytes and a small fixed-size descriptor per
//! event):
//!
//! - the JS thread's own (`Registry::events`), with no lock: the reactor
//!   reads every ready socket into it, then calls JS once, passing the
//!   batch itself;
//! - the I/O thread's (`EventQueue`: upgrades, closes, drains), behind a
//!   lock; the first event into it wakes the instance's JS thread through
//!   its one threadsafe function.
//!
//! A delivery takes the JS thread's batch first, then the I/O thread's
//! (a connection's CLOSED, the last event for it, is the I/O thread's and
//! comes after anything read from it), as one Buffer:
//!
//! ```text
//! [payloads...][pad to 4][count x (u32 kind|flags, u32 id, u32 len, u32 extra)][u32 count]
//! ```
//!
//! Payloads follow each other in event order, so JS hands messages out as
//! `subarray` views of that one Buffer. A large batch becomes that Buffer
//! as it is (its memory returns to the pool when V8 frees it): one copy
//! per message, from the read buffer into the batch. A small one is copied
//! into a new Buffer, and its memory kept for the next batch.

use crate::sync::Lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Event kinds (low byte of the first descriptor word).
pub mod kind {
  /// A valid upgrade request awaits JS's decision. id = request id,
  /// extra = server id, payload = the request (`handshake::Request::encode`).
  pub const UPGRADE: u32 = 1;
  /// A data message. flags: `BINARY`.
  pub const MESSAGE: u32 = 2;
  pub const PING: u32 = 3;
  pub const PONG: u32 = 4;
  /// The peer's close frame. extra = code, payload = reason.
  pub const PEER_CLOSE: u32 = 5;
  /// A protocol fault. extra = close code sent, payload = "WS_ERR_CODE\nmessage".
  /// flags: `RANGE_ERROR`.
  pub const ERROR: u32 = 6;
  /// The connection is gone: the last event for its id.
  pub const CLOSED: u32 = 7;
  /// The connection's pending writes, stalled by a slow peer, are all written.
  pub const DRAIN: u32 = 8;
  /// A server-level error. id = server id, payload = message.
  pub const SERVER_ERROR: u32 = 9;
  /// The I/O thread queued a frame on a bridged connection (the heartbeat's
  /// ping) or ended it: JS flushes it, as it flushes what JS sends.
  pub const BRIDGED_WRITE: u32 = 10;
  /// Messages published elsewhere (another instance, another process) were
  /// queued to this instance's subscribers: JS flushes them.
  pub const PUBLISHED: u32 = 11;
  /// A server's Redis link reports. id = server id, extra = what
  /// (`pubsub::link::status`), payload = its text.
  pub const REDIS: u32 = 12;
}

pub const FLAG_BINARY: u32 = 1 << 8;
pub const FLAG_RANGE_ERROR: u32 = 1 << 9;
/// The payload is not in the batch but in the next of its `owned` buffers,
/// at offset `extra` (large messages are handed over without a copy).
pub const FLAG_OWNED: u32 = 1 << 10;

#[derive(Default)]
pub struct Batch {
  pub data: Vec<u8>,
  pub meta: Vec<u32>,
  /// Buffers of `FLAG_OWNED` events, in event order.
  pub owned: Vec<Vec<u8>>,
}

/// Where a batch was, to take back what was pushed after it (`Batch::truncate`).
#[derive(Debug, Clone, Copy)]
pub struct Mark {
  data: usize,
  meta: usize,
  owned: usize,
}

impl Batch {
  pub fn is_empty(&self) -> bool {
    self.meta.is_empty()
  }

  pub fn count(&self) -> usize {
    self.meta.len() / 4
  }

  pub fn push(&mut self, kind: u32, id: u32, extra: u32, payload: &[u8]) {
    self.data.extend_from_slice(payload);
    self.meta.extend_from_slice(&[kind, id, payload.len() as u32, extra]);
  }

  /// Appends an event whose payload is `buf[offset..offset + len]`, handing
  /// `buf` itself to JS (no copy).
  pub fn push_owned(&mut self, kind: u32, id: u32, buf: Vec<u8>, offset: usize, len: usize) {
    self.meta.extend_from_slice(&[kind | FLAG_OWNED, id, len as u32, offset as u32]);
    self.owned.push(buf);
  }

  pub fn mark(&self) -> Mark {
    Mark { data: self.data.len(), meta: self.meta.len(), owned: self.owned.len() }
  }

  /// Takes back every event pushed since `mark`.
  pub fn truncate(&mut self, mark: Mark) {
    self.data.truncate(mark.data);
    self.meta.truncate(mark.meta);
    for buf in self.owned.drain(mark.owned..) {
      crate::pool::give(buf);
    }
  }

  /// Writes the descriptors and the count after the payloads (the layout
  /// above): `data` is then what JS gets.
  pub fn seal(&mut self) {
    let pad = (4 - self.data.len() % 4) % 4;
    self.data.reserve(pad + self.meta.len() * 4 + 4);
    self.data.extend_from_slice(&[0u8; 3][..pad]);
    for w in &self.meta {
      self.data.extend_from_slice(&w.to_ne_bytes());
    }
    self.data.extend_from_slice(&(self.count() as u32).to_ne_bytes());
  }

  /// Moves `other`'s events after this batch's.
  pub fn append(&mut self, other: &mut Batch) {
    self.data.extend_from_slice(&other.data);
    self.meta.extend_from_slice(&other.meta);
    self.owned.append(&mut other.owned);
    other.data.clear();
    other.meta.clear();
  }

  pub fn clear(&mut self) {
    self.data.clear();
    self.meta.clear();
    for buf in self.owned.drain(..) {
      crate::pool::give(buf);
    }
    // Do not keep a huge buffer around after a burst.
    if self.data.capacity() > (4 << 20) {
      self.data = Vec::new();
    }
  }
}

/// Wakes the JS thread. Implemented by the napi layer (a threadsafe function).
pub trait Waker: Send + Sync {
  fn wake(&self);
}

pub struct EventQueue {
  batch: Mutex<Batch>,
  scheduled: AtomicBool,
  /// None before JS registers it and after the instance's teardown: events
  /// then wake nobody (and after teardown they are dropped).
  waker: Mutex<Option<Box<dyn Waker>>>,
  closed: AtomicBool,
}

impl Default for EventQueue {
  fn default() -> Self {
    EventQueue::new()
  }
}

impl EventQueue {
  pub fn new() -> EventQueue {
    EventQueue {
      batch: Mutex::new(Batch::default()),
      scheduled: AtomicBool::new(false),
      waker: Mutex::new(None),
      closed: AtomicBool::new(false),
    }
  }

  pub fn set_waker(&self, w: Box<dyn Waker>) {
    *self.waker.locked() = Some(w);
  }

  /// The instance is torn down: drops the waker (the threadsafe function
  /// must not be called once released) and every event, now and later.
  pub fn close(&self) -> Option<Box<dyn Waker>> {
    self.closed.store(true, Ordering::SeqCst);
    let w = self.waker.locked().take();
    let mut b = self.batch.locked();
    for buf in b.owned.drain(..) {
      crate::pool::give(buf);
    }
    b.clear();
    w
  }

  /// Opens a batch for appending. Events are staged in a thread-local batch
  /// with no lock held; dropping the writer publishes them with one short
  /// lock (a swap when JS has drained everything) and wakes the JS thread.
  pub fn writer(&self) -> Writer<'_> {
    let staging = STAGING.with(|s| std::mem::take(&mut *s.borrow_mut()));
    Writer { staging, queue: self }
  }

  /// Whether the I/O thread has queued events since the last `take`.
  pub fn pending(&self) -> bool {
    self.scheduled.load(Ordering::Acquire)
  }

  /// Wakes the JS thread to deliver (the JS thread's own batch got events
  /// outside a delivery).
  pub fn wake(&self) {
    self.commit();
  }

  fn publish(&self, staging: &mut Batch) {
    if self.closed.load(Ordering::Acquire) {
      for buf in staging.owned.drain(..) {
        crate::pool::give(buf);
      }
      return;
    }
    {
      let mut shared = self.batch.locked();
      if shared.is_empty() {
        std::mem::swap(&mut *shared, staging);
      } else {
        shared.append(staging);
      }
    }
    self.commit();
  }

  /// JS thread: swaps the pending batch with `spare` (which must be empty).
  pub fn take(&self, spare: &mut Batch) {
    // Reset before taking, so an event pushed after the swap schedules a new wake.
    self.scheduled.store(false, Ordering::SeqCst);
    let mut b = self.batch.locked();
    std::mem::swap(&mut *b, spare);
  }

  fn commit(&self) {
    if !self.scheduled.swap(true, Ordering::SeqCst) {
      if let Some(w) = self.waker.locked().as_ref() {
        w.wake();
      }
    }
  }
}

thread_local! {
  static STAGING: std::cell::RefCell<Batch> = std::cell::RefCell::new(Batch::default());
}

/// Events from the I/O thread: staged with no lock held, published (and
/// the JS thread woken) when the writer is dropped.
pub struct Writer<'a> {
  staging: Batch,
  queue: &'a EventQueue,
}

impl Writer<'_> {
  pub fn push(&mut self, kind: u32, id: u32, extra: u32, payload: &[u8]) {
    self.staging.push(kind, id, extra, payload);
  }
}

impl Drop for Writer<'_> {
  fn drop(&mut self) {
    let mut staging = std::mem::take(&mut self.staging);
    if !staging.is_empty() {
      self.queue.publish(&mut staging);
      staging.clear();
    }
    // Give the (empty) staging buffers back for the next read.
    STAGING.with(|s| {
      let mut s = s.borrow_mut();
      if s.data.capacity() == 0 {
        *s = staging;
      }
    });
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn word(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
  }

  #[test]
  fn sealed_layout() {
    let mut b = Batch::default();
    b.push(kind::MESSAGE | FLAG_BINARY, 7, 0, b"abc");
    b.push(kind::CLOSED, 7, 1006, b"");
    b.seal();
    let out = &b.data;
    // 3 payload bytes, 1 of padding, 2 descriptors, the count.
    assert_eq!(out.len(), 4 + 32 + 4);
    assert_eq!(&out[..3], b"abc");
    assert_eq!(word(out, out.len() - 4), 2);
    assert_eq!(word(out, 4), kind::MESSAGE | FLAG_BINARY);
    assert_eq!(word(out, 4 + 16 + 12), 1006);
  }

  #[test]
  fn truncate_takes_back_what_followed_the_mark() {
    let mut b = Batch::default();
    b.push(kind::PING, 1, 0, b"x");
    let m = b.mark();
    b.push(kind::MESSAGE, 1, 0, b"later");
    b.push_owned(kind::MESSAGE, 1, vec![0; 10], 0, 10);
    b.truncate(m);
    assert_eq!((b.count(), b.data.as_slice(), b.owned.len()), (1, &b"x"[..], 0));
  }

  #[test]
  fn the_io_threads_events_wait_in_the_queue() {
    let q = EventQueue::new();
    q.writer().push(kind::DRAIN, 3, 0, b"");
    assert!(q.pending());
    let mut spare = Batch::default();
    q.take(&mut spare);
    assert!(!q.pending());
    assert_eq!(spare.meta, [kind::DRAIN, 3, 0, 0]);
  }
}

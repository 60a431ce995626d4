//! The event queue: how events from every connection reach JavaScript.
//!
//! Each instance (one per napi environment and copy of the module) has one
//! event queue. Readers append events to its batch (payload bytes and a small
//! fixed-size descriptor per event). On the JS thread, the reactor reads every
//! ready socket and then calls JS once; from the I/O thread (upgrades, closes,
//! drains), the first event into an empty batch wakes the instance's JS
//! thread through its one threadsafe function. Either way JS drains the whole batch with one
//! call, which hands it over as a single `Buffer`:
//!
//! ```text
//! [u32 count][count x (u32 kind|flags, u32 id, u32 len, u32 extra)][payloads...]
//! ```
//!
//! Payloads follow each other in event order, so JS hands messages out as
//! `subarray` views of that one Buffer: one allocation and one copy per batch,
//! not per message.

use crate::sync::Lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Event kinds (low byte of the first descriptor word).
pub mod kind {
  /// A valid upgrade request awaits JS's decision. id = request id,
  /// extra = server id, payload = JSON request description.
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

impl Batch {
  pub fn is_empty(&self) -> bool {
    self.meta.is_empty()
  }

  pub fn count(&self) -> usize {
    self.meta.len() / 4
  }

  /// Bytes the JS buffer for this batch needs.
  pub fn encoded_len(&self) -> usize {
    4 + self.meta.len() * 4 + self.data.len()
  }

  /// Writes the batch in the layout described above; `out` has `encoded_len()` bytes.
  pub fn encode_into(&self, out: &mut [u8]) {
    let n = self.count() as u32;
    out[..4].copy_from_slice(&n.to_ne_bytes());
    let mut at = 4;
    for w in &self.meta {
      out[at..at + 4].copy_from_slice(&w.to_ne_bytes());
      at += 4;
    }
    out[at..at + self.data.len()].copy_from_slice(&self.data);
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
    self.owned.clear();
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
    Writer { staging, queue: self, wake: true }
  }

  /// Like `events`, but publishing does not wake JS: for the JS thread's own
  /// reactor, which calls JS itself once everything ready is read.
  pub fn writer_quiet(&self) -> Writer<'_> {
    let mut e = self.writer();
    e.wake = false;
    e
  }

  fn publish(&self, staging: &mut Batch, wake: bool) {
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
    if wake {
      self.commit();
    }
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

pub struct Writer<'a> {
  staging: Batch,
  queue: &'a EventQueue,
  wake: bool,
}

impl Writer<'_> {
  pub fn push(&mut self, kind: u32, id: u32, extra: u32, payload: &[u8]) {
    let b = &mut self.staging;
    b.data.extend_from_slice(payload);
    b.meta.extend_from_slice(&[kind, id, payload.len() as u32, extra]);
  }

  /// Appends an event whose payload is `buf[offset..offset + len]`, handing
  /// `buf` itself to JS (no copy).
  pub fn push_owned(&mut self, kind: u32, id: u32, buf: Vec<u8>, offset: usize, len: usize) {
    let b = &mut self.staging;
    b.meta.extend_from_slice(&[kind | FLAG_OWNED, id, len as u32, offset as u32]);
    b.owned.push(buf);
  }

  /// Drops what was staged instead of publishing it.
  pub fn discard(mut self) {
    for buf in self.staging.owned.drain(..) {
      crate::pool::give(buf);
    }
    self.staging.clear();
  }
}

impl Drop for Writer<'_> {
  fn drop(&mut self) {
    let mut staging = std::mem::take(&mut self.staging);
    if !staging.is_empty() {
      self.queue.publish(&mut staging, self.wake);
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

  #[test]
  fn batch_layout() {
    let mut b = Batch::default();
    b.meta.extend_from_slice(&[kind::MESSAGE | FLAG_BINARY, 7, 3, 0, kind::CLOSED, 7, 0, 1006]);
    b.data.extend_from_slice(b"abc");
    let mut out = vec![0u8; b.encoded_len()];
    b.encode_into(&mut out);
    assert_eq!(out.len(), 4 + 32 + 3);
    assert_eq!(u32::from_ne_bytes(out[0..4].try_into().unwrap()), 2);
    assert_eq!(u32::from_ne_bytes(out[4..8].try_into().unwrap()), kind::MESSAGE | FLAG_BINARY);
    assert_eq!(u32::from_ne_bytes(out[32..36].try_into().unwrap()), 1006);
    assert_eq!(&out[36..], b"abc");
  }

  #[test]
  fn owned_payloads_stay_out_of_the_batch() {
    let br = EventQueue::new();
    {
      let mut ev = br.writer();
      ev.push(kind::PING, 1, 0, b"x");
      ev.push_owned(kind::MESSAGE, 1, b"..big".to_vec(), 2, 3);
    }
    let mut spare = Batch::default();
    br.take(&mut spare);
    assert_eq!(spare.count(), 2);
    assert_eq!(spare.data, b"x");
    assert_eq!(spare.meta[4..], [kind::MESSAGE | FLAG_OWNED, 1, 3, 2]);
    assert_eq!(spare.owned, vec![b"..big".to_vec()]);
  }
}

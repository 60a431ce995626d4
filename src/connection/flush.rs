//! The corked-flush scheduler (JS thread): connections with bytes to write
//! wait on their instance's flush list, and one flush per JS turn writes each
//! with one write, the connections just read first.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Conn;

/// Connections a flush writes beyond those read since the last one.
const FLUSH_SLICE: usize = 128;

/// An instance's connections with bytes to write (JS thread): the flush
/// list of corked writes.
#[derive(Default)]
pub struct FlushList {
  /// Connections with unwritten bytes queued by the JS thread, in the order
  /// they were first sent to.
  pub(super) dirty: VecDeque<Arc<Conn>>,
  /// Connections the reactor read since the last flush: their answers are
  /// written first.
  pub(super) read_turn: Vec<Arc<Conn>>,
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
  pub(super) fn was_read(&mut self, conn: &Arc<Conn>) {
    self.read_turn.push(conn.clone());
  }

  /// Forgets everything (the instance's teardown).
  pub fn clear(&mut self) {
    self.dirty.clear();
    self.read_turn.clear();
  }
}

impl Conn {
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
    if out.bridged && (!out.js_out.is_empty() || out.js_end || out.life.is_terminated()) {
      bridged.push(BridgeWrite {
        slot: self.slot(),
        data: std::mem::take(&mut out.js_out),
        end: std::mem::take(&mut out.js_end),
        destroy: out.life.is_terminated(),
      });
    }
    true
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

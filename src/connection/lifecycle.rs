//! A connection's life as one state machine: where it is in the opening and
//! closing handshakes (`Stage`), whether its write side is being shut, and
//! why it ends early. Pure (no sockets, no locks, no clock of its own), so
//! every transition is unit-tested here; `Out` holds one, under the
//! connection's lock, and publishes it to the I/O task as `State`.
//!
//! Modelled on tungstenite's `WebSocketState`, with the RFC 6455 rule next
//! to each check.

use std::time::Instant;

/// Where a connection is in the opening and closing handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stage {
  /// The upgrade request is parsed; JS has not decided yet.
  Pending = 0,
  /// JS refused the upgrade: its HTTP answer goes out, then the socket is shut.
  Rejected = 1,
  /// The handshake is done: data frames flow both ways.
  Open = 2,
  /// We sent our close frame and wait for the peer's.
  CloseSent = 3,
  /// The peer's close frame arrived; ours is not sent yet.
  CloseReceived = 4,
  /// Both close frames are exchanged: the TCP connection ends once ours is
  /// written.
  Closed = 5,
}

impl Stage {
  fn from_bits(b: u32) -> Stage {
    match b {
      0 => Stage::Pending,
      1 => Stage::Rejected,
      2 => Stage::Open,
      3 => Stage::CloseSent,
      4 => Stage::CloseReceived,
      _ => Stage::Closed,
    }
  }

  /// The opening handshake is complete (the 101 answer is queued).
  pub fn is_established(self) -> bool {
    matches!(self, Stage::Open | Stage::CloseSent | Stage::CloseReceived | Stage::Closed)
  }
}

/// The write side of the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
  Open,
  /// Shut it down (FIN) once everything queued is written.
  ShutAfterWrite,
  Shut,
}

/// Why a connection ends now, without (the rest of) the close handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
  /// `terminate()`, the buffer limit, a pong flood, a refused upgrade with
  /// no answer, the heartbeat, the instance's teardown.
  Terminated,
  /// Writing or reading the socket failed.
  Failed,
}

#[derive(Debug, Clone, Copy)]
pub struct Lifecycle {
  stage: Stage,
  write_side: WriteSide,
  abort: Option<Abort>,
  /// The peer closed its side of the TCP connection.
  peer_eof: bool,
  /// JS released the connection's slot: gone for good (the slot may
  /// already name another connection).
  released: bool,
  /// When the closing handshake started (the close timer counts from here).
  closing_since: Option<Instant>,
}

impl Lifecycle {
  pub fn new(stage: Stage) -> Lifecycle {
    Lifecycle { stage, write_side: WriteSide::Open, abort: None, peer_eof: false, released: false, closing_since: None }
  }

  pub fn stage(&self) -> Stage {
    self.stage
  }

  /// JS accepted the upgrade.
  pub fn accept(&mut self) {
    if self.stage == Stage::Pending {
      self.stage = Stage::Open;
    }
  }

  /// JS refused the upgrade: with an HTTP answer, it is written and the
  /// socket shut; without one the connection just ends.
  pub fn reject(&mut self, with_answer: bool) {
    if self.stage != Stage::Pending {
      return;
    }
    if with_answer {
      self.stage = Stage::Rejected;
      self.write_side = WriteSide::ShutAfterWrite;
    } else {
      self.abort = Some(Abort::Terminated);
    }
  }

  /// Whether a data frame may be sent. RFC 6455 §5.5.1: "After sending a
  /// Close frame, the endpoint MUST NOT send any more data frames." (Data
  /// may still go out after the peer's close frame, before ours.)
  pub fn may_send_data(&self) -> bool {
    matches!(self.stage, Stage::Open | Stage::CloseReceived) && self.live()
  }

  /// Whether a ping or pong may be sent: as data, not after our close frame
  /// (§5.5.1: the close frame is the last frame an endpoint sends).
  pub fn may_send_control(&self) -> bool {
    self.may_send_data()
  }

  /// We send our close frame (JS's `close()`, the answer to the peer's, the
  /// teardown's 1001). Returns whether to write it: false if one was sent
  /// already ("MUST NOT send more than one Close frame", §5.5.1) or the
  /// connection is not established. After the peer's close frame this
  /// completes the handshake: §7.1.1 "after both sending and receiving a
  /// Close message, an endpoint ... MUST close the underlying TCP
  /// connection" (the server first, §7.1.1), so the write side is shut once
  /// the frame is written.
  pub fn send_close(&mut self, now: Instant) -> bool {
    let write = match self.stage {
      Stage::Open => {
        self.stage = Stage::CloseSent;
        true
      }
      Stage::CloseReceived => {
        self.stage = Stage::Closed;
        self.shut_after_write();
        true
      }
      _ => false,
    };
    if write {
      self.start_closing(now);
    }
    write
  }

  /// The peer's close frame arrived. Returns true if that completes the
  /// handshake (we had sent ours): the TCP connection ends once our queue
  /// is written (§7.1.1). Otherwise JS answers it: §5.5.1 "If an endpoint
  /// receives a Close frame and did not previously send a Close frame, the
  /// endpoint MUST send a Close frame in response."
  pub fn close_received(&mut self, now: Instant) -> bool {
    self.start_closing(now);
    match self.stage {
      Stage::Open => {
        self.stage = Stage::CloseReceived;
        false
      }
      Stage::CloseSent => {
        self.stage = Stage::Closed;
        self.shut_after_write();
        true
      }
      _ => false,
    }
  }

  /// The close timer starts (the peer's close frame, ours, or a protocol
  /// fault that JS answers with a close frame).
  pub fn start_closing(&mut self, now: Instant) {
    self.closing_since.get_or_insert(now);
  }

  pub fn closing_since(&self) -> Option<Instant> {
    self.closing_since
  }

  /// Shut the write side down once everything queued is written (the close
  /// handshake is complete, `close()` was asked to end, the peer closed its
  /// side, a refused upgrade's answer).
  pub fn shut_after_write(&mut self) {
    if self.write_side == WriteSide::Open {
      self.write_side = WriteSide::ShutAfterWrite;
    }
  }

  /// Everything queued is written: true (once) if the write side is to be
  /// shut now.
  pub fn take_shutdown(&mut self) -> bool {
    let shut = self.write_side == WriteSide::ShutAfterWrite;
    if shut {
      self.write_side = WriteSide::Shut;
    }
    shut
  }

  #[cfg(test)]
  pub fn is_shut(&self) -> bool {
    self.write_side == WriteSide::Shut
  }

  pub fn terminate(&mut self) {
    self.abort.get_or_insert(Abort::Terminated);
  }

  pub fn fail(&mut self) {
    self.abort.get_or_insert(Abort::Failed);
  }

  #[cfg(test)]
  pub fn abort(&self) -> Option<Abort> {
    self.abort
  }

  pub fn is_terminated(&self) -> bool {
    self.abort == Some(Abort::Terminated)
  }

  pub fn set_peer_eof(&mut self) {
    self.peer_eof = true;
  }

  pub fn release(&mut self) {
    self.released = true;
  }

  pub fn is_released(&self) -> bool {
    self.released
  }

  /// Still has its socket (an abort is the I/O task's to act on).
  fn live(&self) -> bool {
    !self.released
  }

  /// What the I/O task acts on, as bits (with the write engine's `blocked`).
  pub fn flags(&self, blocked: bool) -> State {
    let mut b = self.stage as u32;
    let mut set = |cond: bool, bit: u32| {
      if cond {
        b |= bit
      }
    };
    set(self.abort == Some(Abort::Terminated), State::TERMINATE);
    set(self.abort == Some(Abort::Failed), State::FAILED);
    set(blocked, State::BLOCKED);
    set(self.write_side == WriteSide::Shut, State::SHUT);
    set(self.closing_since.is_some(), State::CLOSING);
    set(self.peer_eof, State::EOF);
    State(b)
  }
}

/// A connection's lifecycle as the I/O task reads it without taking the
/// lock: the stage in the low bits, then flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State(pub u32);

impl State {
  const STAGE: u32 = 0xf;
  pub const TERMINATE: u32 = 1 << 4;
  pub const BLOCKED: u32 = 1 << 5;
  pub const FAILED: u32 = 1 << 6;
  pub const SHUT: u32 = 1 << 7;
  pub const CLOSING: u32 = 1 << 8;
  pub const EOF: u32 = 1 << 9;

  pub fn stage(self) -> Stage {
    Stage::from_bits(self.0 & Self::STAGE)
  }

  pub fn has(self, bit: u32) -> bool {
    self.0 & bit != 0
  }

  /// Whether the I/O thread has anything to do for the connection: write
  /// a refusal, wait for a full socket, time a close, or end it. Until then
  /// (an open connection that JS reads and writes) it has no I/O task.
  pub fn needs_task(self) -> bool {
    self.stage() == Stage::Rejected
      || self.has(Self::TERMINATE | Self::BLOCKED | Self::FAILED | Self::CLOSING | Self::EOF)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn open() -> Lifecycle {
    let mut l = Lifecycle::new(Stage::Pending);
    l.accept();
    l
  }

  #[test]
  fn opening_handshake() {
    let mut l = Lifecycle::new(Stage::Pending);
    assert!(!l.may_send_data(), "nothing before the 101");
    assert!(!l.stage().is_established());
    l.accept();
    assert_eq!(l.stage(), Stage::Open);
    assert!(l.may_send_data() && l.may_send_control());
    assert!(l.stage().is_established());
  }

  /// An open connection that JS reads and writes needs no I/O task; being
  /// refused, blocked, closed, ended or failed does.
  #[test]
  fn when_a_connection_needs_its_io_task() {
    let needs = |l: &Lifecycle, blocked: bool| l.flags(blocked).needs_task();
    assert!(!needs(&Lifecycle::new(Stage::Pending), false), "waiting for JS's decision");
    let mut l = open();
    assert!(!needs(&l, false), "open and idle");
    assert!(needs(&l, true), "a write that has to wait");
    l.set_peer_eof();
    assert!(needs(&l, false), "the peer closed its side");
    let mut l = open();
    l.send_close(Instant::now());
    assert!(needs(&l, false), "the close timer");
    let mut l = open();
    l.terminate();
    assert!(needs(&l, false), "terminated");
    let mut l = open();
    l.fail();
    assert!(needs(&l, false), "failed");
    let mut l = Lifecycle::new(Stage::Pending);
    l.reject(true);
    assert!(needs(&l, false), "the refusal is written by the task");
  }

  #[test]
  fn refused_upgrades() {
    let mut l = Lifecycle::new(Stage::Pending);
    l.reject(true);
    assert_eq!(l.stage(), Stage::Rejected);
    assert!(!l.may_send_data());
    assert!(l.take_shutdown(), "the answer is followed by a FIN");
    assert!(l.is_shut() && !l.take_shutdown());

    let mut l = Lifecycle::new(Stage::Pending);
    l.reject(false);
    assert_eq!(l.abort(), Some(Abort::Terminated));
    // An open connection cannot be refused.
    let mut l = open();
    l.reject(true);
    assert_eq!(l.stage(), Stage::Open);
  }

  #[test]
  fn we_close_first() {
    let now = Instant::now();
    let mut l = open();
    assert!(l.send_close(now));
    assert_eq!(l.stage(), Stage::CloseSent);
    assert_eq!(l.closing_since(), Some(now));
    // §5.5.1: no data, no second close frame after ours.
    assert!(!l.may_send_data() && !l.may_send_control());
    assert!(!l.send_close(now));
    assert!(!l.take_shutdown(), "the TCP connection stays until the peer answers");
    // The peer's answer completes the handshake: the connection ends.
    assert!(l.close_received(now));
    assert_eq!(l.stage(), Stage::Closed);
    assert!(l.take_shutdown());
  }

  #[test]
  fn peer_closes_first() {
    let t0 = Instant::now();
    let mut l = open();
    assert!(!l.close_received(t0), "JS must answer");
    assert_eq!(l.stage(), Stage::CloseReceived);
    assert_eq!(l.closing_since(), Some(t0));
    // Data may still go out before our close frame.
    assert!(l.may_send_data());
    let t1 = t0 + std::time::Duration::from_millis(5);
    assert!(l.send_close(t1));
    assert_eq!(l.stage(), Stage::Closed);
    assert_eq!(l.closing_since(), Some(t0), "the timer started with the peer's frame");
    assert!(l.take_shutdown());
    assert!(!l.send_close(t1));
  }

  #[test]
  fn close_before_open_writes_nothing() {
    let mut l = Lifecycle::new(Stage::Pending);
    assert!(!l.send_close(Instant::now()));
    assert_eq!(l.stage(), Stage::Pending);
  }

  #[test]
  fn aborts_and_release() {
    let mut l = open();
    l.fail();
    l.terminate();
    assert_eq!(l.abort(), Some(Abort::Failed), "the first reason stays");
    let mut l = open();
    l.release();
    assert!(l.is_released() && !l.may_send_data());
  }

  #[test]
  fn flags_carry_the_stage_and_each_condition() {
    let now = Instant::now();
    let mut l = open();
    assert_eq!(l.flags(false).stage(), Stage::Open);
    assert!(!l.flags(false).has(State::CLOSING));
    l.send_close(now);
    let f = l.flags(true);
    assert_eq!(f.stage(), Stage::CloseSent);
    assert!(f.has(State::CLOSING) && f.has(State::BLOCKED));
    l.close_received(now);
    l.take_shutdown();
    l.set_peer_eof();
    l.terminate();
    let f = l.flags(false);
    assert_eq!(f.stage(), Stage::Closed);
    for bit in [State::SHUT, State::EOF, State::TERMINATE] {
      assert!(f.has(bit));
    }
    assert!(!f.has(State::FAILED) && !f.has(State::BLOCKED));
    for s in [Stage::Pending, Stage::Rejected, Stage::Open, Stage::CloseSent, Stage::CloseReceived, Stage::Closed] {
      assert_eq!(Lifecycle::new(s).flags(false).stage(), s);
    }
  }
}

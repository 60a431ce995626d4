//! A connection's write side, shared by the JS thread and the I/O task:
//! the output buffer, the lifecycle flags, and the lock whose release
//! publishes them to the I/O task.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

use super::Socket;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
  /// Upgrade request parsed; JS has not decided yet.
  Pending,
  Open,
  /// JS refused the upgrade: write the answer, then close.
  Rejected,
}

/// State shared by the I/O task and the JS thread.
pub(super) struct Out {
  pub(super) phase: Phase,
  pub(super) stream: Option<Arc<Socket>>,
  pub(super) buf: Vec<u8>,
  /// How much of `buf` is already written.
  pub(super) pos: usize,
  /// The socket returned EAGAIN: the I/O task owns writing until it drains.
  pub(super) blocked: bool,
  /// On the JS thread's flush list.
  pub(super) dirty: bool,
  pub(super) close_sent: bool,
  pub(super) close_received: bool,
  /// Shut the write side down once `buf` is written.
  pub(super) shutdown_pending: bool,
  pub(super) shut: bool,
  pub(super) closing_since: Option<Instant>,
  pub(super) terminate: bool,
  pub(super) write_failed: bool,
  /// The peer closed its side (seen by the JS thread's read).
  pub(super) peer_eof: bool,
  pub(super) pending_pongs: u32,
  /// Node keeps the socket (TLS, any Duplex): bytes to write are handed to
  /// JS (`js_out`), and `js_end` asks JS to end the socket once written.
  pub(super) bridged: bool,
  pub(super) js_out: Vec<u8>,
  pub(super) js_end: bool,
  /// JS released the slot (after CLOSED): the connection is gone for good,
  /// and the slot may already name another one.
  pub(super) released: bool,
}

/// The flags of `Out` that the I/O task checks on every wake-up.
#[derive(Clone, Copy)]
pub(super) struct State(pub(super) u32);

impl State {
  pub(super) const TERMINATE: u32 = 1;
  pub(super) const BLOCKED: u32 = 4;
  pub(super) const FAILED: u32 = 8;
  pub(super) const OPEN: u32 = 16;
  pub(super) const REJECTED: u32 = 32;
  pub(super) const SHUT: u32 = 64;
  pub(super) const CLOSING: u32 = 128;
  pub(super) const EOF: u32 = 256;

  pub(super) fn of(o: &Out) -> State {
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

  pub(super) fn has(self, bit: u32) -> bool {
    self.0 & bit != 0
  }
}

/// The shared state, locked. Releasing it publishes the flags the I/O task
/// acts on (`State`) and, when they changed, wakes the task: whichever
/// thread changes them (a send past the limit, a pong that fills the socket,
/// a close, a terminate), the task learns of it in this one place.
pub(super) struct OutGuard<'a> {
  pub(super) out: std::mem::ManuallyDrop<std::sync::MutexGuard<'a, Out>>,
  pub(super) state: &'a AtomicU32,
  pub(super) notify: &'a Notify,
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

impl Out {
  pub(super) fn new(phase: Phase, stream: Option<Arc<Socket>>, bridged: bool) -> Out {
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
  pub(super) fn write_some(&mut self) -> io::Result<bool> {
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
  pub(super) fn write_now(&mut self) -> bool {
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

  pub(super) fn buffered(&self) -> usize {
    self.buf.len() - self.pos
  }

  pub(super) fn open_for_data(&self) -> bool {
    self.phase == Phase::Open && !self.close_sent && self.connected()
  }

  /// The connection still has a socket (its own, or Node's when bridged).
  pub(super) fn connected(&self) -> bool {
    (self.stream.is_some() || self.bridged) && !self.released
  }
}

/// Writes `a` then `b` with as few syscalls as the socket allows; returns how
/// many bytes were written before it would block.
pub(super) fn write_vectored_all(stream: &TcpStream, a: &[u8], b: &[u8]) -> io::Result<usize> {
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

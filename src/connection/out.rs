//! A connection's write side, shared by the JS thread and the I/O task:
//! the output buffer, the lifecycle flags, and the lock whose release
//! publishes them to the I/O task.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::lifecycle::{Lifecycle, Stage};
use super::Socket;

/// State shared by the I/O task and the JS thread.
pub(super) struct Out {
  /// Where the connection is in its life (the one state machine).
  pub(super) life: Lifecycle,
  pub(super) stream: Option<Arc<Socket>>,
  pub(super) buf: Vec<u8>,
  /// How much of `buf` is already written.
  pub(super) pos: usize,
  /// The socket returned EAGAIN: the I/O task owns writing until it drains.
  pub(super) blocked: bool,
  /// On the JS thread's flush list.
  pub(super) dirty: bool,
  pub(super) pending_pongs: u32,
  /// Bytes written to the socket (`ws._socket.bytesWritten`).
  pub(super) written: u64,
  /// permessage-deflate was negotiated: our compressor (its zlib state
  /// comes with the first message that is compressed), and ws's
  /// `threshold` (shorter messages go out as they are).
  pub(super) deflater: Option<Box<crate::deflate::Deflater>>,
  pub(super) threshold: u32,
  /// A fragmented message is being sent compressed (decided by its first
  /// frame, as ws's Sender: its continuations follow it).
  pub(super) frag_compressed: bool,
  /// Node keeps the socket (TLS, any Duplex): bytes to write are handed to
  /// JS (`js_out`), and `js_end` asks JS to end the socket once written.
  pub(super) bridged: bool,
  pub(super) js_out: Vec<u8>,
  pub(super) js_end: bool,
}

/// The shared state, locked. Releasing it publishes the flags the I/O task
/// acts on (`State`) and, when they changed, wakes the task: whichever
/// thread changes them (a send past the limit, a pong that fills the socket,
/// a close, a terminate), the task learns of it in this one place.
pub(super) struct OutGuard<'a> {
  pub(super) out: std::mem::ManuallyDrop<std::sync::MutexGuard<'a, Out>>,
  pub(super) conn: &'a super::Conn,
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
    let now = self.out.life.flags(self.out.blocked).0;
    let before = self.conn.state.swap(now, Ordering::AcqRel);
    // SAFETY: dropped once, here; the lock is released before the wake-up.
    unsafe { std::mem::ManuallyDrop::drop(&mut self.out) };
    if now != before {
      if super::lifecycle::State(now).needs_task() {
        self.conn.start_task();
      }
      self.conn.notify.notify_one();
    }
  }
}

impl Out {
  pub(super) fn new(stage: Stage, stream: Option<Arc<Socket>>, bridged: bool) -> Out {
    Out {
      life: Lifecycle::new(stage),
      stream,
      buf: Vec::new(),
      pos: 0,
      blocked: false,
      dirty: false,
      pending_pongs: 0,
      written: 0,
      deflater: None,
      threshold: 0,
      frag_compressed: false,
      bridged,
      js_out: Vec::new(),
      js_end: false,
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
      if self.life.take_shutdown() {
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
        Ok(n) => {
          self.pos += n;
          self.written += n as u64;
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
        Err(e) => return Err(e),
      }
    }
    // Everything is written: the buffer is kept for the next flush (a busy
    // connection would otherwise grow a new one every time), unless large.
    self.pos = 0;
    if self.buf.capacity() > 16 * 1024 {
      self.buf = Vec::new();
    } else {
      self.buf.clear();
    }
    self.pending_pongs = 0;
    if self.life.take_shutdown() {
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
        self.life.fail();
        true
      }
    }
  }

  pub(super) fn buffered(&self) -> usize {
    self.buf.len() - self.pos
  }

  pub(super) fn open_for_data(&self) -> bool {
    self.life.may_send_data() && self.connected()
  }

  /// The connection still has a socket (its own, or Node's when bridged).
  pub(super) fn connected(&self) -> bool {
    (self.stream.is_some() || self.bridged) && !self.life.is_released()
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

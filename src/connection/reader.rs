//! The JS-thread read path: a connection's socket is read when the reactor
//! says it is readable (or, for a socket Node keeps, fed by JS), its frames
//! parsed, pings answered, and the events queued for JS.

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::out::OutGuard;
use super::{clock, Conn, FlushList};
use crate::events::{kind, Batch, FLAG_BINARY, FLAG_RANGE_ERROR};
use crate::frame::{self, Progress, Receiver, Sink};
use crate::pool;

thread_local! {
  /// The reading thread's one receive buffer, shared by all connections.
  static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; 256 * 1024]);
}

/// Receives what the parser finds in one read. Messages go straight into the
/// JS batch. Pings are answered at once, before the batch is visible to JS,
/// so a pong never waits behind replies to later messages. The close frame
/// and protocol faults are answered by JS (`close` / `fail`), after the
/// messages before them, exactly in ws's order.
struct ConnSink<'a> {
  conn: &'a Conn,
  slot: u32,
  events: &'a mut Batch,
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

impl Sink for ConnSink<'_> {
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
        out.life.terminate();
        self.flooded = true;
        self.conn.flooded.store(true, Ordering::Relaxed);
        return;
      }
      if out.life.may_send_control() && out.connected() {
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

/// A connection's reading state (`Reader::default()`). It belongs to the JS thread (the registry
/// keeps it with the connection's slot): the socket is read there, when the
/// reactor says it is readable, or, for a socket Node keeps, fed by JS.
#[derive(Default)]
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
  /// Bytes read from the socket (`ws._socket.bytesRead`).
  pub bytes_read: u64,
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
  /// A reader for a connection that negotiated permessage-deflate.
  pub fn with_deflate(d: &super::Deflate) -> Reader {
    Reader { rx: Receiver::with_deflate(d.peer_takeover, d.peer_window_bits), ..Reader::default() }
  }

  /// Starts reading a connection that has a socket of its own (JS thread):
  /// `preread` (bytes already received after the handshake) is parsed
  /// first, then the reactor watches the socket.
  pub fn start(&mut self, conn: &Arc<Conn>, mut preread: Vec<u8>, events: &mut Batch) {
    if !preread.is_empty() {
      let mark = events.mark();
      self.process(conn, Some(&mut preread), events);
      keep_if_connected(conn, events, mark);
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
          out.life.fail();
        }
      } else {
        conn.inst.poller.remove(s.fd());
      }
    }
  }

  /// Parses bytes JS read from a bridged connection's socket. What parsing
  /// wrote (pongs) is returned to JS by the next flush.
  pub fn feed(&mut self, conn: &Arc<Conn>, bytes: &mut [u8], list: &mut FlushList, events: &mut Batch) {
    let mark = events.mark();
    self.process(conn, Some(bytes), events);
    let mut out = keep_if_connected(conn, events, mark);
    if !out.js_out.is_empty() || out.js_end || !out.buf.is_empty() {
      conn.mark_dirty(&mut out, list);
    }
  }

  /// The reactor found the socket readable (JS thread): reads what it has
  /// and parses it (with `hup`, up to the end of the stream). The events go
  /// into the JS thread's batch: the reactor calls JS once, after every
  /// ready socket is read.
  pub fn on_readable(&mut self, conn: &Arc<Conn>, hup: bool, list: &mut FlushList, events: &mut Batch) {
    let Some(stream) = conn.lock().stream.clone() else {
      return;
    };
    list.was_read(conn);
    let mark = events.mark();
    let end = self.read(conn, stream.get_ref(), hup, events);
    let mut out = keep_if_connected(conn, events, mark);
    match end {
      ReadEnd::Drained => return,
      ReadEnd::Budget => return conn.inst.poller.rearm(stream.fd(), conn.slot()),
      ReadEnd::Eof => {
        drop(out);
        conn.peer_closed(events);
      }
      ReadEnd::Failed => out.life.fail(),
      ReadEnd::Flooded => {}
    }
    self.eof = true;
    conn.inst.poller.remove(stream.fd());
  }

  fn read(&mut self, conn: &Conn, stream: &TcpStream, hup: bool, events: &mut Batch) -> ReadEnd {
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
            self.bytes_read += n as u64;
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
  fn process(&mut self, conn: &Conn, chunk: Option<&mut [u8]>, events: &mut Batch) {
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
    let now = Instant::now();
    if !close_received {
      out.life.start_closing(now);
    } else if out.life.close_received(now) {
      // We closed first; the handshake is complete: the connection ends
      // once our queue is written.
      out.write_now();
    }
  }
}

/// Keeps the events read on the JS thread since `mark` unless the
/// connection is gone meanwhile. Under its lock: the I/O thread tears a
/// connection down (and then queues its CLOSED event) under it too, so
/// events read here cannot follow CLOSED. Returns the lock, still held.
fn keep_if_connected<'a>(conn: &'a Conn, events: &mut Batch, mark: crate::events::Mark) -> OutGuard<'a> {
  let out = conn.lock();
  if !out.connected() {
    events.truncate(mark);
  }
  out
}

//! A connection's I/O task (I/O thread): the phases before it opens, writes
//! the socket was too full for, the close timeout and the teardown; and the
//! adoption of a socket Node accepted.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::{Stage, State};
use super::{Conn, ConnOptions, FlushList, Socket};
use crate::events::kind;
use crate::instance::Instance;
use crate::sync::Lock;

/// The connection's I/O task, from the parsed upgrade request to the end:
/// the phases before the connection opens, writes the socket was too full
/// for, the close timeout, and the teardown. (Reading is the JS thread's.)
pub async fn run(conn: Arc<Conn>, stream: Arc<Socket>, on_end: impl FnOnce(&Arc<Conn>)) {
  let _live = conn.inst.task();
  // Runs when the loop ends, and if the task panics (a bug) all the same:
  // tokio would end the task, but the socket would stay open and JS would
  // never hear of its end.
  let teardown = Teardown { conn: &conn, stream: Some(stream), on_end: Some(on_end) };
  let stream = teardown.stream.as_ref().expect("taken only by the teardown");
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
    let stage = st.stage();
    if terminate || failed {
      break;
    }
    let deadline = if st.has(State::CLOSING) && close_timer.is_none() {
      conn.lock().life.closing_since().map(|t| t + conn.opts.close_timeout)
    } else {
      None
    };
    match stage {
      Stage::Pending => {
        conn.notify.notified().await;
        continue;
      }
      Stage::Rejected => {
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
      Stage::Open | Stage::CloseSent | Stage::CloseReceived | Stage::Closed => {
        if eof && !blocked {
          // The peer closed its side: finish writing, then we are done.
          let mut o = conn.lock();
          o.life.shut_after_write();
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
              (true, o.life.stage().is_established())
            }
            Ok(false) => {
              guard.clear_ready();
              (false, false)
            }
            Err(_) => {
              o.life.fail();
              (false, false)
            }
          }
        };
        if drained && wake_js {
          conn.inst.events.writer().push(kind::DRAIN, conn.slot(), 0, &[]);
        }
      }
      _ = sleep => {
        // closeTimeout: destroy the socket.
        break;
      }
    }
  }

  drop(teardown);
}

/// A connection's teardown: close the socket now, not when JS
/// garbage-collects its handle; then `on_end`, and JS's close event.
struct Teardown<'a, F: FnOnce(&Arc<Conn>)> {
  conn: &'a Arc<Conn>,
  stream: Option<Arc<Socket>>,
  on_end: Option<F>,
}

impl<F: FnOnce(&Arc<Conn>)> Drop for Teardown<'_, F> {
  fn drop(&mut self) {
    let conn = self.conn;
    let Some(stream) = self.stream.take() else { return };
    if std::thread::panicking() {
      eprintln!("wsrs: internal error in the I/O task of a connection; it is closed");
    }
    let Some(on_end) = self.on_end.take() else { return };
    if tear_down(conn, stream, on_end) {
      conn.inst.events.writer().push(kind::CLOSED, conn.slot(), 0, &[]);
    }
  }
}

/// Closes the connection's socket (now, not when JS garbage-collects its
/// handle) and runs `on_end`. True if it was open: JS then gets its CLOSED
/// event, the last one for it.
pub(super) fn tear_down(conn: &Arc<Conn>, stream: Arc<Socket>, on_end: impl FnOnce(&Arc<Conn>)) -> bool {
  let was_open = {
    let mut o = conn.lock();
    conn.inst.poller.remove(stream.fd());
    o.stream = None;
    o.dirty = false;
    o.buf = Vec::new();
    o.pos = 0;
    o.life.stage().is_established()
  };
  conn.inst.pending.locked().remove(&conn.id);
  drop(stream);
  on_end(conn);
  was_open
}

/// When a connection's I/O task starts: only once the connection needs the
/// I/O thread (`State::needs_task`), so that an open connection JS reads and
/// writes costs no task; or never, when it ends on the JS thread.
impl Conn {
  /// Its I/O task is started when the connection first needs one
  /// (`State::needs_task`: refused, blocked, closing, ending), and then runs
  /// `on_end` as it ends.
  pub fn defer_task(&self, on_end: super::OnEnd) {
    *self.deferred.locked() = Some(on_end);
    if self.state().needs_task() {
      self.start_task();
    }
  }

  /// The peer closed its side (JS thread, after its last read). Its I/O
  /// task, if it has one, finishes the connection (woken as the lock is
  /// released). Without one, what is queued is written and the connection
  /// ends here, its CLOSED event after what was read (`events`), with no
  /// other thread woken; if the socket cannot take it all, the task starts
  /// and takes over as usual.
  pub(crate) fn peer_closed(self: &Arc<Self>, events: &mut crate::events::Batch) {
    // Taken first, so that the change of state below starts no task.
    let Some(on_end) = self.deferred.locked().take() else {
      self.lock().life.set_peer_eof();
      return;
    };
    let (stream, done) = {
      let mut out = self.lock();
      out.life.set_peer_eof();
      out.life.shut_after_write();
      let done = out.life.stage().is_established() && !out.write_now();
      (out.stream.clone(), done)
    };
    match stream {
      Some(stream) if done => {
        if tear_down(self, stream, on_end) {
          events.push(crate::events::kind::CLOSED, self.slot(), 0, &[]);
        }
      }
      _ => self.defer_task(on_end),
    }
  }

  /// Starts the I/O task deferred by `defer_task` (any thread; once).
  pub(super) fn start_task(&self) {
    let Some(on_end) = self.deferred.locked().take() else {
      return;
    };
    let Some(conn) = self.me.upgrade() else {
      return;
    };
    let stream = self.lock().stream.clone();
    match stream {
      Some(stream) => {
        crate::runtime::handle().spawn(run(conn, stream, on_end));
      }
      // Torn down already: nothing left to do but forget it.
      None => on_end(&conn),
    }
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
  on_end: super::OnEnd,
) -> io::Result<Arc<Conn>> {
  let std_stream = crate::sys::dup(fd)?;
  let _ = std_stream.set_nodelay(true);
  let stream = {
    let _guard = crate::runtime::handle().enter();
    Socket::register(std_stream)?
  };
  let conn = Conn::new(inst, opts, stream);
  Conn::open(&conn, slot, head, list);
  conn.defer_task(on_end);
  Ok(conn)
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
      let conn = Conn::new(&Instance::detached(), ConnOptions::unlimited_server(), stream.clone());
      let fut = run(conn.clone(), stream, |_| {});
      let size = std::mem::size_of_val(&fut);
      println!(
        "connection task: {size} bytes; Conn: {} bytes; Reader: {} bytes; Socket: {} bytes",
        std::mem::size_of::<Conn>(),
        std::mem::size_of::<crate::connection::Reader>(),
        std::mem::size_of::<Socket>()
      );
      assert!(size < 1024, "{size}");
    });
  }
}

//! Listening sockets: bind (dual-stack by default, like Node), the accept
//! loop, the opening handshake's HTTP part, and the server-wide heartbeat.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::bridge::{self, kind};
use crate::connection::{self, Conn, ConnOptions};
use crate::frame;
use crate::handshake::{self, ReadOutcome};
use crate::runtime;

#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
  pub conn: ConnOptions,
  /// Native heartbeat: (interval, timeout). A peer silent for `interval` is
  /// pinged; one still silent `timeout` after that ping is terminated.
  /// None = off (ws's behaviour).
  pub heartbeat: Option<(Duration, Duration)>,
  pub handshake_timeout: Duration,
  pub max_header_size: usize,
}

pub struct Server {
  pub id: u32,
  config: ServerConfig,
  closed: AtomicBool,
  stop: Notify,
  /// Open connections, for the heartbeat.
  conns: Mutex<HashMap<u32, Arc<Conn>>>,
}

fn servers() -> &'static Mutex<HashMap<u32, Arc<Server>>> {
  static S: OnceLock<Mutex<HashMap<u32, Arc<Server>>>> = OnceLock::new();
  S.get_or_init(Default::default)
}

/// Resolves and binds like `net.Server#listen(port, host, backlog)`:
/// no host = `::` dual-stack (falling back to `0.0.0.0`).
fn bind(host: Option<&str>, port: u16, backlog: i32) -> io::Result<std::net::TcpListener> {
  use socket2::{Domain, Protocol, Socket, Type};
  let addrs: Vec<SocketAddr> = match host {
    None => vec![SocketAddr::from(([0u16; 8], port)), SocketAddr::from(([0u8; 4], port))],
    Some(h) => {
      let h = h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h);
      (h, port).to_socket_addrs()?.take(1).collect()
    }
  };
  let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address");
  for addr in addrs {
    let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
      Ok(s) => s,
      Err(e) => {
        last = e;
        continue;
      }
    };
    if addr.is_ipv6() && host.is_none() {
      socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    match socket.bind(&addr.into()).and_then(|_| socket.listen(backlog)) {
      Ok(()) => return Ok(socket.into()),
      Err(e) => {
        // Only fall back to IPv4 when IPv6 itself is unavailable.
        // EAFNOSUPPORT / EADDRNOTAVAIL (Linux numbering).
        let v6_missing = matches!(e.raw_os_error(), Some(97) | Some(99));
        last = e;
        if !(addr.is_ipv6() && host.is_none() && v6_missing) {
          break;
        }
      }
    }
  }
  Err(last)
}

impl Server {
  /// Registers a server's settings (JS thread). Every WebSocketServer has
  /// one, whether Rust listens for it (`listen`) or it adopts sockets that
  /// Node accepted (`adopt`).
  pub fn create(id: u32, config: ServerConfig) {
    let server = Arc::new(Server {
      id,
      config,
      closed: AtomicBool::new(false),
      stop: Notify::new(),
      conns: Mutex::new(HashMap::new()),
    });
    servers().lock().unwrap().insert(id, server.clone());
    if let Some(hb) = config.heartbeat {
      runtime::handle().spawn(server.heartbeat(hb));
    }
  }

  fn get(id: u32) -> io::Result<Arc<Server>> {
    servers().lock().unwrap().get(&id).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
  }

  /// Binds and starts accepting (JS thread). Returns the bound address.
  pub fn listen(id: u32, host: Option<&str>, port: u16, backlog: i32) -> io::Result<SocketAddr> {
    let server = Self::get(id)?;
    let std_listener = bind(host, port, backlog)?;
    let addr = std_listener.local_addr()?;
    runtime::handle().spawn(async move {
      match TcpListener::from_std(std_listener) {
        Ok(l) => server.accept_loop(l).await,
        Err(e) => {
          let msg = e.to_string();
          bridge::bridge().events().push(kind::SERVER_ERROR, server.id, 0, msg.as_bytes());
        }
      }
    });
    Ok(addr)
  }

  /// Takes over a TCP connection that Node accepted and whose upgrade JS has
  /// accepted (JS thread). `fd` is duplicated, so Node may close its copy.
  /// `head` (the 101 response) is written first.
  pub fn adopt(id: u32, fd: i32, slot: u32, head: &[u8]) -> io::Result<Arc<Conn>> {
    let server = Self::get(id)?;
    let s = server.clone();
    let conn = connection::adopt(server.config.conn, fd, slot, head, move |c| {
      s.conns.lock().unwrap().remove(&c.id);
    })?;
    server.track(&conn);
    Ok(conn)
  }

  /// Stops accepting (JS thread). Open connections stay open, as with ws.
  pub fn close(id: u32) {
    if let Ok(s) = Self::get(id) {
      s.closed.store(true, Ordering::SeqCst);
      s.stop.notify_waiters();
      s.stop.notify_one();
    }
  }

  /// Forgets a server once JS is done with it (JS thread).
  pub fn remove(id: u32) {
    Self::close(id);
    servers().lock().unwrap().remove(&id);
  }

  async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
    loop {
      tokio::select! {
        _ = self.stop.notified() => break,
        r = listener.accept() => match r {
          Ok((stream, peer)) => {
            tokio::spawn(self.clone().handshake(stream, peer));
          }
          Err(e) => {
            // EMFILE and friends: back off instead of spinning.
            let msg = format!("accept: {e}");
            bridge::bridge().events().push(kind::SERVER_ERROR, self.id, 0, msg.as_bytes());
            tokio::time::sleep(Duration::from_millis(100)).await;
          }
        }
      }
      if self.closed.load(Ordering::SeqCst) {
        break;
      }
    }
  }

  async fn handshake(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = match stream.local_addr() {
      Ok(a) => a,
      Err(_) => return,
    };
    let (req, leftover) =
      match handshake::read_request(&mut stream, self.config.max_header_size, self.config.handshake_timeout).await {
        ReadOutcome::Request(req, rest) => (req, rest),
        ReadOutcome::Reject(answer) => return answer_and_close(stream, &answer).await,
        ReadOutcome::Drop => return,
      };
    if !req.is_upgrade() {
      return answer_and_close(stream, &handshake::response_426()).await;
    }
    let Ok(stream) = stream.into_std().and_then(connection::register) else {
      return;
    };
    let conn = Conn::new(self.config.conn, stream.clone());
    conn.register_pending(leftover);
    let json = req.to_json(peer, local);
    bridge::bridge().events().push(kind::UPGRADE, conn.id, self.id, &json);
    // The connection lives in a task of its own, so this (larger) future's
    // memory is freed now.
    let server = self.clone();
    tokio::spawn(connection::run(conn, stream, move |c| {
      server.conns.lock().unwrap().remove(&c.id);
    }));
  }

  async fn heartbeat(self: Arc<Self>, (interval, timeout): (Duration, Duration)) {
    let (interval_ms, timeout_ms) = (interval.as_millis() as u64, timeout.as_millis() as u64);
    // One timer for the whole server, ticking at the finer of the two periods.
    let period = interval.min(timeout).max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
      tick.tick().await;
      let conns: Vec<Arc<Conn>> = self.conns.lock().unwrap().values().cloned().collect();
      if self.closed.load(Ordering::SeqCst) && conns.is_empty() {
        break;
      }
      let now = connection::clock();
      for c in conns {
        let seen = c.last_seen.load(Ordering::Relaxed);
        let pinged = c.pinged_at.load(Ordering::Relaxed);
        if pinged > seen {
          if now - pinged >= timeout_ms {
            c.terminate();
          }
        } else if now - seen >= interval_ms {
          c.pinged_at.store(now, Ordering::Relaxed);
          c.send_control(frame::OP_PING, &[]);
        }
      }
    }
  }

  /// Tracks an open connection for the heartbeat.
  fn track(&self, conn: &Arc<Conn>) {
    if self.config.heartbeat.is_some() {
      self.conns.lock().unwrap().insert(conn.id, conn.clone());
    }
  }

  /// The per-connection settings of a server.
  pub fn conn_options(id: u32) -> Option<ConnOptions> {
    Self::get(id).ok().map(|s| s.config.conn)
  }

  /// A connection whose upgrade JS accepted (JS thread).
  pub fn accepted(id: u32, conn: &Arc<Conn>) {
    if let Ok(s) = Self::get(id) {
      s.track(conn);
    }
  }
}

async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
  let _ = stream.write_all(answer).await;
  let _ = stream.shutdown().await;
  let mut buf = [0u8; 1024];
  let _ = tokio::time::timeout(Duration::from_secs(2), async {
    use tokio::io::AsyncReadExt;
    while let Ok(n) = stream.read(&mut buf).await {
      if n == 0 {
        break;
      }
    }
  })
  .await;
}

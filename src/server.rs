//! Listening sockets: bind (dual-stack by default, like Node), the accept
//! loop, the opening handshake's HTTP part, and the server-wide heartbeat.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::connection::{self, Conn, ConnOptions, FlushList};
use crate::events::kind;
use crate::frame;
use crate::handshake;
use crate::instance::Instance;
use crate::runtime;
use crate::sync::Lock;

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
  /// The instance it belongs to (its events go there).
  inst: Arc<Instance>,
  pub id: u32,
  config: ServerConfig,
  closed: AtomicBool,
  stop: Notify,
  /// Whether the accept loop still holds the listening socket, and the
  /// signal it gives once it has closed it.
  listening: (Mutex<bool>, Condvar),
  /// Open connections, for the heartbeat.
  conns: Mutex<HashMap<u32, Arc<Conn>>>,
  /// Connections the heartbeat terminated (`wss.heartbeatReaped`).
  reaped: AtomicU64,
}

/// How to listen, as `net.Server#listen(port, host, backlog)` takes it.
#[derive(Debug, Clone, Default)]
pub struct ListenOptions {
  /// None = `::` dual-stack (falling back to `0.0.0.0`).
  pub host: Option<String>,
  pub port: u16,
  pub backlog: i32,
  /// SO_REUSEPORT: several servers (threads, processes) share the port and
  /// the kernel spreads connections between them (Node's `reusePort`).
  pub reuse_port: bool,
}

/// Whether `reuse_port` is available here (the kernel balances
/// connections between the sockets sharing a port).
pub const REUSE_PORT: bool = cfg!(any(target_os = "linux", target_os = "android", target_os = "freebsd"));

/// Resolves and binds like `net.Server#listen(port, host, backlog)`:
/// no host = `::` dual-stack (falling back to `0.0.0.0`).
fn bind(o: &ListenOptions) -> io::Result<std::net::TcpListener> {
  let (host, port, backlog) = (o.host.as_deref(), o.port, o.backlog);
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
    if o.reuse_port {
      set_reuse_port(&socket)?;
    }
    socket.set_nonblocking(true)?;
    // (Windows sockets are made non-inheritable by socket2.)
    #[cfg(unix)]
    socket.set_cloexec(true)?;
    match socket.bind(&addr.into()).and_then(|_| socket.listen(backlog)) {
      Ok(()) => return Ok(socket.into()),
      Err(e) => {
        // Only fall back to IPv4 when IPv6 itself is unavailable.
        let v6_missing = e.kind() == io::ErrorKind::AddrNotAvailable || is_af_unsupported(&e);
        last = e;
        if !(addr.is_ipv6() && host.is_none() && v6_missing) {
          break;
        }
      }
    }
  }
  Err(last)
}

/// The address family (IPv6) is not supported here.
fn is_af_unsupported(e: &io::Error) -> bool {
  #[cfg(unix)]
  return e.raw_os_error() == Some(libc::EAFNOSUPPORT);
  #[cfg(not(unix))]
  return e.kind() == io::ErrorKind::Unsupported;
}

/// SO_REUSEPORT where the kernel balances connections (`REUSE_PORT`).
fn set_reuse_port(socket: &socket2::Socket) -> io::Result<()> {
  #[cfg(unix)]
  if REUSE_PORT {
    return socket.set_reuse_port(true);
  }
  let _ = socket;
  Err(io::Error::from(io::ErrorKind::Unsupported))
}

impl Server {
  /// Registers a server's settings (JS thread). Every WebSocketServer has
  /// one, whether Rust listens for it (`listen`) or it adopts sockets that
  /// Node accepted (`adopt`).
  pub fn create(inst: &Arc<Instance>, id: u32, config: ServerConfig) {
    let server = Arc::new(Server {
      inst: inst.clone(),
      id,
      config,
      closed: AtomicBool::new(false),
      stop: Notify::new(),
      listening: (Mutex::new(false), Condvar::new()),
      conns: Mutex::new(HashMap::new()),
      reaped: AtomicU64::new(0),
    });
    inst.servers.locked().insert(id, server.clone());
    if let Some(hb) = config.heartbeat {
      runtime::handle().spawn(server.heartbeat(hb));
    }
  }

  fn get(inst: &Instance, id: u32) -> io::Result<Arc<Server>> {
    inst.server(id).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
  }

  /// Binds and starts accepting (JS thread). Returns the bound address.
  pub fn listen(inst: &Instance, id: u32, o: &ListenOptions) -> io::Result<SocketAddr> {
    let server = Self::get(inst, id)?;
    let std_listener = bind(o)?;
    let addr = std_listener.local_addr()?;
    *server.listening.0.locked() = true;
    runtime::handle().spawn(async move {
      match TcpListener::from_std(std_listener) {
        Ok(l) => server.clone().accept_loop(l).await,
        Err(e) => {
          let msg = e.to_string();
          server.inst.events.writer().push(kind::SERVER_ERROR, server.id, 0, msg.as_bytes());
        }
      }
      // The listening socket is closed now: say so to `stop_accepting`.
      *server.listening.0.locked() = false;
      server.listening.1.notify_all();
    });
    Ok(addr)
  }

  /// Takes over a TCP connection that Node accepted and whose upgrade JS has
  /// accepted (JS thread). `fd` is duplicated, so Node may close its copy.
  /// `head` (the 101 response) is written first.
  pub fn adopt(
    inst: &Arc<Instance>,
    id: u32,
    fd: i32,
    slot: u32,
    head: &[u8],
    list: &mut FlushList,
  ) -> io::Result<Arc<Conn>> {
    let server = Self::get(inst, id)?;
    let s = server.clone();
    let conn = connection::adopt(
      inst,
      server.config.conn,
      fd,
      slot,
      head,
      list,
      Box::new(move |c| {
        s.conns.locked().remove(&c.id);
      }),
    )?;
    server.track(&conn);
    Ok(conn)
  }

  /// Stops accepting (JS thread). Open connections stay open, as with ws.
  pub fn close(inst: &Instance, id: u32) {
    if let Ok(s) = Self::get(inst, id) {
      s.stop_accepting();
    }
  }

  /// Stops accepting and returns once the listening socket is closed, as
  /// `net.Server#close()` closes its handle at once: a connect after
  /// `wss.close()` (or a worker's exit) is refused, not reset later.
  fn stop_accepting(&self) {
    self.closed.store(true, Ordering::SeqCst);
    self.stop.notify_waiters();
    self.stop.notify_one();
    let (lock, cvar) = &self.listening;
    // The accept loop answers within one turn of the I/O thread; the bound
    // only matters if that thread is gone (the process is exiting).
    let guard = lock.locked();
    let _ = cvar.wait_timeout_while(guard, Duration::from_secs(1), |listening| *listening);
  }

  /// Forgets a server once JS is done with it (JS thread).
  pub fn remove(inst: &Instance, id: u32) {
    Self::close(inst, id);
    inst.servers.locked().remove(&id);
  }

  /// Its instance is torn down: stop accepting and stop the heartbeat
  /// (the connections are ended by the instance).
  pub fn shut_down(&self) {
    self.stop_accepting();
    self.conns.locked().clear();
  }

  async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
    loop {
      tokio::select! {
        biased;
        _ = self.stop.notified() => break,
        r = listener.accept() => match r {
          // One accepted as the server closes is dropped, as the kernel
          // resets what waits in a closed socket's backlog.
          Ok(_) if self.closed.load(Ordering::SeqCst) => break,
          Ok((stream, peer)) => {
            tokio::spawn(self.clone().handshake(stream, peer));
          }
          Err(e) => {
            // EMFILE and friends: back off instead of spinning.
            let msg = format!("accept: {e}");
            self.inst.events.writer().push(kind::SERVER_ERROR, self.id, 0, msg.as_bytes());
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
    let Some((req, leftover)) =
      handshake::read_upgrade(&mut stream, self.config.max_header_size, self.config.handshake_timeout).await
    else {
      return;
    };
    let Ok(stream) = stream.into_std().and_then(connection::Socket::register) else {
      return;
    };
    if self.inst.is_closed() {
      return;
    }
    let conn = Conn::new(&self.inst, self.config.conn, stream);
    // The connection's I/O task starts when it needs one (refused, closing,
    // blocked); this (larger) future ends here either way.
    let server = self.clone();
    conn.defer_task(Box::new(move |c| {
      server.conns.locked().remove(&c.id);
    }));
    conn.register_pending(leftover);
    let info = req.encode(peer, local);
    self.inst.events.writer().push(kind::UPGRADE, conn.id, self.id, &info);
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
      let conns: Vec<Arc<Conn>> = {
        let mut conns = self.conns.locked();
        // Bridged connections have no I/O task to untrack them as they end.
        conns.retain(|_, c| !c.is_released());
        conns.values().cloned().collect()
      };
      if self.closed.load(Ordering::SeqCst) && (conns.is_empty() || self.inst.is_closed()) {
        break;
      }
      let now = connection::clock();
      for c in conns {
        let seen = c.last_seen.load(Ordering::Relaxed);
        let pinged = c.pinged_at.load(Ordering::Relaxed);
        let wrote = if pinged > seen {
          let late = now - pinged >= timeout_ms;
          if late {
            c.terminate();
            self.reaped.fetch_add(1, Ordering::Relaxed);
          }
          late
        } else if now - seen >= interval_ms {
          c.pinged_at.store(now, Ordering::Relaxed);
          c.send_control(frame::OP_PING, &[])
        } else {
          false
        };
        if wrote && c.is_bridged() {
          // Node writes (or destroys) a bridged socket: JS is told to flush it.
          self.inst.events.writer().push(kind::BRIDGED_WRITE, c.slot(), 0, &[]);
        }
      }
    }
  }

  /// Tracks an open connection for the heartbeat.
  fn track(&self, conn: &Arc<Conn>) {
    if self.config.heartbeat.is_some() {
      self.conns.locked().insert(conn.id, conn.clone());
    }
  }

  /// Connections its heartbeat has terminated so far.
  pub fn reaped(inst: &Instance, id: u32) -> u64 {
    Self::get(inst, id).map_or(0, |s| s.reaped.load(Ordering::Relaxed))
  }

  /// The per-connection settings of a server.
  pub fn conn_options(inst: &Instance, id: u32) -> Option<ConnOptions> {
    Self::get(inst, id).ok().map(|s| s.config.conn)
  }

  /// A connection whose upgrade JS accepted (JS thread).
  pub fn accepted(inst: &Instance, id: u32, conn: &Arc<Conn>) {
    if let Ok(s) = Self::get(inst, id) {
      s.track(conn);
    }
  }
}

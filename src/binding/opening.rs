//! The napi functions that open connections: servers (settings, listening,
//! closing), upgrades (accepting and refusing), sockets Node accepted or
//! connected (taken over, or bridged), and the bytes of bridged ones.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{conn_options, copy, live, millis, ConnectionOptions, DeflateOptions};
use crate::connection::Conn;
use crate::server::{ListenOptions, Server, ServerConfig};

/// Settings of a server beyond those of its connections.
#[napi(object)]
pub struct ServerOptions {
  /// Milliseconds; 0 = no native heartbeat.
  pub heartbeat_interval: f64,
  pub heartbeat_timeout: f64,
  pub handshake_timeout: f64,
  pub max_header_size: u32,
}

#[napi(object)]
pub struct ListenResult {
  /// 0 on success, else the OS error number (positive).
  pub errno: i32,
  pub address: String,
  pub family: String,
  pub port: u32,
}

/// Opens a bridged connection as `slot`: Node keeps the socket (TLS, any
/// Duplex) and moves the bytes; Rust keeps the protocol. False if the
/// server is gone.
#[napi(catch_unwind)]
pub fn bridge_open(env: Env, id: u32, server_id: u32, slot: u32, deflate: Option<DeflateOptions>) -> Result<bool> {
  let js = live(&env, id)?;
  let Some(opts) = Server::conn_options(&js.inst, server_id) else {
    return Ok(false);
  };
  let conn = Conn::new_bridged(&js.inst, opts, slot);
  Server::accepted(&js.inst, server_id, &conn);
  js.registry.borrow_mut().insert(slot, server_id, conn, deflate.map(|d| d.native()));
  Ok(true)
}

/// The I/O thread queued a frame on bridged connection `slot`, or ended it
/// (`BRIDGED_WRITE`): it goes on the flush list.
#[napi(catch_unwind)]
pub fn bridge_kick(env: Env, id: u32, slot: u32) -> Result<()> {
  copy(&env, id)?.registry.borrow_mut().kick(slot);
  Ok(())
}

/// Bytes read from a bridged connection's socket.
#[napi(catch_unwind)]
pub fn bridge_feed(env: Env, id: u32, slot: u32, data: BufferSlice) -> Result<bool> {
  let mut bytes = data.to_vec();
  // JS dispatches what it produced at once (`drain`).
  Ok(copy(&env, id)?.registry.borrow_mut().feed(slot, &mut bytes))
}

/// Registers a WebSocketServer's settings under `server_id`: those of its
/// connections and its own.
#[napi(catch_unwind)]
pub fn create_server(env: Env, id: u32, server_id: u32, conn: ConnectionOptions, o: ServerOptions) -> Result<()> {
  let js = live(&env, id)?;
  Server::create(
    &js.inst,
    server_id,
    ServerConfig {
      conn: conn_options(&conn, false),
      heartbeat: (o.heartbeat_interval > 0.0).then(|| (millis(o.heartbeat_interval), millis(o.heartbeat_timeout))),
      handshake_timeout: millis(o.handshake_timeout),
      max_header_size: o.max_header_size as usize,
    },
  );
  Ok(())
}

/// Binds a listening socket for a created server, like `net.Server#listen`
/// (`reuse_port`: Node's `reusePort`).
#[napi(catch_unwind)]
pub fn listen(
  env: Env,
  id: u32,
  server_id: u32,
  host: Option<String>,
  port: u32,
  backlog: i32,
  reuse_port: Option<bool>,
) -> Result<ListenResult> {
  let js = live(&env, id)?;
  let o = ListenOptions { host, port: port as u16, backlog, reuse_port: reuse_port.unwrap_or(false) };
  Ok(match Server::listen(&js.inst, server_id, &o) {
    Ok(addr) => ListenResult {
      errno: 0,
      address: addr.ip().to_string(),
      family: if addr.is_ipv4() { "IPv4".into() } else { "IPv6".into() },
      port: addr.port() as u32,
    },
    Err(e) => ListenResult {
      errno: e.raw_os_error().unwrap_or(libc::EINVAL),
      address: String::new(),
      family: String::new(),
      port: 0,
    },
  })
}

/// Connections the server's native heartbeat terminated so far.
#[napi(catch_unwind)]
pub fn heartbeat_reaped(env: Env, id: u32, server_id: u32) -> Result<f64> {
  Ok(Server::reaped(&copy(&env, id)?.inst, server_id) as f64)
}

/// Stops accepting; open connections stay open.
#[napi(catch_unwind)]
pub fn server_close(env: Env, id: u32, server_id: u32) -> Result<()> {
  Server::close(&copy(&env, id)?.inst, server_id);
  Ok(())
}

/// Forgets the server (after its 'close').
#[napi(catch_unwind)]
pub fn server_remove(env: Env, id: u32, server_id: u32) -> Result<()> {
  let js = copy(&env, id)?;
  Server::remove(&js.inst, server_id);
  // Its Redis link (closed with the last server that uses it).
  js.links.borrow_mut().remove(&server_id);
  Ok(())
}

/// Completes an upgrade: `head` (the 101 response) is written before
/// anything sent on `slot`. False if the peer is already gone.
#[napi(catch_unwind)]
pub fn accept(
  env: Env,
  id: u32,
  request_id: u32,
  slot: u32,
  server_id: u32,
  head: BufferSlice,
  deflate: Option<DeflateOptions>,
) -> Result<bool> {
  let js = copy(&env, id)?;
  let mut reg = js.registry.borrow_mut();
  let Some((conn, leftover)) = Conn::accept(&js.inst, request_id, slot, &head, reg.flush_list()) else {
    return Ok(false);
  };
  Server::accepted(&js.inst, server_id, &conn);
  reg.insert_native(slot, server_id, conn, leftover, deflate.map(|d| d.native()));
  Ok(true)
}

/// Takes over a TCP socket Node accepted (by duplicating `fd`) as `slot`:
/// `head` (the 101 response) is written first and `preread` is parsed as
/// if just read.
// The arguments are JS's call as it is: one conversion each, no object.
#[allow(clippy::too_many_arguments)]
#[napi(catch_unwind)]
pub fn adopt(
  env: Env,
  id: u32,
  server_id: u32,
  fd: i32,
  slot: u32,
  head: BufferSlice,
  preread: BufferSlice,
  deflate: Option<DeflateOptions>,
) -> Result<()> {
  let js = live(&env, id)?;
  let mut reg = js.registry.borrow_mut();
  let conn = Server::adopt(&js.inst, server_id, fd, slot, &head, reg.flush_list()).map_err(not_taken_over)?;
  reg.insert_native(slot, server_id, conn, preread.to_vec(), deflate.map(|d| d.native()));
  Ok(())
}

/// Refuses an upgrade: writes `answer` and closes, or just closes (`null`).
#[napi(catch_unwind)]
pub fn reject(env: Env, id: u32, request_id: u32, answer: Option<BufferSlice>) -> Result<()> {
  Conn::reject(&copy(&env, id)?.inst, request_id, answer.as_deref());
  Ok(())
}

/// A client connection whose handshake Node completed on a plain TCP
/// socket: Rust takes it over (as `adopt`), in the client role (masked
/// frames).
#[napi(catch_unwind)]
pub fn client_adopt(
  env: Env,
  id: u32,
  fd: i32,
  slot: u32,
  preread: BufferSlice,
  o: ConnectionOptions,
  deflate: Option<DeflateOptions>,
) -> Result<()> {
  let js = live(&env, id)?;
  let mut reg = js.registry.borrow_mut();
  let conn =
    crate::connection::adopt(&js.inst, conn_options(&o, true), fd, slot, &[], reg.flush_list(), Box::new(|_| {}))
      .map_err(not_taken_over)?;
  reg.insert_native(slot, 0, conn, preread.to_vec(), deflate.map(|d| d.native()));
  Ok(())
}

/// A client connection over a socket Node keeps (TLS, a Unix socket): bridged.
#[napi(catch_unwind)]
pub fn client_bridge_open(
  env: Env,
  id: u32,
  slot: u32,
  o: ConnectionOptions,
  deflate: Option<DeflateOptions>,
) -> Result<bool> {
  let js = live(&env, id)?;
  let conn = Conn::new_bridged(&js.inst, conn_options(&o, true), slot);
  js.registry.borrow_mut().insert(slot, 0, conn, deflate.map(|d| d.native()));
  Ok(true)
}

fn not_taken_over(e: std::io::Error) -> Error {
  Error::from_reason(format!("cannot take over the socket: {e}"))
}

//! The napi functions of topics: subscriptions, publish and broadcast, and
//! the Redis links that carry publishes to other processes.

use std::sync::atomic::Ordering;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{copy, live};
use crate::pubsub::hub::hub;
use crate::pubsub::link::{Settings, DEFAULT_OUTBOX, DEFAULT_PREFIX};

#[napi(catch_unwind)]
pub fn subscribe(env: Env, id: u32, slot: u32, topic: String) -> Result<bool> {
  Ok(copy(&env, id)?.registry.borrow_mut().subscribe(slot, &topic))
}

#[napi(catch_unwind)]
pub fn unsubscribe(env: Env, id: u32, slot: u32, topic: String) -> Result<bool> {
  Ok(copy(&env, id)?.registry.borrow_mut().unsubscribe(slot, &topic))
}

#[napi(catch_unwind)]
pub fn is_subscribed(env: Env, id: u32, slot: u32, topic: String) -> Result<bool> {
  Ok(copy(&env, id)?.registry.borrow().is_subscribed(slot, &topic))
}

#[napi(catch_unwind)]
pub fn topics(env: Env, id: u32, slot: u32) -> Result<Vec<String>> {
  Ok(copy(&env, id)?.registry.borrow().topics_of(slot))
}

/// Frames the message once and queues it to every subscriber of `topic`
/// (but `except`, a slot, or -1), in this instance and every other one in
/// the process; and, if `server_id`'s server has a Redis link, publishes it
/// there for the other processes. Returns the number of recipients in this
/// instance.
#[napi(catch_unwind)]
pub fn publish(
  env: Env,
  id: u32,
  server_id: u32,
  topic: String,
  data: Either<String, BufferSlice>,
  opcode: u32,
  except: i32,
) -> Result<u32> {
  let js = copy(&env, id)?;
  let payload = bytes_of(&data);
  let n = js.registry.borrow_mut().publish(&topic, opcode as u8, payload, slot_of(except));
  if let Some(a) = js.links.borrow().get(&server_id) {
    a.link.publish(&topic, opcode as u8, payload);
  }
  Ok(n)
}

/// Like `publish`, to every open connection of a server (this instance's).
#[napi(catch_unwind)]
pub fn broadcast(
  env: Env,
  id: u32,
  server_id: u32,
  data: Either<String, BufferSlice>,
  opcode: u32,
  except: i32,
) -> Result<u32> {
  let js = copy(&env, id)?;
  let n = js.registry.borrow_mut().broadcast(server_id, opcode as u8, bytes_of(&data), slot_of(except));
  Ok(n)
}

/// A fan-out's payload: a string's UTF-8, or a Buffer's bytes.
fn bytes_of<'a>(data: &'a Either<String, BufferSlice>) -> &'a [u8] {
  match data {
    Either::A(s) => s.as_bytes(),
    Either::B(b) => b,
  }
}

/// A fan-out's `except`: a slot, or -1 for none.
fn slot_of(except: i32) -> Option<u32> {
  (except >= 0).then_some(except as u32)
}

/// A server's `redis` option, checked by JS.
#[napi(object)]
pub struct RedisOptions {
  pub url: String,
  pub prefix: Option<String>,
  pub outbox: Option<u32>,
}

/// Connects `server_id`'s server to Redis: the link of this process for the
/// same URL and prefix, or a new one (which connects in the background and
/// reports as `kind::REDIS` events). A TypeError for a URL that is not one.
#[napi(catch_unwind)]
pub fn redis_attach(env: Env, id: u32, server_id: u32, o: RedisOptions) -> Result<()> {
  let js = live(&env, id)?;
  let settings = Settings {
    url: o.url,
    prefix: o.prefix.unwrap_or_else(|| DEFAULT_PREFIX.into()),
    outbox: o.outbox.map_or(DEFAULT_OUTBOX, |n| n as usize),
  };
  let link = hub().link(settings).map_err(|e| Error::new(Status::InvalidArg, e))?;
  let attachment = link.attach(&js.inst, server_id);
  js.links.borrow_mut().insert(server_id, attachment);
  Ok(())
}

#[napi(object)]
pub struct RedisStats {
  pub connected: bool,
  pub published: f64,
  pub received: f64,
  pub dropped: f64,
  pub lost: f64,
  pub malformed: f64,
  pub refused: f64,
  pub reconnects: f64,
  pub outbox: u32,
}

/// `wss.redisStats` (undefined for a server without Redis).
#[napi(catch_unwind)]
pub fn redis_stats(env: Env, id: u32, server_id: u32) -> Result<Option<RedisStats>> {
  let js = copy(&env, id)?;
  let links = js.links.borrow();
  let Some(a) = links.get(&server_id) else { return Ok(None) };
  let s = a.link.stats();
  let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
  Ok(Some(RedisStats {
    connected: s.connected.load(Ordering::Acquire),
    published: n(&s.published),
    received: n(&s.received),
    dropped: n(&s.dropped),
    lost: n(&s.lost),
    malformed: n(&s.malformed),
    refused: n(&s.refused),
    reconnects: n(&s.reconnects),
    outbox: a.link.outbox_len() as u32,
  }))
}

/// -1 when Redis has confirmed every subscription change the process asked
/// for (or the server has no Redis); else the count of changes a
/// `REDIS_SYNCED` report must reach.
#[napi(catch_unwind)]
pub fn redis_sync_point(env: Env, id: u32, server_id: u32) -> Result<i64> {
  let js = copy(&env, id)?;
  let links = js.links.borrow();
  Ok(links.get(&server_id).and_then(|a| a.link.sync_point()).map_or(-1, i64::from))
}

//! A Redis link: the process's connections to one Redis (one URL and
//! prefix, shared by every server in the process that names them), run as
//! one task on the I/O runtime.
//!
//! - One subscriber connection (SUBSCRIBE to `prefix + topic` while any
//!   instance in the process has a subscriber to the topic) and one
//!   publisher connection (PUBLISH, pipelined: whatever waits when a
//!   pipeline returns goes in the next one, in order).
//! - Publishes wait in a bounded outbox, in order; what finds it full is
//!   dropped, counted, and reported to the servers ('redisOverflow').
//! - A lost connection is retried with backoff (0.1 s doubling to 5 s,
//!   with jitter); each new connection resubscribes to the process's
//!   topics, then the outbox is flushed. Publishes in flight on a lost
//!   connection are not repeated: delivery is at most once.
//! - Messages from Redis fan out to the process's instances (`hub`) without
//!   entering JS; the process's own publishes (by their origin) and
//!   malformed messages are skipped.
//!
//! Why our own reconnect loop rather than redis-rs's ConnectionManager:
//! each step (unreachable, lost, ready, resubscribed) is reported to JS,
//! and the outbox is ours to bound and count.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};

use super::hub::hub;
use super::wire;
use crate::events::kind;
use crate::instance::Instance;
use crate::sync::Lock;

/// What a server's `redis` option says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
  pub url: String,
  /// A topic's channel is `prefix + topic`.
  pub prefix: String,
  /// Publishes kept while Redis cannot take them.
  pub outbox: usize,
}

pub const DEFAULT_PREFIX: &str = "wsrs:";
pub const DEFAULT_OUTBOX: usize = 10_000;

/// What a link reports to its servers (`kind::REDIS`, in `extra`).
pub mod status {
  /// Connected, and subscribed to every topic of the process.
  pub const READY: u32 = 1;
  /// Never connected yet: payload = the message.
  pub const UNREACHABLE: u32 = 2;
  /// The connection was lost: payload = the message.
  pub const LOST: u32 = 3;
  /// Publishes were dropped: payload = "<since the last report> <total>".
  pub const OVERFLOW: u32 = 4;
  /// Subscription changes up to payload = "<n>" are confirmed by Redis.
  pub const SYNCED: u32 = 5;
}

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Redis may take to answer (a PUBLISH pipeline, a SUBSCRIBE).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Publishes per pipeline, at most.
const PIPELINE: usize = 4096;

/// Counters of a link (`wss.redisStats`).
#[derive(Default)]
pub struct Stats {
  pub connected: AtomicBool,
  /// Publishes Redis took.
  pub published: AtomicU64,
  /// Messages from other processes fanned out here.
  pub received: AtomicU64,
  /// Publishes the full outbox refused.
  pub dropped: AtomicU64,
  /// Publishes in flight on a connection that was lost (not repeated).
  pub lost: AtomicU64,
  pub malformed: AtomicU64,
  /// Pipelines of publishes in which Redis refused a command (an ACL).
  pub refused: AtomicU64,
  pub reconnects: AtomicU64,
}

struct Outgoing {
  channel: Vec<u8>,
  message: Vec<u8>,
}

struct User {
  inst: Weak<Instance>,
  server: u32,
}

struct Changes {
  /// Subscribe (true) or unsubscribe, by topic: the last change of a topic
  /// wins, so that churn during an outage takes no more room than topics.
  pending: HashMap<Arc<str>, bool>,
  /// How many changes were asked for, ever (wrapping). It starts at 1, the
  /// first connection's subscriptions: until they are made, nothing is
  /// confirmed.
  asked: u32,
}

struct Shared {
  settings: Settings,
  /// Which links are one: the same Redis address (its pub/sub ignores the
  /// database number) and prefix.
  key: String,
  client: redis::Client,
  outbox: Mutex<VecDeque<Outgoing>>,
  changes: Mutex<Changes>,
  /// Changes Redis confirmed (`Changes::asked` as it was).
  confirmed: AtomicU32,
  wake: tokio::sync::Notify,
  users: Mutex<Vec<User>>,
  /// The last outage's report, for servers that attach during it.
  outage: Mutex<Option<(u32, String)>>,
  stats: Stats,
  reported_dropped: AtomicU64,
  closed: AtomicBool,
}

/// A link, held by the servers that use it; the last one dropped closes it.
pub struct Link(Arc<Shared>);

impl Link {
  /// Opens a link for `settings` with their client and key (`Link::key`);
  /// its task connects in the background.
  pub fn open(settings: Settings, client: redis::Client, key: String) -> Arc<Link> {
    let shared = Arc::new(Shared {
      settings,
      key,
      client,
      outbox: Mutex::default(),
      changes: Mutex::new(Changes { pending: HashMap::new(), asked: 1 }),
      confirmed: AtomicU32::new(0),
      wake: tokio::sync::Notify::new(),
      users: Mutex::default(),
      outage: Mutex::default(),
      stats: Stats::default(),
      reported_dropped: AtomicU64::new(0),
      closed: AtomicBool::new(false),
    });
    crate::runtime::handle().spawn(run(shared.clone()));
    Arc::new(Link(shared))
  }

  /// The client for `settings`, and the key of its link. Err for a URL
  /// Redis's client cannot parse.
  pub fn key(settings: &Settings) -> Result<(redis::Client, String), String> {
    let client = redis::Client::open(settings.url.as_str())
      .map_err(|e| format!("The \"redis\" option's URL is not a Redis URL ({}): {e}", settings.url))?;
    let key = format!("{}\n{}", client.get_connection_info().addr(), settings.prefix);
    Ok((client, key))
  }

  pub fn has_key(&self, key: &str) -> bool {
    self.0.key == key
  }

  pub fn stats(&self) -> &Stats {
    &self.0.stats
  }

  /// Publishes waiting for Redis.
  pub fn outbox_len(&self) -> usize {
    self.0.outbox.locked().len()
  }

  /// `server` of `inst` uses this link: it hears what the link reports,
  /// starting with where it is now.
  pub fn attach(self: &Arc<Self>, inst: &Arc<Instance>, server: u32) -> Attachment {
    let s = &self.0;
    s.users.locked().push(User { inst: Arc::downgrade(inst), server });
    if s.stats.connected.load(Ordering::Acquire) {
      report_to(inst, server, status::READY, "");
    } else if let Some((code, message)) = s.outage.locked().clone() {
      report_to(inst, server, code, &message);
    }
    Attachment { link: self.clone(), inst: Arc::downgrade(inst), server }
  }

  /// A publish (JS thread): into the outbox, unless it is full. Only a
  /// connected link is woken for it: in an outage the outbox waits for the
  /// reconnection (and overflow is reported when the backoff ends).
  pub fn publish(&self, topic: &str, opcode: u8, payload: &[u8]) {
    let s = &self.0;
    let o = Outgoing { channel: s.channel(topic), message: wire::encode(&hub().origin, opcode, payload) };
    {
      let mut q = s.outbox.locked();
      if q.len() >= s.settings.outbox {
        drop(q);
        s.stats.dropped.fetch_add(1, Ordering::Relaxed);
      } else {
        q.push_back(o);
      }
    }
    if s.stats.connected.load(Ordering::Acquire) {
      s.wake.notify_one();
    }
  }

  /// The process has its first subscriber to `topic` (true), or lost its
  /// last (false).
  pub fn want(&self, topic: &Arc<str>, on: bool) {
    let mut c = self.0.changes.locked();
    c.pending.insert(topic.clone(), on);
    c.asked = c.asked.wrapping_add(1);
    drop(c);
    self.0.wake.notify_one();
  }

  /// None when Redis has confirmed every subscription change asked for so
  /// far; else the count to wait for (`status::SYNCED`).
  pub fn sync_point(&self) -> Option<u32> {
    let asked = self.0.changes.locked().asked;
    (asked != self.0.confirmed.load(Ordering::Acquire)).then_some(asked)
  }
}

impl Drop for Link {
  fn drop(&mut self) {
    self.0.closed.store(true, Ordering::Release);
    self.0.wake.notify_one();
  }
}

/// A server's use of a link; dropped with the server.
pub struct Attachment {
  pub link: Arc<Link>,
  inst: Weak<Instance>,
  server: u32,
}

impl Drop for Attachment {
  fn drop(&mut self) {
    let server = self.server;
    self.link.0.users.locked().retain(|u| !(u.server == server && Weak::ptr_eq(&u.inst, &self.inst)));
  }
}

fn report_to(inst: &Instance, server: u32, code: u32, message: &str) {
  if !inst.is_closed() {
    inst.events.writer().push(kind::REDIS, server, code, message.as_bytes());
  }
}

impl Shared {
  fn channel(&self, topic: &str) -> Vec<u8> {
    [self.settings.prefix.as_bytes(), topic.as_bytes()].concat()
  }

  fn is_closed(&self) -> bool {
    self.closed.load(Ordering::Acquire)
  }

  fn report(&self, code: u32, message: &str) {
    let users: Vec<(Arc<Instance>, u32)> =
      self.users.locked().iter().filter_map(|u| Some((u.inst.upgrade()?, u.server))).collect();
    for (inst, server) in users {
      report_to(&inst, server, code, message);
    }
  }

  fn report_overflow(&self) {
    let total = self.stats.dropped.load(Ordering::Relaxed);
    let before = self.reported_dropped.swap(total, Ordering::Relaxed);
    if total > before {
      self.report(status::OVERFLOW, &format!("{} {total}", total - before));
    }
  }

  fn confirm(&self, asked: u32) {
    self.confirmed.store(asked, Ordering::Release);
    self.report(status::SYNCED, &asked.to_string());
  }

  /// A message on one of our channels.
  fn receive(&self, channel: &str, message: &[u8]) {
    if self.is_closed() {
      return; // a link that replaces this one may be delivering already
    }
    let decoded = match wire::decode(message) {
      Ok(d) => d,
      Err(_) => {
        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        return;
      }
    };
    if decoded.origin == hub().origin {
      return; // ours: fanned out when it was published
    }
    let Some(topic) = wire::topic(&self.settings.prefix, channel.as_bytes()) else {
      self.stats.malformed.fetch_add(1, Ordering::Relaxed);
      return;
    };
    self.stats.received.fetch_add(1, Ordering::Relaxed);
    hub().deliver(topic, decoded.opcode, decoded.payload);
  }

  fn outage_message(&self, what: &str, e: &dyn std::fmt::Display) -> String {
    format!(
      "wsrs: {what} Redis at {} ({e}); retrying with backoff, publishes wait in the outbox (up to {})",
      self.settings.url, self.settings.outbox
    )
  }

  fn outage(&self, code: u32, message: String) {
    self.report(code, &message);
    *self.outage.locked() = Some((code, message));
  }
}

/// The link's life: connect, serve until the connection is lost, back off,
/// again; until the last server lets go of it.
async fn run(s: Arc<Shared>) {
  let mut backoff = MIN_BACKOFF;
  let mut ever_connected = false;
  let mut in_outage = false;
  while !s.is_closed() {
    match connect(&s).await {
      Ok((publisher, sink, stream)) => {
        if ever_connected {
          s.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        ever_connected = true;
        backoff = MIN_BACKOFF;
        *s.outage.locked() = None;
        let lost = serve(&s, publisher, sink, stream).await;
        s.stats.connected.store(false, Ordering::Release);
        if s.is_closed() {
          break;
        }
        s.outage(status::LOST, s.outage_message("lost the connection to", &lost));
        in_outage = true;
      }
      Err(e) => {
        if !in_outage {
          let (code, what) =
            if ever_connected { (status::LOST, "cannot reconnect to") } else { (status::UNREACHABLE, "cannot reach") };
          s.outage(code, s.outage_message(what, &e));
          in_outage = true;
        }
      }
    }
    let wait = jitter(backoff);
    backoff = (backoff * 2).min(MAX_BACKOFF);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
      tokio::select! {
        _ = tokio::time::sleep_until(deadline) => break,
        // Subscription changes wait for the connection; closing does not.
        _ = s.wake.notified() => if s.is_closed() { return },
      }
    }
    s.report_overflow();
  }
}

/// 75–125% of `d`, so that processes that lost Redis together do not all
/// come back at the same instant.
fn jitter(d: Duration) -> Duration {
  let mut b = [0u8; 2];
  let r = if getrandom::fill(&mut b).is_ok() { u16::from_ne_bytes(b) as u64 } else { 32768 };
  d * 3 / 4 + d / 2 * r as u32 / 65536
}

type Connected = (MultiplexedConnection, PubSubSink, PubSubStream);

async fn connect(s: &Shared) -> Result<Connected, String> {
  let config = redis::AsyncConnectionConfig::new()
    .set_connection_timeout(Some(CONNECT_TIMEOUT))
    .set_response_timeout(Some(COMMAND_TIMEOUT));
  let publisher = s.client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| e.to_string())?;
  let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, s.client.get_async_pubsub())
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())?;
  let (mut sink, stream) = pubsub.split();
  // Every topic of the process, as it is now: the changes asked for until
  // now are in it (the hub updates its topics before it asks).
  let asked = {
    let mut c = s.changes.locked();
    c.pending.clear();
    c.asked
  };
  let channels: Vec<Vec<u8>> = hub().topics().iter().map(|t| s.channel(t)).collect();
  subscribe(&mut sink, channels, true).await.map_err(|e| e.to_string())?;
  s.stats.connected.store(true, Ordering::Release);
  s.report(status::READY, "");
  s.confirm(asked);
  Ok((publisher, sink, stream))
}

/// Applies subscription changes and sends the outbox while the connection
/// lasts. Returns why it ended.
async fn serve(
  s: &Arc<Shared>,
  mut publisher: MultiplexedConnection,
  mut sink: PubSubSink,
  stream: PubSubStream,
) -> String {
  let mut reader = {
    let s = s.clone();
    tokio::spawn(async move {
      let mut stream = stream;
      while let Some(msg) = stream.next().await {
        s.receive(msg.get_channel_name(), msg.get_payload_bytes());
      }
    })
  };
  let why = loop {
    if s.is_closed() {
      // The last server let go: what it published last still goes out.
      flush_on_close(s, &mut publisher).await;
      break "closed".to_string();
    }
    if reader.is_finished() {
      break "the subscriber connection closed".to_string();
    }
    let (changes, asked) = {
      let mut c = s.changes.locked();
      (std::mem::take(&mut c.pending), c.asked)
    };
    if !changes.is_empty() {
      if let Err(e) = resubscribe(s, &mut sink, changes).await {
        break e.to_string();
      }
      s.confirm(asked);
    }
    let batch: Vec<Outgoing> = {
      let mut q = s.outbox.locked();
      let n = q.len().min(PIPELINE);
      q.drain(..n).collect()
    };
    if !batch.is_empty() {
      match publishes(&batch).query_async::<()>(&mut publisher).await {
        Ok(()) => s.stats.published.fetch_add(batch.len() as u64, Ordering::Relaxed),
        Err(e) if connection_lost(&e) => {
          s.stats.lost.fetch_add(batch.len() as u64, Ordering::Relaxed);
          break e.to_string();
        }
        // Redis refused a command (an ACL on a channel, say): the others
        // were carried out; the connection is fine.
        Err(_) => s.stats.refused.fetch_add(1, Ordering::Relaxed),
      };
      continue;
    }
    s.report_overflow();
    tokio::select! {
      _ = s.wake.notified() => {}
      _ = &mut reader => break "the subscriber connection closed".to_string(),
    }
  };
  reader.abort();
  why
}

/// Subscribes and unsubscribes as `changes` say.
async fn resubscribe(s: &Shared, sink: &mut PubSubSink, changes: HashMap<Arc<str>, bool>) -> redis::RedisResult<()> {
  let (on, off): (Vec<_>, Vec<_>) = changes.into_iter().partition(|(_, on)| *on);
  subscribe(sink, on.iter().map(|(t, _)| s.channel(t)).collect(), true).await?;
  subscribe(sink, off.iter().map(|(t, _)| s.channel(t)).collect(), false).await
}

/// SUBSCRIBE (`on`) or UNSUBSCRIBE `channels`, within a timeout (a Redis
/// that stalls is a lost one). A channel Redis refuses (an ACL) is left
/// out rather than failing the others.
async fn subscribe(sink: &mut PubSubSink, channels: Vec<Vec<u8>>, on: bool) -> redis::RedisResult<()> {
  async fn one(sink: &mut PubSubSink, channels: &[Vec<u8>], on: bool) -> redis::RedisResult<()> {
    let call = async {
      if on {
        sink.subscribe(channels).await
      } else {
        sink.unsubscribe(channels).await
      }
    };
    match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
      Ok(r) => r,
      Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "Redis did not answer SUBSCRIBE").into()),
    }
  }
  if channels.is_empty() {
    return Ok(());
  }
  match one(sink, &channels, on).await {
    Err(e) if !connection_lost(&e) && channels.len() > 1 => {
      for c in &channels {
        match one(sink, std::slice::from_ref(c), on).await {
          Err(e) if connection_lost(&e) => return Err(e),
          _ => {}
        }
      }
      Ok(())
    }
    Err(e) if !connection_lost(&e) => Ok(()),
    r => r,
  }
}

/// Whether `e` means the connection is gone (rather than Redis refusing
/// one command).
fn connection_lost(e: &redis::RedisError) -> bool {
  e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// One pipeline of PUBLISH commands, in the outbox's order.
fn publishes(batch: &[Outgoing]) -> redis::Pipeline {
  let mut pipe = redis::pipe();
  for o in batch {
    pipe.cmd("PUBLISH").arg(&o.channel).arg(&o.message).ignore();
  }
  pipe
}

/// The link is closing: sends what waits in the outbox (within a timeout).
async fn flush_on_close(s: &Shared, publisher: &mut MultiplexedConnection) {
  let batch: Vec<Outgoing> = s.outbox.locked().drain(..).collect();
  if batch.is_empty() {
    return;
  }
  match tokio::time::timeout(COMMAND_TIMEOUT, publishes(&batch).query_async::<()>(publisher)).await {
    Ok(Ok(())) => s.stats.published.fetch_add(batch.len() as u64, Ordering::Relaxed),
    _ => s.stats.lost.fetch_add(batch.len() as u64, Ordering::Relaxed),
  };
}

//! An instance's JS-thread view of its open connections: by slot (the id JS
//! and the event queue use), by server, and by topic, with the flush list
//! of their corked writes. Only the instance's JS thread touches it (it
//! belongs to the napi object), so a send is a slot lookup with no lock and
//! no JS wrapper object per connection, and a publish fans out in Rust.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::connection::{BridgeWrite, Conn, Deflate, FlushList, Reader, Sent, SharedFrames};
use crate::events::{kind, Batch};
use crate::frame;
use crate::instance::Instance;
use crate::pubsub::{hub::hub, Published};

struct Entry {
  conn: Arc<Conn>,
  server: u32,
  topics: Vec<Arc<str>>,
  /// Reading and parsing state (the JS thread reads every connection).
  reader: Reader,
}

#[derive(Default)]
pub struct Registry {
  slots: Vec<Option<Entry>>,
  // Ordered sets: a fan-out writes in slot order (about connection order,
  // like ws's `clients` Set), the same every time.
  servers: HashMap<u32, BTreeSet<u32>>,
  topics: HashMap<Arc<str>, BTreeSet<u32>>,
  /// Connections with writes queued this turn.
  flush: FlushList,
  /// What this thread read and parsed since the last delivery to JS
  /// (`events.rs`): no lock, since only this thread touches it.
  pub events: Batch,
  /// The instance, as the process's topics know it (`pubsub::hub`): None
  /// for a registry of its own (tests).
  pub member: Option<Arc<Instance>>,
}

impl Registry {
  /// The registry of `inst`, a member of the process's topics.
  pub fn of(inst: &Arc<Instance>) -> Registry {
    Registry { member: Some(inst.clone()), ..Registry::default() }
  }

  /// A connection with a socket of its own: `preread` (bytes received after
  /// the handshake) is parsed, then the reactor reads the socket.
  pub fn insert_native(&mut self, slot: u32, server: u32, conn: Arc<Conn>, preread: Vec<u8>, deflate: Option<Deflate>) {
    self.insert(slot, server, conn, deflate);
    if let Some(Some(e)) = self.slots.get_mut(slot as usize) {
      let before = self.events.count();
      e.reader.start(&e.conn, preread, &mut self.events);
      if self.events.count() > before {
        // JS is told as for the I/O thread's events: a delivery in progress
        // (the usual case: JS accepts while it handles the upgrade) takes
        // them in its next round, and the wake then finds nothing.
        e.conn.inst.events.wake();
      }
    }
  }

  /// A connection under `slot`. As is, for one whose socket Node keeps
  /// (TLS, any Duplex): JS feeds it what it reads (`feed`).
  pub fn insert(&mut self, slot: u32, server: u32, conn: Arc<Conn>, deflate: Option<Deflate>) {
    let reader = match &deflate {
      Some(d) => {
        conn.set_deflate(d);
        Reader::with_deflate(d)
      }
      None => Reader::default(),
    };
    let i = slot as usize;
    if self.slots.len() <= i {
      self.slots.resize_with(i + 1, || None);
    }
    self.slots[i] = Some(Entry { conn, server, topics: Vec::new(), reader });
    self.servers.entry(server).or_default().insert(slot);
  }

  /// Parses bytes read by JS for a bridged connection.
  pub fn feed(&mut self, slot: u32, bytes: &mut [u8]) -> bool {
    self.read_guarded(slot, |e, flush, events| e.reader.feed(&e.conn, bytes, flush, events))
  }

  /// Runs a read of `slot`. A panic in it (a bug) must neither unwind into
  /// libuv or JS (libuv would abort Node) nor leave the connection half
  /// read: it is terminated ('close' with 1006), and the others go on.
  fn read_guarded(&mut self, slot: u32, read: impl FnOnce(&mut Entry, &mut FlushList, &mut Batch)) -> bool {
    let Some(Some(e)) = self.slots.get_mut(slot as usize) else {
      return false;
    };
    let (flush, events) = (&mut self.flush, &mut self.events);
    let mark = events.mark();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
      crate::connection::test_panic::maybe(crate::connection::test_panic::READ);
      read(e, flush, events)
    }));
    if r.is_err() {
      // What the failed read queued may be half an event: not for JS.
      events.truncate(mark);
      eprintln!("wsrs: internal error while reading connection {slot}; it is terminated");
      e.conn.terminate();
      e.conn.kick(flush);
    }
    true
  }

  /// Puts `slot` on the flush list (the I/O thread wrote to its queue).
  pub fn kick(&mut self, slot: u32) {
    if let Some(Some(e)) = self.slots.get(slot as usize) {
      e.conn.kick(&mut self.flush);
    }
  }

  /// The reactor found the socket of `slot` readable.
  pub fn on_readable(&mut self, slot: u32, hup: bool) {
    self.read_guarded(slot, |e, flush, events| e.reader.on_readable(&e.conn, hup, flush, events));
  }

  /// `pause()` / `resume()`: stops or restarts reading.
  pub fn set_paused(&mut self, slot: u32, paused: bool) {
    if let Some(Some(e)) = self.slots.get_mut(slot as usize) {
      e.reader.set_paused(&e.conn, paused);
    }
  }

  pub fn remove(&mut self, slot: u32) {
    let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
      return;
    };
    entry.conn.release();
    if let Some(members) = self.servers.get_mut(&entry.server) {
      members.remove(&slot);
      if members.is_empty() {
        self.servers.remove(&entry.server);
      }
    }
    for t in entry.topics {
      self.leave(&t, slot);
    }
  }

  /// Fans out what other instances and Redis published here (JS thread),
  /// and has JS flush it.
  pub fn deliver_mail(&mut self, mail: &mut Vec<Arc<Published>>) {
    let mut n = 0;
    for p in mail.drain(..) {
      if let Some(set) = self.topics.get(&p.topic) {
        n += fan_out(&self.slots, &mut self.flush, set.iter().copied(), p.opcode, p.payload(), &p.framed, None);
      }
    }
    if n > 0 {
      self.events.push(kind::PUBLISHED, 0, n, b"");
    }
  }

  /// (open connections, topics with subscribers)
  pub fn counts(&self) -> (usize, usize) {
    (self.slots.iter().filter(|e| e.is_some()).count(), self.topics.len())
  }

  /// (bytes read, bytes written) of the socket of `slot`.
  pub fn byte_counts(&self, slot: u32) -> Option<(u64, u64)> {
    let e = self.slots.get(slot as usize)?.as_ref()?;
    Some((e.reader.bytes_read, e.conn.bytes_written()))
  }

  pub fn get(&self, slot: u32) -> Option<&Arc<Conn>> {
    self.slots.get(slot as usize).and_then(|e| e.as_ref()).map(|e| &e.conn)
  }

  /// Runs `f` on the connection of `slot` with the flush list its writes
  /// go on; `default` if there is none.
  pub fn with_conn<R>(&mut self, slot: u32, default: R, f: impl FnOnce(&Arc<Conn>, &mut FlushList) -> R) -> R {
    match self.slots.get(slot as usize) {
      Some(Some(e)) => f(&e.conn, &mut self.flush),
      _ => default,
    }
  }

  /// The flush list (to open a connection onto it, or to flush it).
  pub fn flush_list(&mut self) -> &mut FlushList {
    &mut self.flush
  }

  /// Writes what was queued (see `FlushList::flush`).
  pub fn flush(&mut self, collect: bool) -> (Vec<BridgeWrite>, Vec<u32>, bool) {
    self.flush.flush(collect)
  }

  /// The instance is being torn down: every connection gets its last close
  /// frame (1001) where one can be sent and ends; every slot is forgotten.
  pub fn going_away(&mut self) {
    for e in self.slots.drain(..).flatten() {
      e.conn.going_away();
      e.conn.release();
    }
    self.servers.clear();
    if let Some(inst) = &self.member {
      let n = self.topics.len();
      for (i, t) in self.topics.keys().enumerate() {
        hub().leave(inst, t, i + 1 == n);
      }
    }
    self.topics.clear();
    self.flush.clear();
  }

  fn leave(&mut self, topic: &str, slot: u32) {
    if let Some(set) = self.topics.get_mut(topic) {
      set.remove(&slot);
      if set.is_empty() {
        self.topics.remove(topic);
        if let Some(inst) = &self.member {
          hub().leave(inst, topic, self.topics.is_empty());
        }
      }
    }
  }

  /// False if already subscribed (or not open).
  pub fn subscribe(&mut self, slot: u32, topic: &str) -> bool {
    let Some(Some(entry)) = self.slots.get_mut(slot as usize) else {
      return false;
    };
    if entry.topics.iter().any(|t| &**t == topic) {
      return false;
    }
    let key: Arc<str> = match self.topics.get_key_value(topic) {
      Some((k, _)) => k.clone(),
      None => {
        let key = Arc::from(topic);
        if let Some(inst) = &self.member {
          hub().join(inst, &key, self.topics.is_empty());
        }
        key
      }
    };
    entry.topics.push(key.clone());
    self.topics.entry(key).or_default().insert(slot);
    true
  }

  /// False if it was not subscribed.
  pub fn unsubscribe(&mut self, slot: u32, topic: &str) -> bool {
    let Some(Some(entry)) = self.slots.get_mut(slot as usize) else {
      return false;
    };
    let Some(i) = entry.topics.iter().position(|t| &**t == topic) else {
      return false;
    };
    entry.topics.swap_remove(i);
    self.leave(topic, slot);
    true
  }

  pub fn is_subscribed(&self, slot: u32, topic: &str) -> bool {
    matches!(self.slots.get(slot as usize), Some(Some(e)) if e.topics.iter().any(|t| &**t == topic))
  }

  pub fn topics_of(&self, slot: u32) -> Vec<String> {
    match self.slots.get(slot as usize) {
      Some(Some(e)) => e.topics.iter().map(|t| t.to_string()).collect(),
      _ => Vec::new(),
    }
  }

  /// Frames `payload` once and queues it to every subscriber of `topic`
  /// (except `except`), then to the subscribers of every other instance in
  /// the process (`pubsub::hub`). Returns how many connections of this
  /// instance it was queued to.
  pub fn publish(&mut self, topic: &str, opcode: u8, payload: &[u8], except: Option<u32>) -> u32 {
    let posted =
      self.member.as_ref().and_then(|inst| hub().forward(inst, !self.topics.is_empty(), topic, opcode, payload));
    let Some(set) = self.topics.get(topic) else { return 0 };
    match posted {
      // The other instances' frame is this one's too.
      Some(p) => fan_out(&self.slots, &mut self.flush, set.iter().copied(), opcode, payload, &p.framed, except),
      None => fan_out_framing(&self.slots, &mut self.flush, set.iter().copied(), opcode, payload, except),
    }
  }

  /// Like `publish`, to every open connection of a server.
  pub fn broadcast(&mut self, server: u32, opcode: u8, payload: &[u8], except: Option<u32>) -> u32 {
    match self.servers.get(&server) {
      Some(set) => fan_out_framing(&self.slots, &mut self.flush, set.iter().copied(), opcode, payload, except),
      None => 0,
    }
  }
}

/// Frames `payload` once and queues it to each of `members` but `except`.
fn fan_out_framing(
  slots: &[Option<Entry>],
  flush: &mut FlushList,
  members: impl Iterator<Item = u32>,
  opcode: u8,
  payload: &[u8],
  except: Option<u32>,
) -> u32 {
  let mut framed = Vec::with_capacity(payload.len() + 10);
  frame::write_frame(&mut framed, true, opcode, payload, None);
  fan_out(slots, flush, members, opcode, payload, &framed, except)
}

/// Queues the frame `framed` (of `payload`) to each of `members` but `except`.
fn fan_out(
  slots: &[Option<Entry>],
  flush: &mut FlushList,
  members: impl Iterator<Item = u32>,
  opcode: u8,
  payload: &[u8],
  framed: &[u8],
  except: Option<u32>,
) -> u32 {
  let mut shared = SharedFrames::default();
  let mut n = 0;
  for slot in members {
    if Some(slot) == except {
      continue;
    }
    let Some(Some(e)) = slots.get(slot as usize) else { continue };
    let sent = e.conn.send_fan_out(opcode, payload, framed, &mut shared, flush);
    if sent == Sent::Queued {
      n += 1;
    }
  }
  n
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn topics_follow_subscriptions_and_closes() {
    let mut r = Registry::default();
    // Topic bookkeeping does not need live connections: use none.
    r.slots.resize_with(3, || None);
    assert!(!r.subscribe(0, "a"), "a closed slot cannot subscribe");
    assert_eq!(r.publish("a", frame::OP_TEXT, b"x", None), 0);
  }
}

//! The process's topics: which instances (one per copy of the module, on
//! each JS thread) have subscribers to which topic, and the Redis links
//! that carry the topics beyond the process.
//!
//! It is the one thing about publishing that is process-wide, on purpose:
//! worker threads sharing a port (`reusePort`) serve one chat room, and a
//! publish on any of them must reach the room's members on all of them.
//! (Everything else an instance owns stays its own: connections, events,
//! servers.)
//!
//! A publish that crosses instances is framed once (`Published`) and put
//! in the mailbox of each instance with subscribers to the topic; the
//! first message into an empty mailbox wakes that instance's JS thread,
//! which fans out everything waiting in one go. An instance alone in the
//! process with topics takes no lock to publish.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use super::link::{Link, Settings};
use super::{wire, Published};
use crate::instance::Instance;
use crate::sync::Lock;

pub struct Hub {
  /// This process's id on Redis channels (random: processes on other
  /// machines have other pids just as well as the same ones).
  pub origin: wire::Origin,
  /// Instances with subscribers, by topic.
  topics: RwLock<HashMap<Arc<str>, Vec<Arc<Instance>>>>,
  /// How many instances have subscribers to any topic.
  active: AtomicUsize,
  /// The Redis links servers named (one per URL and prefix).
  links: Mutex<Vec<Weak<Link>>>,
}

pub fn hub() -> &'static Hub {
  static HUB: OnceLock<Hub> = OnceLock::new();
  HUB.get_or_init(|| {
    let mut origin = [0u8; 8];
    // Without the OS's randomness, the clock and pid tell processes apart
    // about as well.
    if getrandom::fill(&mut origin).is_err() {
      let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
      origin = ((t as u64) ^ ((std::process::id() as u64) << 32)).to_ne_bytes();
    }
    Hub { origin, topics: RwLock::default(), active: AtomicUsize::new(0), links: Mutex::default() }
  })
}

impl Hub {
  /// `inst` has its first subscriber to `topic` (`first`: its first topic).
  pub fn join(&self, inst: &Arc<Instance>, topic: &Arc<str>, first: bool) {
    if first {
      self.active.fetch_add(1, Ordering::AcqRel);
    }
    let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
    let members = topics.entry(topic.clone()).or_default();
    members.push(inst.clone());
    if members.len() == 1 {
      for link in self.live_links() {
        link.want(topic, true);
      }
    }
  }

  /// `inst`'s last subscriber to `topic` left (`last`: its last topic).
  pub fn leave(&self, inst: &Instance, topic: &str, last: bool) {
    let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
    if let Some(members) = topics.get_mut(topic) {
      members.retain(|m| m.id != inst.id);
      if members.is_empty() {
        let (topic, _) = topics.remove_entry(topic).expect("present");
        for link in self.live_links() {
          link.want(&topic, false);
        }
      }
    }
    drop(topics);
    if last {
      self.active.fetch_sub(1, Ordering::AcqRel);
    }
  }

  /// Every topic with subscribers somewhere in the process.
  pub fn topics(&self) -> Vec<Arc<str>> {
    self.topics.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
  }

  /// A publish on `from` (JS thread; `from_active`: `from` has topics of
  /// its own): to every other instance with subscribers to `topic`.
  /// Returns the message as it was posted (framed: `from` sends its own
  /// subscribers the same frame), None if no other instance has any.
  pub fn forward(
    &self,
    from: &Instance,
    from_active: bool,
    topic: &str,
    opcode: u8,
    payload: &[u8],
  ) -> Option<Arc<Published>> {
    if self.active.load(Ordering::Acquire) <= from_active as usize {
      return None;
    }
    self.post(topic, opcode, payload, Some(from.id))
  }

  /// A message from Redis: to every instance with subscribers to `topic`.
  /// Returns how many it was posted to.
  pub fn deliver(&self, topic: &str, opcode: u8, payload: &[u8]) -> usize {
    self.post(topic, opcode, payload, None).map_or(0, |p| Arc::strong_count(&p) - 1)
  }

  /// Frames the message once (if anyone is to get it) and posts it to each
  /// instance with subscribers to `topic` but the one with id `skip`.
  fn post(&self, topic: &str, opcode: u8, payload: &[u8], skip: Option<u32>) -> Option<Arc<Published>> {
    let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
    let (key, members) = topics.get_key_value(topic)?;
    let mut message = None;
    for m in members.iter().filter(|m| Some(m.id) != skip) {
      let p = message.get_or_insert_with(|| Arc::new(Published::new(key.clone(), opcode, payload)));
      m.mailbox.post(p.clone(), m);
    }
    message
  }

  /// The link for `settings`: the one another server of the process opened
  /// for the same URL and prefix, or a new one.
  pub fn link(&self, settings: Settings) -> Result<Arc<Link>, String> {
    let (client, key) = Link::key(&settings)?;
    let mut links = self.links.locked();
    links.retain(|l| l.strong_count() > 0);
    if let Some(l) = links.iter().filter_map(Weak::upgrade).find(|l| l.has_key(&key)) {
      return Ok(l);
    }
    let l = Link::open(settings, client, key);
    links.push(Arc::downgrade(&l));
    Ok(l)
  }

  fn live_links(&self) -> Vec<Arc<Link>> {
    self.links.locked().iter().filter_map(Weak::upgrade).collect()
  }
}

/// What other instances published to an instance's subscribers, waiting for
/// its JS thread.
#[derive(Default)]
pub struct Mailbox {
  mail: Mutex<Vec<Arc<Published>>>,
  /// Something waits: the instance was woken for it.
  full: AtomicBool,
}

impl Mailbox {
  /// Any thread. Wakes the instance for the first message since it last
  /// took its mail.
  fn post(&self, p: Arc<Published>, inst: &Instance) {
    if inst.is_closed() {
      return;
    }
    self.mail.locked().push(p);
    // SeqCst, as the event queue's `scheduled`: either this wake finds the
    // instance not yet scheduled, or the JS thread, having unscheduled it,
    // sees `full`.
    if !self.full.swap(true, Ordering::SeqCst) {
      inst.events.wake();
    }
  }

  /// The instance's JS thread: takes what waits into `into` (no lock when
  /// nothing does).
  pub fn take(&self, into: &mut Vec<Arc<Published>>) {
    // A plain load first: the JS thread checks on every delivery.
    if self.full.load(Ordering::SeqCst) && self.full.swap(false, Ordering::SeqCst) {
      into.append(&mut self.mail.locked());
    }
  }

  /// The instance is torn down.
  pub fn clear(&self) {
    self.full.store(false, Ordering::Release);
    self.mail.locked().clear();
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::frame::OP_TEXT;

  #[test]
  fn a_publish_reaches_every_other_instance_once_framed_once() {
    let h = Hub { origin: [0; 8], topics: RwLock::default(), active: AtomicUsize::new(0), links: Mutex::default() };
    let (a, b, c) = (Instance::detached(), Instance::detached(), Instance::detached());
    let room: Arc<str> = "room".into();
    // An instance alone with its topics: nothing to forward to.
    h.join(&a, &room, true);
    assert!(h.forward(&a, true, "room", OP_TEXT, b"hi").is_none());
    h.join(&b, &room, true);
    h.join(&c, &room, true);
    let sent = h.forward(&a, true, "room", OP_TEXT, b"hi").expect("posted");
    assert_eq!(Arc::strong_count(&sent), 3, "posted to 2 instances, and returned to the publisher");
    drop(sent);
    assert!(h.forward(&a, true, "elsewhere", OP_TEXT, b"hi").is_none());
    let (mut got_b, mut got_c, mut got_a) = (Vec::new(), Vec::new(), Vec::new());
    b.mailbox.take(&mut got_b);
    c.mailbox.take(&mut got_c);
    a.mailbox.take(&mut got_a);
    assert!(got_a.is_empty(), "the publisher's own subscribers got it locally");
    assert_eq!((got_b.len(), got_c.len()), (1, 1));
    assert!(Arc::ptr_eq(&got_b[0], &got_c[0]), "one frame, shared");
    assert_eq!(got_b[0].payload(), b"hi");
    // Taken: nothing waits any more.
    b.mailbox.take(&mut got_b);
    assert_eq!(got_b.len(), 1);
    // From Redis: every instance with subscribers.
    assert_eq!(h.deliver("room", OP_TEXT, b"x"), 3);
    h.leave(&b, "room", true);
    h.leave(&c, "room", true);
    assert_eq!(h.deliver("room", OP_TEXT, b"x"), 1);
    h.leave(&a, "room", true);
    assert!(h.topics().is_empty());
    assert_eq!(h.active.load(Ordering::Relaxed), 0);
  }
}

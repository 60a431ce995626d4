//! One instance of the addon: what a copy of the module loaded in one napi
//! environment owns, reachable from the I/O thread. Every napi environment
//! (the main thread, each worker thread) and every copy of the module in it
//! (jest and vitest load one per test file) gets its own, so events, sends
//! and servers never cross from one to another. The tokio I/O runtime is
//! the only thing shared by the whole process; each task it runs holds the
//! instance its socket belongs to, and routes its events there.
//!
//! The JS-thread half of an instance (its connections by slot, its reactor,
//! its flush list) lives with the napi object (`binding`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::connection::Conn;
use crate::events::EventQueue;
use crate::reactor::Poller;
use crate::server::Server;
use crate::sync::Lock;

/// A connection whose upgrade awaits JS's decision, with the bytes that
/// arrived after the request head.
pub type Pending = (Arc<Conn>, Vec<u8>);

pub struct Instance {
  /// Process-unique (for diagnostics).
  pub id: u32,
  /// Events for this instance's JS thread.
  pub events: EventQueue,
  /// The epoll set its JS thread reads open connections from.
  pub poller: Poller,
  /// Servers by the id JS gave them.
  pub servers: Mutex<HashMap<u32, Arc<Server>>>,
  /// Connections whose upgrade awaits JS's decision, by request id.
  pub pending: Mutex<HashMap<u32, Pending>>,
  /// What other instances and Redis published to its subscribers.
  pub mailbox: crate::pubsub::hub::Mailbox,
  /// Connection tasks alive on the I/O thread.
  tasks: AtomicUsize,
  /// The environment is gone (or going): nothing new may start.
  closed: AtomicBool,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);
/// Instances alive in the process (until the last task holding one ends).
static INSTANCES: AtomicUsize = AtomicUsize::new(0);
/// Connection tasks alive in the process, all instances together.
static TASKS: AtomicUsize = AtomicUsize::new(0);

/// Process-wide counters, for leak checks: (instances alive, connection tasks alive).
pub fn process_counts() -> (usize, usize) {
  (INSTANCES.load(Ordering::Relaxed), TASKS.load(Ordering::Relaxed))
}

impl Instance {
  pub fn new(poller: Poller) -> Arc<Instance> {
    INSTANCES.fetch_add(1, Ordering::Relaxed);
    Arc::new(Instance {
      id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
      events: EventQueue::new(),
      poller,
      servers: Mutex::new(HashMap::new()),
      pending: Mutex::new(HashMap::new()),
      mailbox: Default::default(),
      tasks: AtomicUsize::new(0),
      closed: AtomicBool::new(false),
    })
  }

  /// An instance with no reactor (for tests that need no JS thread).
  pub fn detached() -> Arc<Instance> {
    Instance::new(Poller::none())
  }

  pub fn is_closed(&self) -> bool {
    self.closed.load(Ordering::Acquire)
  }

  /// (connection tasks alive, upgrades awaiting JS's decision)
  pub fn counts(&self) -> (usize, usize) {
    (self.tasks.load(Ordering::Relaxed), self.pending.locked().len())
  }

  /// Counts a connection task for as long as the returned guard lives.
  pub fn task(self: &Arc<Self>) -> LiveTask {
    self.tasks.fetch_add(1, Ordering::Relaxed);
    TASKS.fetch_add(1, Ordering::Relaxed);
    LiveTask(self.clone())
  }

  pub fn server(&self, id: u32) -> Option<Arc<Server>> {
    self.servers.locked().get(&id).cloned()
  }

  /// The environment is going away (JS thread): stops every server and
  /// ends every connection still waiting for JS's decision. What remains
  /// (open connections) is the JS thread's to end; then the reactor stops
  /// and the epoll set closes. Events from now on are dropped.
  pub fn shut_down(&self) -> Option<Box<dyn crate::events::Waker>> {
    self.closed.store(true, Ordering::Release);
    let waker = self.events.close();
    let servers: Vec<Arc<Server>> = self.servers.locked().drain().map(|(_, s)| s).collect();
    for s in servers {
      s.shut_down();
    }
    let pending: Vec<Pending> = self.pending.locked().drain().map(|(_, p)| p).collect();
    for (conn, _) in pending {
      conn.terminate();
    }
    self.mailbox.clear();
    waker
  }
}

impl Drop for Instance {
  fn drop(&mut self) {
    INSTANCES.fetch_sub(1, Ordering::Relaxed);
  }
}

/// Counts a connection task alive (for leak checks), even if one is dropped
/// without finishing.
pub struct LiveTask(Arc<Instance>);

impl Drop for LiveTask {
  fn drop(&mut self) {
    self.0.tasks.fetch_sub(1, Ordering::Relaxed);
    TASKS.fetch_sub(1, Ordering::Relaxed);
  }
}

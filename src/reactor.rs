//! The JS thread's socket reactor: open connections are read on the JS
//! thread, inside its own event loop, like ws and uWebSockets.js do.
//!
//! Each instance (one per napi environment and copy of the module) has one
//! readiness set holding its open connections' sockets (edge-triggered, for
//! reading; the token is the connection's slot). libuv polls that set's fd
//! like any other (`uv_poll_t`), so when a peer sends, the JS thread wakes
//! once, reads every ready socket, parses the frames and hands the events to
//! JS in one call: no other thread is woken and no context switch happens on
//! the way in. Replies go out the same way (`flush`, on the JS thread).
//!
//! The tokio I/O thread keeps what is not per-message: accepting, the HTTP
//! handshake, timers (close timeout, heartbeat) and waiting for a socket that
//! was too full to take a write.
//!
//! The readiness set is mio's `Poll` (epoll on Linux, kqueue on macOS and
//! the BSDs): mio does the portable part, and its fd is what libuv polls.
//! libuv's functions are Node's own, looked up by name at first use (the
//! addon links against no libuv of its own).

use std::cell::RefCell;
use std::ffi::{c_int, c_void, CStr};
use std::io;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use mio::{Events, Poll, Registry};

use crate::sync::ReadWrite;
use crate::sys::{self, Fd};

/// An instance's readiness set, as the connections see it: the JS thread
/// adds and re-arms sockets; any thread may remove one (the I/O thread's
/// teardown of a connection). Closing it waits for calls in progress.
pub struct Poller {
  registry: RwLock<Option<Registry>>,
}

impl Poller {
  /// A new readiness set: its registry, and the `Poll` the reactor waits on.
  pub fn new() -> io::Result<(Poller, Poll)> {
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    Ok((Poller { registry: RwLock::new(Some(registry)) }, poll))
  }

  /// A poller that watches nothing (for tests of the bookkeeping).
  pub fn none() -> Poller {
    Poller { registry: RwLock::new(None) }
  }

  fn with<R>(&self, f: impl FnOnce(&Registry) -> R) -> Option<R> {
    self.registry.read_locked().as_ref().map(f)
  }

  /// Watches `fd` for reading on behalf of connection `slot` (JS thread;
  /// edge-triggered). If it is readable already, that is reported at once.
  pub fn add(&self, fd: Fd, slot: u32) -> bool {
    self.with(|r| sys::watch(r, fd, slot)).unwrap_or(false)
  }

  /// Reports `fd` again if it is still readable: for a socket left with data
  /// after its share of reads (edge-triggered: no new edge would come).
  pub fn rearm(&self, fd: Fd, slot: u32) {
    self.with(|r| sys::rewatch(r, fd, slot));
  }

  /// Stops watching `fd` (any thread; harmless if it is not watched).
  pub fn remove(&self, fd: Fd) {
    self.with(|r| sys::unwatch(r, fd));
  }

  /// Closes the set (at the instance's teardown).
  pub fn close(&self) {
    self.registry.write_locked().take();
  }
}

// ---- libuv, looked up in the running Node -----------------------------------

type UvPollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);

struct Uv {
  handle_size: unsafe extern "C" fn(c_int) -> usize,
  poll_init: unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int,
  poll_start: unsafe extern "C" fn(*mut c_void, c_int, UvPollCb) -> c_int,
  poll_stop: unsafe extern "C" fn(*mut c_void) -> c_int,
  unref: unsafe extern "C" fn(*mut c_void),
  close: unsafe extern "C" fn(*mut c_void, Option<unsafe extern "C" fn(*mut c_void)>),
}

const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

fn uv() -> Option<&'static Uv> {
  static UV: OnceLock<Option<Uv>> = OnceLock::new();
  UV.get_or_init(|| {
    /// A function of libuv's by name. SAFETY: `T` must be its C signature.
    unsafe fn sym<T: Copy>(name: &CStr) -> Option<T> {
      let p = sys::symbol(name);
      // SAFETY: a function pointer has the size of a data pointer here.
      (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
    }
    // SAFETY: the types are the functions' C signatures (uv.h, libuv 1.x).
    unsafe {
      Some(Uv {
        handle_size: sym(c"uv_handle_size")?,
        poll_init: sym(c"uv_poll_init")?,
        poll_start: sym(c"uv_poll_start")?,
        poll_stop: sym(c"uv_poll_stop")?,
        unref: sym(c"uv_unref")?,
        close: sym(c"uv_close")?,
      })
    }
  })
  .as_ref()
}

/// The poll handle's size in u64 words (constant for the running libuv).
fn handle_words(uv: &Uv) -> usize {
  static WORDS: OnceLock<usize> = OnceLock::new();
  // SAFETY: a libuv query with no side effect.
  *WORDS.get_or_init(|| unsafe { (uv.handle_size)(UV_POLL) }.div_ceil(8))
}

/// What to do with ready sockets, and how to hand the events to JS: plain
/// functions over the owner's context pointer.
#[derive(Clone, Copy)]
pub struct Hooks {
  /// The owner (the instance's JS-thread state), valid while the reactor runs.
  pub ctx: *const c_void,
  /// Reads connection `slot`'s socket (it is readable; `hup`: the peer
  /// closed its side or the socket failed, so it must be read to the end).
  pub readable: unsafe fn(ctx: *const c_void, slot: u32, hup: bool),
  /// Runs JS on what was read (after every ready socket is read).
  pub deliver: unsafe fn(ctx: *const c_void),
}

/// What the poll callback finds through the handle's `data` field.
struct Polled {
  poll: RefCell<(Poll, Events)>,
  hooks: Hooks,
}

/// An instance's reactor: its epoll set polled by the JS thread's libuv
/// loop. Stop it (`stop`) before the owner of its hooks goes away.
pub struct Reactor {
  handle: *mut c_void,
  polled: Box<Polled>,
}

impl Reactor {
  /// Starts polling `poll` on the JS thread whose libuv loop is `uv_loop`.
  /// None if libuv cannot be found or the handle cannot start.
  ///
  /// # Safety
  /// `uv_loop` must be the calling thread's live libuv loop, and `hooks.ctx`
  /// valid until `stop`.
  pub unsafe fn start(uv_loop: *mut c_void, poll: Poll, hooks: Hooks) -> Option<Reactor> {
    let uv = uv()?;
    let fd = sys::poll_fd(&poll)?;
    let polled = Box::new(Polled { poll: RefCell::new((poll, Events::with_capacity(512))), hooks });
    // The handle is freed by `uv_close`'s callback (see `stop`).
    // SAFETY: libuv calls with a handle of the size libuv asks for; its
    // first field is `void* data` (uv.h's UV_HANDLE_FIELDS).
    unsafe {
      let handle = Box::into_raw(vec![0u64; handle_words(uv)].into_boxed_slice()) as *mut c_void;
      if (uv.poll_init)(uv_loop, handle, fd) != 0 {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(handle as *mut u64, handle_words(uv))));
        return None;
      }
      *(handle as *mut *const Polled) = &*polled;
      if (uv.poll_start)(handle, UV_READABLE, on_poll) != 0 {
        (uv.close)(handle, Some(freed));
        return None;
      }
      // Sockets keep the loop alive through the instance's own reference,
      // as ws's do; this handle alone must not.
      (uv.unref)(handle);
      Some(Reactor { handle, polled })
    }
  }

  /// Stops polling and closes the handle (the instance is being torn down:
  /// its loop must be left with no handle of ours).
  pub fn stop(self) {
    if let Some(uv) = uv() {
      // SAFETY: the handle was started by `start` on this thread; the poll
      // callback cannot run after `uv_poll_stop`, so `polled` may go.
      unsafe {
        (uv.poll_stop)(self.handle);
        (uv.close)(self.handle, Some(freed));
      }
    }
    drop(self.polled);
  }
}

unsafe extern "C" fn freed(handle: *mut c_void) {
  let Some(uv) = uv() else { return };
  // SAFETY: the box leaked in `start`, with that many words.
  drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(handle as *mut u64, handle_words(uv))) });
}

unsafe extern "C" fn on_poll(handle: *mut c_void, _status: c_int, _events: c_int) {
  // SAFETY: `data` was set to the live `Polled` in `start`.
  let polled = unsafe { &**(handle as *const *const Polled) };
  let hooks = polled.hooks;
  let mut any = false;
  {
    let Ok(mut guard) = polled.poll.try_borrow_mut() else {
      return;
    };
    let (poll, events) = &mut *guard;
    if poll.poll(events, Some(Duration::ZERO)).is_err() {
      return; // EINTR: libuv calls again
    }
    for ev in events.iter() {
      let hup = ev.is_read_closed() || ev.is_error();
      // A panic must not unwind into libuv (that would abort Node): it is
      // a bug, reported, and this socket is skipped.
      let slot = ev.token().0 as u32;
      // SAFETY: `ctx` is valid while the reactor runs.
      if std::panic::catch_unwind(|| unsafe { (hooks.readable)(hooks.ctx, slot, hup) }).is_err() {
        eprintln!("wsrs: internal error while reading connection {slot}");
      }
      any = true;
    }
  }
  if any {
    // SAFETY: as above.
    let _ = std::panic::catch_unwind(|| unsafe { (hooks.deliver)(hooks.ctx) });
  }
}

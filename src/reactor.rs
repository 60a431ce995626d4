//! The JS thread's socket reactor: open connections are read on the JS
//! thread, inside its own event loop, like ws and uWebSockets.js do.
//!
//! Each instance (one per napi environment and copy of the module) has one
//! epoll set holding its open connections' sockets (edge-triggered, for
//! reading; the key is the connection's slot). libuv polls that epoll fd
//! like any other (`uv_poll_t`), so when a peer sends, the JS thread wakes
//! once, reads every ready socket, parses the frames and hands the events to
//! JS in one call: no other thread is woken and no context switch happens on
//! the way in. Replies go out the same way (`flush`, on the JS thread).
//!
//! The tokio I/O thread keeps what is not per-message: accepting, the HTTP
//! handshake, timers (close timeout, heartbeat) and waiting for a socket that
//! was too full to take a write.
//!
//! libuv's functions are Node's own, looked up by name at first use (the
//! addon links against no libuv of its own).

use std::cell::RefCell;
use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{OnceLock, RwLock};

const INTEREST: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// An instance's epoll set. The JS thread adds and re-arms sockets; any
/// thread may remove one (the I/O thread's teardown of a connection), so
/// closing the set waits for removals in progress: a closed fd number must
/// never be reused behind a removal's back.
pub struct Poller {
  fd: AtomicI32,
  closing: RwLock<()>,
}

impl Poller {
  /// A new epoll set (CLOEXEC).
  pub fn new() -> std::io::Result<Poller> {
    // SAFETY: creating an epoll fd.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
      return Err(std::io::Error::last_os_error());
    }
    Ok(Poller { fd: AtomicI32::new(fd), closing: RwLock::new(()) })
  }

  /// A poller that watches nothing (for tests of the bookkeeping).
  pub fn none() -> Poller {
    Poller { fd: AtomicI32::new(-1), closing: RwLock::new(()) }
  }

  fn raw(&self) -> i32 {
    self.fd.load(Ordering::Acquire)
  }

  /// Watches `fd` for reading on behalf of connection `slot` (JS thread). If
  /// it is readable already, that is reported at once.
  pub fn add(&self, fd: i32, slot: u32) -> bool {
    self.ctl(libc::EPOLL_CTL_ADD, fd, slot) || std::io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST)
  }

  /// Reports `fd` again if it is still readable: for a socket left with data
  /// after its share of reads (edge-triggered: no new edge would come).
  pub fn rearm(&self, fd: i32, slot: u32) {
    self.ctl(libc::EPOLL_CTL_MOD, fd, slot);
  }

  fn ctl(&self, op: c_int, fd: i32, slot: u32) -> bool {
    let epfd = self.raw();
    if epfd < 0 {
      return false;
    }
    let mut ev = libc::epoll_event { events: INTEREST, u64: slot as u64 };
    // SAFETY: plain syscall on fds we own; `ev` outlives the call.
    unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) == 0 }
  }

  /// Stops watching `fd` (any thread; harmless if it is not watched).
  pub fn remove(&self, fd: i32) {
    let _open = self.closing.read().unwrap_or_else(|e| e.into_inner());
    let epfd = self.raw();
    if epfd >= 0 {
      let mut ev = libc::epoll_event { events: 0, u64: 0 };
      // SAFETY: as in `ctl`.
      unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }
  }

  /// Closes the set (at the instance's teardown).
  pub fn close(&self) {
    let _no_removal = self.closing.write().unwrap_or_else(|e| e.into_inner());
    let epfd = self.fd.swap(-1, Ordering::AcqRel);
    if epfd >= 0 {
      // SAFETY: our epoll fd, no longer polled.
      unsafe { libc::close(epfd) };
    }
  }
}

impl Drop for Poller {
  fn drop(&mut self) {
    self.close();
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
      // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
      // process (Node exports libuv for addons).
      let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
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
  epfd: i32,
  hooks: Hooks,
  events: RefCell<Vec<libc::epoll_event>>,
}

/// An instance's reactor: its epoll set polled by the JS thread's libuv
/// loop. Stop it (`stop`) before the owner of its hooks goes away.
pub struct Reactor {
  handle: *mut c_void,
  polled: Box<Polled>,
}

impl Reactor {
  /// Starts polling `poller` on the JS thread whose libuv loop is
  /// `uv_loop`. None if libuv cannot be found or the handle cannot start.
  ///
  /// # Safety
  /// `uv_loop` must be the calling thread's live libuv loop, and `hooks.ctx`
  /// valid until `stop`.
  pub unsafe fn start(uv_loop: *mut c_void, poller: &Poller, hooks: Hooks) -> Option<Reactor> {
    let uv = uv()?;
    let epfd = poller.raw();
    if epfd < 0 {
      return None;
    }
    let polled =
      Box::new(Polled { epfd, hooks, events: RefCell::new(vec![libc::epoll_event { events: 0, u64: 0 }; 512]) });
    // The handle is freed by `uv_close`'s callback (see `stop`).
    // SAFETY: libuv calls with a handle of the size libuv asks for; its
    // first field is `void* data` (uv.h's UV_HANDLE_FIELDS).
    unsafe {
      let handle = Box::into_raw(vec![0u64; handle_words(uv)].into_boxed_slice()) as *mut c_void;
      if (uv.poll_init)(uv_loop, handle, epfd) != 0 {
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
    let Ok(mut evs) = polled.events.try_borrow_mut() else {
      return;
    };
    // SAFETY: `evs` has room for `len` events.
    let n = unsafe { libc::epoll_wait(polled.epfd, evs.as_mut_ptr(), evs.len() as c_int, 0) };
    for ev in evs.iter().take(n.max(0) as usize) {
      let hup = ev.events & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
      // A panic must not unwind into libuv (that would abort Node): it is
      // a bug, reported, and this socket is skipped.
      let slot = ev.u64 as u32;
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

//! The JS thread's socket reactor: open connections are read on the JS
//! thread, inside its own event loop, like ws and uWebSockets.js do.
//!
//! One epoll set holds every open connection's socket (edge-triggered, for
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

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

/// The epoll set's fd (-1 until started). Any thread may remove a socket.
static EPFD: AtomicI32 = AtomicI32::new(-1);

/// Whether the reactor runs (`start` succeeded).
pub fn running() -> bool {
  EPFD.load(Ordering::Acquire) >= 0
}

const INTEREST: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// Watches `fd` for reading on behalf of connection `slot` (JS thread). If
/// it is readable already, that is reported at once.
pub fn add(fd: i32, slot: u32) -> bool {
  ctl(libc::EPOLL_CTL_ADD, fd, slot) || std::io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST)
}

/// Reports `fd` again if it is still readable: for a socket left with data
/// after its share of reads (edge-triggered: no new edge would come).
pub fn rearm(fd: i32, slot: u32) {
  ctl(libc::EPOLL_CTL_MOD, fd, slot);
}

fn ctl(op: c_int, fd: i32, slot: u32) -> bool {
  let epfd = EPFD.load(Ordering::Acquire);
  if epfd < 0 {
    return false;
  }
  let mut ev = libc::epoll_event { events: INTEREST, u64: slot as u64 };
  // SAFETY: plain syscall on fds we own; `ev` outlives the call.
  unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) == 0 }
}

/// Stops watching `fd` (any thread; harmless if it is not watched).
pub fn remove(fd: i32) {
  let epfd = EPFD.load(Ordering::Acquire);
  if epfd >= 0 {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: as in `add`.
    unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
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

thread_local! {
  /// What to do with ready sockets, and how to hand the events to JS.
  static HOOKS: Cell<Option<Hooks>> = const { Cell::new(None) };
  static HANDLE: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
  /// The handle's size in u64 words (to free it).
  static HANDLE_WORDS: Cell<usize> = const { Cell::new(0) };
  static EVENTS: RefCell<Vec<libc::epoll_event>> = RefCell::new(vec![libc::epoll_event { events: 0, u64: 0 }; 512]);
}

#[derive(Clone, Copy)]
pub struct Hooks {
  /// Reads connection `slot`'s socket (it is readable; `hup`: the peer
  /// closed its side or the socket failed, so it must be read to the end).
  pub readable: fn(slot: u32, hup: bool),
  /// Runs JS on what was read (after every ready socket is read).
  pub deliver: fn(),
}

/// Starts the reactor on the JS thread whose libuv loop is `uv_loop`. False
/// if libuv cannot be found or the poll handle cannot be started.
///
/// # Safety
/// `uv_loop` must be the calling thread's live libuv loop.
pub unsafe fn start(uv_loop: *mut c_void, hooks: Hooks) -> bool {
  if running() {
    return true;
  }
  let Some(uv) = uv() else { return false };
  // SAFETY: creating an epoll fd.
  let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
  if epfd < 0 {
    return false;
  }
  // The handle is freed by `uv_close`'s callback (see `stop`).
  // SAFETY: libuv calls with a handle of the size libuv asks for.
  unsafe {
    let size = (uv.handle_size)(UV_POLL);
    HANDLE_WORDS.with(|w| w.set(size.div_ceil(8)));
    let handle = Box::into_raw(vec![0u64; size.div_ceil(8)].into_boxed_slice()) as *mut c_void;
    if (uv.poll_init)(uv_loop, handle, epfd) != 0 || (uv.poll_start)(handle, UV_READABLE, on_poll) != 0 {
      libc::close(epfd);
      return false;
    }
    // Sockets keep the loop alive through the bridge's own reference, as
    // ws's do; this handle alone must not.
    (uv.unref)(handle);
    HANDLE.with(|h| h.set(handle));
  }
  HOOKS.with(|h| h.set(Some(hooks)));
  EPFD.store(epfd, Ordering::Release);
  true
}

/// Stops polling and closes the handle and the epoll set (the environment
/// is being torn down: its loop must be left with no handle of ours).
pub fn stop() {
  let handle = HANDLE.with(|h| h.replace(std::ptr::null_mut()));
  if let (false, Some(uv)) = (handle.is_null(), uv()) {
    // SAFETY: the handle was started by `start` on this thread; libuv frees
    // nothing itself, `freed` does once it is closed.
    unsafe {
      (uv.poll_stop)(handle);
      (uv.close)(handle, Some(freed));
    }
  }
  HOOKS.with(|h| h.set(None));
  let epfd = EPFD.swap(-1, Ordering::AcqRel);
  if epfd >= 0 {
    // SAFETY: our epoll fd, no longer polled.
    unsafe { libc::close(epfd) };
  }
}

unsafe extern "C" fn freed(handle: *mut c_void) {
  let words = HANDLE_WORDS.with(|w| w.get());
  // SAFETY: the box leaked in `start`, with that many words.
  drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(handle as *mut u64, words)) });
}

unsafe extern "C" fn on_poll(_handle: *mut c_void, _status: c_int, _events: c_int) {
  let Some(hooks) = HOOKS.with(|h| h.get()) else { return };
  let epfd = EPFD.load(Ordering::Acquire);
  let mut any = false;
  EVENTS.with(|evs| {
    let mut evs = evs.borrow_mut();
    // SAFETY: `evs` has room for `len` events.
    let n = unsafe { libc::epoll_wait(epfd, evs.as_mut_ptr(), evs.len() as c_int, 0) };
    for ev in evs.iter().take(n.max(0) as usize) {
      let hup = ev.events & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
      // A panic must not unwind into libuv (that would abort Node): it is
      // a bug, reported, and this socket is skipped.
      let slot = ev.u64 as u32;
      if std::panic::catch_unwind(|| (hooks.readable)(slot, hup)).is_err() {
        eprintln!("wsrs: internal error while reading connection {slot}");
      }
      any = true;
    }
  });
  if any {
    (hooks.deliver)();
  }
}

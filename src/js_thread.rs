//! The JS-thread half of an instance: its connections by slot (`Registry`),
//! its reactor, how it calls JS (directly from the reactor, or through its
//! threadsafe function when the I/O thread has events), whether it keeps the
//! event loop alive, and its teardown with its environment.
//!
//! Lifetimes. JS holds the `Native` object (`binding`), which holds this
//! state; so does the environment's cleanup hook, until it runs or the
//! object is collected, whichever comes first. Either one tears the instance
//! down: servers stop, connections get a 1001 close frame and end, the
//! reactor and the threadsafe function are released. JS's callback is held
//! weakly while nothing is open, so a copy of the module that nobody uses
//! any more (a finished jest test file) can be collected, as ws's can.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use napi::sys;

use crate::events::{Batch, Waker};
use crate::instance::Instance;
use crate::reactor::{Hooks, Poller, Reactor};
use crate::registry::Registry;

pub struct JsThread {
  /// Its index among the copies of its environment (`copy`).
  pub id: u32,
  pub inst: Arc<Instance>,
  env: sys::napi_env,
  pub registry: RefCell<Registry>,
  /// The I/O thread's batch is swapped into this one, then appended to the
  /// JS thread's own (`Registry::events`).
  spare: RefCell<Batch>,
  /// Large message buffers of the drained batch, in event order.
  pub owned: RefCell<VecDeque<Vec<u8>>>,
  /// What the mailbox held (kept for its capacity).
  mail: RefCell<Vec<Arc<crate::pubsub::Published>>>,
  /// The Redis links of this instance's servers, by server id.
  pub links: RefCell<std::collections::HashMap<u32, crate::pubsub::link::Attachment>>,
  /// JS's `onWake` (weak while nothing is open: see `set_ref`).
  func: sys::napi_ref,
  resource: sys::napi_ref,
  context: sys::napi_async_context,
  tsfn: Cell<sys::napi_threadsafe_function>,
  reactor: RefCell<Option<Reactor>>,
  refd: Cell<bool>,
  torn_down: Cell<bool>,
  /// The cleanup hook's argument (a strong reference), null once it ran.
  hook: Cell<*const JsThread>,
}

fn ok(s: sys::napi_status) -> bool {
  s == sys::Status::napi_ok
}

/// The threadsafe function, as the event queue's waker (any thread).
struct TsfnWaker(sys::napi_threadsafe_function);

// SAFETY: a threadsafe function may be called from any thread; the event
// queue drops this waker before the function is released (`EventQueue::close`).
unsafe impl Send for TsfnWaker {}
// SAFETY: as for Send: calling it concurrently is what it is made for.
unsafe impl Sync for TsfnWaker {}

impl Waker for TsfnWaker {
  fn wake(&self) {
    // SAFETY: see above.
    unsafe {
      sys::napi_call_threadsafe_function(self.0, ptr::null_mut(), sys::ThreadsafeFunctionCallMode::nonblocking)
    };
  }
}

impl JsThread {
  /// A new instance for the environment `env`, calling `on_wake` whenever
  /// events wait. Starts its reactor on the environment's libuv loop.
  ///
  /// # Safety
  /// On the JS thread of `env`, with `on_wake` a function value of it.
  pub unsafe fn start(env: sys::napi_env, on_wake: sys::napi_value) -> Result<Rc<JsThread>, String> {
    let fail = |what: &str| format!("wsrs: cannot start an instance on this thread ({what})");
    let (poller, poll) = Poller::new().map_err(|e| fail(&format!("poller: {e}")))?;
    let inst = Instance::new(poller);
    // SAFETY: napi calls on the JS thread with its env.
    unsafe {
      let mut loop_ = ptr::null_mut();
      let (mut func, mut resource, mut resource_ref, mut name, mut context) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
      // The async context holds its resource weakly: keep it alive.
      let made = ok(sys::napi_get_uv_event_loop(env, &mut loop_))
        && ok(sys::napi_create_reference(env, on_wake, 0, &mut func))
        && ok(sys::napi_create_object(env, &mut resource))
        && ok(sys::napi_create_reference(env, resource, 1, &mut resource_ref))
        && ok(sys::napi_create_string_utf8(env, c"wsrs".as_ptr(), 4, &mut name))
        && ok(sys::napi_async_init(env, resource, name, &mut context));
      if !made {
        return Err(fail("napi"));
      }
      let js = Rc::new(JsThread {
        id: next_id(env)?,
        inst: inst.clone(),
        env,
        registry: RefCell::new(Registry::of(&inst)),
        spare: RefCell::new(Batch::default()),
        owned: RefCell::new(VecDeque::new()),
        mail: RefCell::new(Vec::new()),
        links: RefCell::new(std::collections::HashMap::new()),
        func,
        resource: resource_ref,
        context,
        tsfn: Cell::new(ptr::null_mut()),
        reactor: RefCell::new(None),
        refd: Cell::new(false),
        torn_down: Cell::new(false),
        hook: Cell::new(ptr::null()),
      });
      // The threadsafe function has no JS function of its own (that would
      // hold JS's callback strongly): it calls `deliver` on this instance.
      let weak = Weak::into_raw(Rc::downgrade(&js)) as *mut c_void;
      let mut tsfn = ptr::null_mut();
      if !ok(sys::napi_create_threadsafe_function(
        env,
        ptr::null_mut(),
        ptr::null_mut(),
        name,
        0,
        1,
        weak,
        Some(tsfn_finalize),
        weak,
        Some(tsfn_call),
        &mut tsfn,
      )) {
        drop(Weak::from_raw(weak as *const JsThread));
        js.teardown();
        return Err(fail("threadsafe function"));
      }
      // Starts unreferenced: only open servers and sockets keep the loop alive.
      sys::napi_unref_threadsafe_function(env, tsfn);
      js.tsfn.set(tsfn);
      js.inst.events.set_waker(Box::new(TsfnWaker(tsfn)));
      let hooks = Hooks { ctx: Rc::as_ptr(&js).cast(), readable, deliver: deliver_from_reactor };
      match Reactor::start(loop_.cast(), poll, hooks) {
        Some(r) => *js.reactor.borrow_mut() = Some(r),
        // Where Node keeps the sockets, nothing needs one.
        None if !crate::sys::NATIVE_SOCKETS => {}
        None => {
          js.teardown();
          return Err(fail("the socket reactor"));
        }
      }
      // Registered after the threadsafe function, so it runs before Node's
      // own clean-up of that function (hooks run in reverse order).
      let hook = Rc::into_raw(js.clone());
      js.hook.set(hook);
      sys::napi_add_env_cleanup_hook(env, Some(env_cleanup), hook as *mut c_void);
      (*copies(env).expect("registered by next_id")).0.borrow_mut()[js.id as usize] = Some(js.clone());
      Ok(js)
    }
  }

  pub fn is_torn_down(&self) -> bool {
    self.torn_down.get()
  }

  /// Keeps the event loop alive (true) while any server listens or socket
  /// is open, exactly like ws's sockets do; false lets the process exit,
  /// and lets JS collect this copy of the module once nobody uses it.
  pub fn set_ref(&self, on: bool) {
    if self.torn_down.get() || self.refd.get() == on {
      return;
    }
    self.refd.set(on);
    let mut n = 0;
    // SAFETY: napi calls on the JS thread; the function is live (not torn down).
    unsafe {
      if on {
        sys::napi_ref_threadsafe_function(self.env, self.tsfn.get());
        sys::napi_reference_ref(self.env, self.func, &mut n);
      } else {
        sys::napi_unref_threadsafe_function(self.env, self.tsfn.get());
        sys::napi_reference_unref(self.env, self.func, &mut n);
      }
    }
  }

  /// Calls JS's `onWake(batch)` (outside any JS frame) as a top-level
  /// callback, once per batch, until no events wait: microtasks and
  /// `process.nextTick` run after each call, and an exception it throws
  /// becomes an 'uncaughtException', as with any I/O callback in Node (JS
  /// then resumes the rest of its batch itself, and drains what is left).
  fn deliver(&self) {
    if self.torn_down.get() {
      return;
    }
    let env = self.env;
    // SAFETY: napi calls on the JS thread, inside a handle scope opened here.
    unsafe {
      let mut scope = ptr::null_mut();
      if !ok(sys::napi_open_handle_scope(env, &mut scope)) {
        return;
      }
      let (mut func, mut recv, mut result) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
      if ok(sys::napi_get_reference_value(env, self.func, &mut func))
        && !func.is_null()
        && ok(sys::napi_get_global(env, &mut recv))
      {
        // A bound, so that events read while JS runs cannot starve the
        // event loop: what is left is delivered on a later turn.
        for round in 0.. {
          if self.torn_down.get() {
            break;
          }
          if round == 8 {
            self.inst.events.wake();
            break;
          }
          let Some(batch) = self.next_batch(env) else { break };
          sys::napi_make_callback(env, self.context, recv, func, 1, &batch, &mut result);
          let mut pending = false;
          if ok(sys::napi_is_exception_pending(env, &mut pending)) && pending {
            let mut err = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut err);
            sys::napi_fatal_exception(env, err);
            break;
          }
        }
      }
      sys::napi_close_handle_scope(env, scope);
    }
    // Any flush JS scheduled has run (ticks run as the callback returns).
    if let Ok(mut r) = self.registry.try_borrow_mut() {
      r.flush_list().end_read_turn();
    }
  }

  /// The next batch of events as a JS Buffer (layout in `events.rs`): this
  /// thread's, then the I/O thread's; None when none wait. Large messages
  /// of the batch wait in `owned` for JS to take (`takeOwned`).
  ///
  /// # Safety
  /// On the JS thread of `env`, inside a handle scope.
  pub unsafe fn next_batch(&self, env: sys::napi_env) -> Option<sys::napi_value> {
    let mut reg = self.registry.try_borrow_mut().ok()?;
    if self.inst.events.pending() {
      let mut spare = self.spare.borrow_mut();
      self.inst.events.take(&mut spare);
      reg.events.append(&mut spare);
    }
    // After the take: mail posted from now on wakes the thread again.
    let mut mail = self.mail.borrow_mut();
    self.inst.mailbox.take(&mut mail);
    if !mail.is_empty() {
      reg.deliver_mail(&mut mail);
    }
    let b = &mut reg.events;
    if b.is_empty() {
      return None;
    }
    self.owned.borrow_mut().extend(b.owned.drain(..));
    b.seal();
    let env = napi::Env::from_raw(env);
    let value = if b.data.len() >= crate::pool::MIN {
      // Handed over as it is (no copy); its memory returns to the pool.
      // The next one is taken about as large, so that it rarely grows.
      let next = crate::pool::take(b.data.len());
      let data = std::mem::replace(&mut b.data, next);
      b.meta.clear();
      crate::js_buffers::owned(&env, data)
    } else {
      // Small: copied, and the memory kept for the next batch.
      let v = crate::js_buffers::copy(&env, &b.data);
      b.clear();
      v
    };
    value.ok().map(|v| v.raw())
  }

  /// Releases everything the instance owns (JS thread; once), the napi
  /// handles included: in the environment's cleanup too, where deleting
  /// references and the async context calls no JS,
  /// and where Node would otherwise keep them until its own teardown of
  /// the environment, which the main thread's exit never reaches
  /// (LeakSanitizer, `npm run test:asan`).
  fn teardown(&self) {
    if self.torn_down.replace(true) {
      return;
    }
    // Stop the I/O thread's side first: no new events, no new connections.
    drop(self.inst.shut_down());
    let tsfn = self.tsfn.replace(ptr::null_mut());
    // SAFETY: JS thread; the event queue no longer calls it.
    unsafe {
      if !tsfn.is_null() {
        sys::napi_release_threadsafe_function(tsfn, sys::ThreadsafeFunctionReleaseMode::abort);
      }
    }
    if let Ok(mut r) = self.registry.try_borrow_mut() {
      r.going_away();
    }
    self.links.borrow_mut().clear();
    self.mail.borrow_mut().clear();
    if let Some(r) = self.reactor.borrow_mut().take() {
      r.stop();
    }
    self.inst.poller.close();
    for buf in self.owned.borrow_mut().drain(..) {
      crate::pool::give(buf);
    }
    // SAFETY: JS thread; the environment is alive, or in its cleanup hooks,
    // which run before Node frees its references (ours was added later, so
    // it runs earlier); each handle is released once (`torn_down`).
    unsafe {
      sys::napi_async_destroy(self.env, self.context);
      sys::napi_delete_reference(self.env, self.func);
      sys::napi_delete_reference(self.env, self.resource);
    }
  }

  /// Takes this copy out of its environment's copies (JS thread: from a
  /// finalizer or the cleanup hook, both before the instance data goes).
  fn forget(&self) {
    // SAFETY: on the JS thread of `env`, whose instance data is live.
    if let Some(c) = unsafe { copies(self.env) } {
      // SAFETY: the instance data outlives every copy (freed with the env).
      if let Some(e) = unsafe { &*c }.0.borrow_mut().get_mut(self.id as usize) {
        *e = None;
      }
    }
  }

  /// JS dropped the instance (the `Native` object was collected).
  pub fn dropped(self: &Rc<Self>) {
    self.forget();
    let hook = self.hook.replace(ptr::null());
    if !hook.is_null() {
      // SAFETY: the hook was added with this argument and has not run.
      unsafe {
        sys::napi_remove_env_cleanup_hook(self.env, Some(env_cleanup), hook as *mut c_void);
        drop(Rc::from_raw(hook));
      }
    }
    self.teardown();
  }
}

/// An environment's copies of the module, by id: its napi instance data.
/// The functions JS calls take a copy's id and find it here (a napi class
/// method would cost a reference and a borrow check per call).
pub struct Copies(RefCell<Vec<Option<Rc<JsThread>>>>);

/// This environment's copies (None before the first one starts).
///
/// # Safety
/// On the JS thread of `env`.
unsafe fn copies(env: sys::napi_env) -> Option<*const Copies> {
  let mut data = ptr::null_mut();
  // SAFETY: as the caller promises.
  let ok = unsafe { sys::napi_get_instance_data(env, &mut data) } == sys::Status::napi_ok;
  (ok && !data.is_null()).then_some(data as *const Copies)
}

/// Reserves the next id among this environment's copies.
unsafe fn next_id(env: sys::napi_env) -> Result<u32, String> {
  // SAFETY: as the caller promises.
  let c = match unsafe { copies(env) } {
    Some(c) => c,
    None => {
      let boxed = Box::into_raw(Box::new(Copies(RefCell::new(Vec::new()))));
      // SAFETY: the box is freed by `free_copies` with the environment.
      if unsafe { sys::napi_set_instance_data(env, boxed.cast(), Some(free_copies), ptr::null_mut()) }
        != sys::Status::napi_ok
      {
        // SAFETY: not handed to napi after all: still ours to free.
        drop(unsafe { Box::from_raw(boxed) });
        return Err("wsrs: cannot set this environment's instance data".into());
      }
      boxed
    }
  };
  // SAFETY: the environment's live instance data.
  let mut v = unsafe { &*c }.0.borrow_mut();
  v.push(None);
  Ok((v.len() - 1) as u32)
}

unsafe extern "C" fn free_copies(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  // SAFETY: the box leaked in `next_id`, finalised once (after the
  // cleanup hooks: every copy is torn down by then).
  drop(unsafe { Box::from_raw(data as *mut Copies) });
}

/// Copy `id` of this environment.
///
/// # Safety
/// On the JS thread of `env`.
pub unsafe fn copy(env: sys::napi_env, id: u32) -> Option<Rc<JsThread>> {
  // SAFETY: as the caller promises; the environment's live instance data.
  let c = unsafe { &*copies(env)? };
  c.0.borrow().get(id as usize).and_then(|e| e.clone())
}

/// The environment is exiting (worker terminated, `process.exit()`, main
/// thread done): tear the instance down. No JS runs any more.
unsafe extern "C" fn env_cleanup(arg: *mut c_void) {
  // SAFETY: the strong reference leaked in `start`.
  let js = unsafe { Rc::from_raw(arg as *const JsThread) };
  js.hook.set(ptr::null());
  js.teardown();
  js.forget();
}

unsafe fn readable(ctx: *const c_void, slot: u32, hup: bool) {
  // SAFETY: the reactor's context is the live JsThread (stopped before it goes).
  let js = unsafe { &*(ctx as *const JsThread) };
  if let Ok(mut r) = js.registry.try_borrow_mut() {
    r.on_readable(slot, hup);
  }
}

unsafe fn deliver_from_reactor(ctx: *const c_void) {
  // SAFETY: as in `readable`.
  unsafe { &*(ctx as *const JsThread) }.deliver();
}

unsafe extern "C" fn tsfn_call(env: sys::napi_env, _js_cb: sys::napi_value, ctx: *mut c_void, _data: *mut c_void) {
  if env.is_null() {
    return; // being torn down
  }
  // SAFETY: `ctx` is the Weak leaked in `start`, freed only by `tsfn_finalize`.
  let weak = std::mem::ManuallyDrop::new(unsafe { Weak::from_raw(ctx as *const JsThread) });
  if let Some(js) = weak.upgrade() {
    js.deliver();
  }
}

unsafe extern "C" fn tsfn_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  // SAFETY: the Weak leaked in `start`, finalised once.
  drop(unsafe { Weak::from_raw(data as *const JsThread) });
}

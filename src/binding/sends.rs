//! The sends, JS's hottest calls into Rust (one per message), as plain napi
//! callbacks. napi-rs's generated callbacks keep a borrow scope per call (an
//! `Arc` and a thread-local push: an allocation per message), and its
//! `String` argument is a fresh allocation too; these read their arguments
//! with napi directly, a string into this thread's one buffer. Same names,
//! arguments and results as the rest of the binding (`sendBuffer(id, slot,
//! data, opcode, fin)`: the `Sent` code).

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use super::send_bytes;

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// `{ sendBuffer, sendCompressed, sendString }`: lib/native.js binds them
/// to its instance like the other functions of the binding.
#[napi_derive::napi(
  ts_return_type = "{ sendBuffer: (id: number, slot: number, data: Uint8Array, opcode: number, fin: boolean) => number, sendCompressed: (id: number, slot: number, data: Uint8Array, opcode: number, fin: boolean) => number, sendString: (id: number, slot: number, data: string, opcode: number, fin: boolean) => number }"
)]
pub fn sends(env: Env) -> Result<crate::js_buffers::RawValue> {
  let sends: [(&CStr, Callback); 3] =
    [(c"sendBuffer", send_buffer), (c"sendCompressed", send_compressed), (c"sendString", send_string)];
  let mut obj = ptr::null_mut();
  // SAFETY: a napi call on the JS thread of `env`.
  if unsafe { sys::napi_create_object(env.raw(), &mut obj) } != sys::Status::napi_ok {
    return Err(Error::from_reason("wsrs: cannot make the send functions"));
  }
  for (name, cb) in sends {
    let mut f = ptr::null_mut();
    // SAFETY: napi calls on the JS thread of `env`, with a NUL-terminated
    // name and a callback of napi's signature.
    let ok = unsafe {
      sys::napi_create_function(env.raw(), name.as_ptr(), -1, Some(cb), ptr::null_mut(), &mut f) == sys::Status::napi_ok
        && sys::napi_set_named_property(env.raw(), obj, name.as_ptr(), f) == sys::Status::napi_ok
    };
    if !ok {
      return Err(Error::from_reason(format!("wsrs: cannot make {}", name.to_string_lossy())));
    }
  }
  Ok(crate::js_buffers::RawValue::from_raw(obj))
}

thread_local! {
  /// The UTF-8 of the string being sent (the thread's one buffer).
  static UTF8: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

enum Payload {
  Bytes { compress: bool },
  Text,
}

unsafe extern "C" fn send_buffer(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: napi calls this on the JS thread with its callback info.
  unsafe { send(env, info, Payload::Bytes { compress: false }) }
}

unsafe extern "C" fn send_compressed(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: as above.
  unsafe { send(env, info, Payload::Bytes { compress: true }) }
}

unsafe extern "C" fn send_string(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: as above.
  unsafe { send(env, info, Payload::Text) }
}

/// # Safety
/// On the JS thread of `env`, inside the callback `info` describes.
unsafe fn send(env: sys::napi_env, info: sys::napi_callback_info, payload: Payload) -> sys::napi_value {
  // A panic (a bug) must not unwind into V8: it becomes a JS Error, as with
  // napi-rs's `catch_unwind`.
  let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    // SAFETY: as the caller promises.
    unsafe { send_inner(env, info, payload) }
  }));
  let r = r.unwrap_or_else(|_| Err(Error::from_reason("wsrs: internal error in send")));
  let mut value = ptr::null_mut();
  // SAFETY: napi calls on the JS thread; the message is NUL-terminated.
  unsafe {
    match r {
      Ok(code) => {
        sys::napi_create_uint32(env, code, &mut value);
      }
      Err(e) => {
        let msg = std::ffi::CString::new(e.reason.replace('\0', " ")).unwrap_or_default();
        if e.status == Status::InvalidArg {
          sys::napi_throw_type_error(env, ptr::null(), msg.as_ptr());
        } else {
          sys::napi_throw_error(env, ptr::null(), msg.as_ptr());
        }
      }
    }
  }
  value
}

/// # Safety
/// As `send`.
unsafe fn send_inner(env: sys::napi_env, info: sys::napi_callback_info, payload: Payload) -> Result<u32> {
  let bad = |what: &str| Error::new(Status::InvalidArg, format!("wsrs: send: {what}"));
  let mut argc = 5usize;
  let mut argv = [ptr::null_mut(); 5];
  let (mut id, mut slot, mut opcode, mut fin) = (0u32, 0u32, 0u32, false);
  // SAFETY: napi calls on the JS thread; out-pointers to locals (argv has room for argc values).
  let ok = unsafe {
    sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
      == sys::Status::napi_ok
      && argc >= 5
      && sys::napi_get_value_uint32(env, argv[0], &mut id) == sys::Status::napi_ok
      && sys::napi_get_value_uint32(env, argv[1], &mut slot) == sys::Status::napi_ok
      && sys::napi_get_value_uint32(env, argv[3], &mut opcode) == sys::Status::napi_ok
      && sys::napi_get_value_bool(env, argv[4], &mut fin) == sys::Status::napi_ok
  };
  if !ok {
    return Err(bad("expected (id, slot, data, opcode, fin)"));
  }
  let js_env = Env::from_raw(env);
  match payload {
    Payload::Bytes { compress } => {
      let (mut data, mut len) = (ptr::null_mut(), 0usize);
      // SAFETY: napi call on the JS thread; it fails on anything but a Buffer or typed array view.
      if unsafe { sys::napi_get_buffer_info(env, argv[2], &mut data, &mut len) } != sys::Status::napi_ok {
        return Err(bad("data must be a Buffer"));
      }
      let bytes: &[u8] = if len == 0 || data.is_null() {
        &[]
      } else {
        // SAFETY: napi gave the Buffer's memory, which stays put while this
        // call runs (nothing here runs JS or allocates on V8's heap).
        unsafe { std::slice::from_raw_parts(data as *const u8, len) }
      };
      send_bytes(&js_env, id, slot, bytes, opcode, fin, compress)
    }
    Payload::Text => UTF8.with(|buf| {
      let mut buf = buf.borrow_mut();
      let mut len = 0usize;
      // SAFETY: napi calls on the JS thread: the first gives the UTF-8
      // length, the second writes at most `len + 1` bytes (the last a NUL)
      // into the buffer's reserved room, and says how many it wrote.
      unsafe {
        if sys::napi_get_value_string_utf8(env, argv[2], ptr::null_mut(), 0, &mut len) != sys::Status::napi_ok {
          return Err(bad("data must be a string"));
        }
        buf.clear();
        buf.reserve(len + 1);
        let mut written = 0usize;
        sys::napi_get_value_string_utf8(env, argv[2], buf.as_mut_ptr() as *mut c_char, len + 1, &mut written);
        buf.set_len(written.min(len));
      }
      let r = send_bytes(&js_env, id, slot, &buf, opcode, fin, false);
      // A huge string's buffer is not kept.
      if buf.capacity() > 1 << 20 {
        *buf = Vec::new();
      }
      r
    }),
  }
}

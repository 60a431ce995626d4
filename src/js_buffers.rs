//! The Buffers JS gets from Rust: a batch of events, and a large message,
//! each handed over without a copy (an external buffer whose memory
//! returns to the pool when V8 frees it), or copied where small.

use std::ffi::c_void;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::pool;

/// A JS value made here, returned to napi-rs as is.
pub struct RawValue(sys::napi_value);

impl RawValue {
  pub fn raw(&self) -> sys::napi_value {
    self.0
  }

  pub fn from_raw(v: sys::napi_value) -> RawValue {
    RawValue(v)
  }
}

impl ToNapiValue for RawValue {
  unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
    Ok(val.0)
  }
}

impl TypeName for RawValue {
  fn type_name() -> &'static str {
    "Buffer"
  }
  fn value_type() -> ValueType {
    ValueType::Object
  }
}

/// `undefined`.
pub fn undefined(env: &Env) -> RawValue {
  let mut value = ptr::null_mut();
  // SAFETY: a napi call on the JS thread of `env` (napi-rs called us there).
  unsafe { sys::napi_get_undefined(env.raw(), &mut value) };
  RawValue(value)
}

/// A new Buffer with a copy of `data`.
pub fn copy(env: &Env, data: &[u8]) -> Result<RawValue> {
  let mut value = ptr::null_mut();
  // SAFETY: a napi call on the JS thread of `env`; it copies `data.len()` bytes from `data`.
  let status =
    unsafe { sys::napi_create_buffer_copy(env.raw(), data.len(), data.as_ptr().cast(), ptr::null_mut(), &mut value) };
  if status != sys::Status::napi_ok {
    return Err(Error::from_reason("cannot allocate the event buffer"));
  }
  Ok(RawValue(value))
}

/// `data` as a Buffer without a copy; its memory goes back to the pool when
/// V8 frees it (a copy where the runtime has no external buffers).
pub fn owned(env: &Env, mut data: Vec<u8>) -> Result<RawValue> {
  let len = data.len();
  let at = data.as_mut_ptr();
  let hint = Box::into_raw(Box::new(data));
  let mut value = ptr::null_mut();
  // SAFETY: a napi call on the JS thread; `at..at+len` stays valid until the
  // finalizer runs, since the Vec it belongs to is leaked into `hint`, which
  // only `return_to_pool` frees.
  let status = unsafe {
    sys::napi_create_external_buffer(env.raw(), len, at.cast(), Some(return_to_pool), hint.cast(), &mut value)
  };
  if status == sys::Status::napi_ok {
    return Ok(RawValue(value));
  }
  // SAFETY: the call failed, so no finalizer will run: `hint` is still ours.
  let data = unsafe { Box::from_raw(hint) };
  // SAFETY: a napi call on the JS thread; it copies `len` bytes from `data`.
  let status =
    unsafe { sys::napi_create_buffer_copy(env.raw(), len, data.as_ptr().cast(), ptr::null_mut(), &mut value) };
  pool::give(*data);
  if status != sys::Status::napi_ok {
    return Err(Error::from_reason("cannot create a message buffer"));
  }
  Ok(RawValue(value))
}

unsafe extern "C" fn return_to_pool(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
  // SAFETY: `hint` is the Box<Vec<u8>> leaked in `owned`, finalised once.
  let data = unsafe { Box::from_raw(hint as *mut Vec<u8>) };
  pool::give(*data);
}

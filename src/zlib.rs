//! C zlib (libz-sys, built from its bundled source and linked statically),
//! behind a safe interface of two streams: `CDeflate` and `CInflate`, raw
//! DEFLATE with a sync flush. src/deflate.rs decides when they are used
//! (kept contexts and small messages: C zlib touches a third of the memory
//! zlib-rs does, and resets four times less of it; BENCHMARKS.md).
//!
//! Written here rather than taken from flate2 because flate2's API has no
//! `memLevel` and no `strategy`, which ws users set (`zlibDeflateOptions`)
//! and which size a kept context.

use std::ffi::c_int;
use std::mem::MaybeUninit;

use libz_sys as z;

/// zlib's allocator hooks, on Rust's allocator (so that its memory is
/// counted with the rest of ours): each block carries its size in a header
/// of `HEADER` bytes, which keeps the 16-byte alignment malloc gives.
const HEADER: usize = 16;

unsafe extern "C" fn alloc(_: z::voidpf, items: z::uInt, size: z::uInt) -> z::voidpf {
  let Some(n) = (items as usize).checked_mul(size as usize).and_then(|n| n.checked_add(HEADER)) else {
    return std::ptr::null_mut();
  };
  let Ok(layout) = std::alloc::Layout::from_size_align(n, HEADER) else {
    return std::ptr::null_mut();
  };
  // SAFETY: a non-zero size (at least HEADER) with a valid alignment.
  let p = unsafe { std::alloc::alloc(layout) };
  if p.is_null() {
    // zlib checks for null and reports Z_MEM_ERROR.
    return std::ptr::null_mut();
  }
  // SAFETY: `p` has room for the header, aligned for a usize.
  unsafe {
    p.cast::<usize>().write(n);
    p.add(HEADER).cast()
  }
}

unsafe extern "C" fn free(_: z::voidpf, p: z::voidpf) {
  if p.is_null() {
    return;
  }
  // SAFETY: `p` came from `alloc`: the block starts HEADER bytes before it,
  // with its size there, allocated with this layout.
  unsafe {
    let start = p.cast::<u8>().sub(HEADER);
    let n = start.cast::<usize>().read();
    std::alloc::dealloc(start, std::alloc::Layout::from_size_align_unchecked(n, HEADER));
  }
}

/// A stream that has not been initialised yet, boxed: zlib's state points
/// back at its `z_stream`, which must therefore never move.
fn stream() -> Box<z::z_stream> {
  Box::new(z::z_stream {
    next_in: std::ptr::null_mut(),
    avail_in: 0,
    total_in: 0,
    next_out: std::ptr::null_mut(),
    avail_out: 0,
    total_out: 0,
    msg: std::ptr::null_mut(),
    state: std::ptr::null_mut(),
    zalloc: alloc,
    zfree: free,
    opaque: std::ptr::null_mut(),
    data_type: 0,
    adler: 0,
    reserved: 0,
  })
}

/// Points `s` at `input` and `out`, runs `f` (deflate or inflate), and
/// returns (input used, output produced, zlib's code). Input and output
/// beyond 4 GiB are taken in several calls by the caller's loop.
fn step(
  s: &mut z::z_stream,
  input: &[u8],
  out: &mut [MaybeUninit<u8>],
  f: impl FnOnce(&mut z::z_stream) -> c_int,
) -> (usize, usize, c_int) {
  let (avail_in, avail_out) = (input.len().min(u32::MAX as usize) as u32, out.len().min(u32::MAX as usize) as u32);
  s.next_in = input.as_ptr().cast_mut();
  s.avail_in = avail_in;
  s.next_out = out.as_mut_ptr().cast();
  s.avail_out = avail_out;
  let code = f(s);
  let used = (avail_in - s.avail_in) as usize;
  let produced = (avail_out - s.avail_out) as usize;
  // No pointer into the caller's buffers outlives the call.
  s.next_in = std::ptr::null_mut();
  s.next_out = std::ptr::null_mut();
  s.avail_in = 0;
  s.avail_out = 0;
  (used, produced, code)
}

/// The linked zlib's version ("1.3.1", ...).
pub fn version() -> String {
  // SAFETY: zlibVersion returns a static, NUL-terminated string.
  unsafe { std::ffi::CStr::from_ptr(z::zlibVersion()) }.to_string_lossy().into_owned()
}

/// A C zlib compressor: raw DEFLATE (negative window bits).
pub struct CDeflate(Box<z::z_stream>);

// SAFETY: the stream is owned, points at nothing outside its own state
// between calls, and zlib keeps no thread-local state: it may move between
// threads (it is used under its connection's lock).
unsafe impl Send for CDeflate {}

impl CDeflate {
  /// `None` if zlib refuses the settings or has no memory.
  pub fn new(level: i32, window_bits: i32, mem_level: i32, strategy: i32) -> Option<CDeflate> {
    let mut s = stream();
    // SAFETY: a fresh, boxed stream with allocator hooks; the version and
    // size are those of the linked zlib's header.
    let code = unsafe {
      z::deflateInit2_(
        &mut *s,
        level,
        z::Z_DEFLATED,
        -window_bits,
        mem_level,
        strategy,
        z::zlibVersion(),
        std::mem::size_of::<z::z_stream>() as c_int,
      )
    };
    (code == z::Z_OK).then_some(CDeflate(s))
  }

  /// Compresses what fits of `input` into `out` with a sync flush:
  /// (input used, output produced).
  pub fn compress(&mut self, input: &[u8], out: &mut [MaybeUninit<u8>]) -> (usize, usize) {
    let (used, produced, _) = step(&mut self.0, input, out, |s| {
      // SAFETY: an initialised stream whose pointers address live buffers
      // of the sizes given (set by `step`).
      unsafe { z::deflate(s, z::Z_SYNC_FLUSH) }
    });
    (used, produced)
  }

  /// Forgets the context: the next message refers to nothing before it.
  pub fn reset(&mut self) {
    // SAFETY: an initialised stream.
    unsafe { z::deflateReset(&mut *self.0) };
  }
}

impl Drop for CDeflate {
  fn drop(&mut self) {
    // SAFETY: an initialised stream, ended once (here).
    unsafe { z::deflateEnd(&mut *self.0) };
  }
}

/// What inflating did.
pub enum Inflated {
  /// (input used, output produced, the stream's final block ended).
  Ok(usize, usize, bool),
  /// zlib's message ("invalid block type", …).
  Err(&'static str),
}

/// A C zlib inflater: raw DEFLATE.
pub struct CInflate(Box<z::z_stream>);

// SAFETY: as for `CDeflate`.
unsafe impl Send for CInflate {}

impl CInflate {
  pub fn new(window_bits: i32) -> Option<CInflate> {
    let mut s = stream();
    // SAFETY: a fresh, boxed stream with allocator hooks; the version and
    // size are those of the linked zlib's header.
    let code =
      unsafe { z::inflateInit2_(&mut *s, -window_bits, z::zlibVersion(), std::mem::size_of::<z::z_stream>() as c_int) };
    (code == z::Z_OK).then_some(CInflate(s))
  }

  /// Forgets the stream: the next input starts a new one.
  pub fn reset(&mut self) {
    // SAFETY: an initialised stream.
    unsafe { z::inflateReset(&mut *self.0) };
  }

  pub fn inflate(&mut self, input: &[u8], out: &mut [MaybeUninit<u8>]) -> Inflated {
    let (used, produced, code) = step(&mut self.0, input, out, |s| {
      // SAFETY: an initialised stream whose pointers address live buffers
      // of the sizes given (set by `step`).
      unsafe { z::inflate(s, z::Z_SYNC_FLUSH) }
    });
    match code {
      z::Z_OK | z::Z_BUF_ERROR => Inflated::Ok(used, produced, false),
      z::Z_STREAM_END => Inflated::Ok(used, produced, true),
      z::Z_NEED_DICT => Inflated::Err("need dictionary"),
      _ => Inflated::Err(self.message()),
    }
  }

  /// zlib's message for the last error, as one of its static texts.
  fn message(&self) -> &'static str {
    if self.0.msg.is_null() {
      return "invalid stream";
    }
    // SAFETY: zlib sets `msg` to one of its static, NUL-terminated strings.
    let m = unsafe { std::ffi::CStr::from_ptr(self.0.msg) };
    crate::deflate::known_message(m.to_str().unwrap_or(""))
  }
}

impl Drop for CInflate {
  fn drop(&mut self) {
    // SAFETY: an initialised stream, ended once (here).
    unsafe { z::inflateEnd(&mut *self.0) };
  }
}

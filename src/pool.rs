//! A small pool of large byte buffers. Large messages are handed to JS in
//! buffers of their own (no copy); when V8 frees such a Buffer its memory
//! comes back here instead of to the allocator, so a steady stream of large
//! messages does not map and fault in fresh pages for every one.

use crate::sync::Lock;
use std::sync::Mutex;

/// Buffers smaller than this are not worth pooling.
pub const MIN: usize = 32 * 1024;
const MAX_POOLED: usize = 64;
/// Larger buffers go back to the allocator (so a burst of huge messages
/// does not stay resident).
const MAX_CAPACITY: usize = 4 << 20;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer with room for at least `cap` bytes.
pub fn take(cap: usize) -> Vec<u8> {
  if cap >= MIN {
    let mut pool = POOL.locked();
    if let Some(i) = pool.iter().rposition(|v| v.capacity() >= cap) {
      return pool.swap_remove(i);
    }
  }
  Vec::with_capacity(cap)
}

/// Returns a buffer for reuse.
pub fn give(mut v: Vec<u8>) {
  if v.capacity() < MIN || v.capacity() > MAX_CAPACITY {
    return;
  }
  v.clear();
  let mut pool = POOL.locked();
  if pool.len() < MAX_POOLED {
    pool.push(v);
  }
}

#[cfg(test)]
mod tests {
  #[test]
  fn reuses_large_buffers_only() {
    let v = super::take(100 * 1024);
    let p = v.as_ptr();
    super::give(v);
    let again = super::take(64 * 1024);
    assert_eq!(again.as_ptr(), p);
    assert!(again.is_empty());
    super::give(Vec::with_capacity(10));
    assert!(super::take(10).capacity() >= 10);
  }
}

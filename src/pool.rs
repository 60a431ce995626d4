//! A small pool of large byte buffers, one per JS thread. Event batches and
//! large messages are handed to JS in buffers of their own (no copy); when V8
//! frees such a Buffer (its finalizer runs on the JS thread that made it),
//! its memory comes back here instead of to the allocator, so a steady
//! stream of large batches does not map and fault in fresh pages for each.
//!
//! Per thread, so taking and giving back take no lock. A thread that never
//! takes (the I/O thread, which may drop events of a torn-down instance)
//! keeps nothing: what it gives back is freed.

use std::cell::{Cell, RefCell};

/// Buffers smaller than this are not worth pooling.
pub const MIN: usize = 32 * 1024;
const MAX_POOLED: usize = 64;
/// Larger buffers go back to the allocator (so a burst of huge messages
/// does not stay resident).
const MAX_CAPACITY: usize = 4 << 20;

thread_local! {
  static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
  /// Whether this thread has taken from its pool (a JS thread).
  static TAKES: Cell<bool> = const { Cell::new(false) };
}

/// An empty buffer with room for at least `cap` bytes.
pub fn take(cap: usize) -> Vec<u8> {
  if cap >= MIN {
    TAKES.with(|t| t.set(true));
    let found = POOL.with(|p| {
      let mut pool = p.borrow_mut();
      pool.iter().rposition(|v| v.capacity() >= cap).map(|i| pool.swap_remove(i))
    });
    if let Some(v) = found {
      return v;
    }
  }
  Vec::with_capacity(cap)
}

/// Returns a buffer for reuse.
pub fn give(mut v: Vec<u8>) {
  if v.capacity() < MIN || v.capacity() > MAX_CAPACITY || !TAKES.with(|t| t.get()) {
    return;
  }
  v.clear();
  // During the thread's exit the pool may be gone already: then v is freed.
  let _ = POOL.try_with(|p| {
    let mut pool = p.borrow_mut();
    if pool.len() < MAX_POOLED {
      pool.push(v);
    }
  });
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

  #[test]
  fn a_thread_that_never_takes_keeps_nothing() {
    std::thread::spawn(|| {
      super::give(Vec::with_capacity(64 * 1024));
      assert_eq!(super::POOL.with(|p| p.borrow().len()), 0);
    })
    .join()
    .unwrap();
  }
}

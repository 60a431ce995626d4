//! Masking keys for the frames a client sends (RFC 6455 §5.3).

thread_local! {
  static MASK_STATE: std::cell::Cell<u64> = std::cell::Cell::new({
    use std::hash::{BuildHasher, Hasher};
    // Seeded from the OS (RandomState's keys), then xorshift64*.
    std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
  });
}

/// A fresh masking key for a client frame.
pub(super) fn next_mask() -> [u8; 4] {
  MASK_STATE.with(|s| {
    let mut x = s.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.set(x);
    ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32).to_ne_bytes()
  })
}

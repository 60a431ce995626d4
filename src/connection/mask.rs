//! Masking keys for the frames a client sends (RFC 6455 §5.3: "derived
//! from a strong source of entropy"). As ws does with `randomFillSync` over
//! a pool: each thread keeps 8 KiB from the OS's CSPRNG (getrandom:
//! getrandom(2) on Linux, getentropy on macOS, ProcessPrng on Windows) and
//! takes 4 bytes per frame, refilling when it runs out, so a frame costs a
//! copy of 4 bytes and every 2048th one a system call.

use std::cell::RefCell;

/// Bytes taken from the OS at a time (ws's RANDOM_POOL_SIZE).
const POOL: usize = 8 * 1024;

struct Pool {
  bytes: Box<[u8; POOL]>,
  at: usize,
}

thread_local! {
  static KEYS: RefCell<Pool> = RefCell::new(Pool { bytes: Box::new([0; POOL]), at: POOL });
}

/// A fresh masking key for a client frame.
pub(super) fn next_mask() -> [u8; 4] {
  KEYS.with(|pool| {
    let mut p = pool.borrow_mut();
    if p.at == POOL {
      refill(&mut p.bytes[..]);
      p.at = 0;
    }
    let at = p.at;
    p.at += 4;
    [p.bytes[at], p.bytes[at + 1], p.bytes[at + 2], p.bytes[at + 3]]
  })
}

/// Fills `buf` from the OS's CSPRNG. If the OS has none to give (no
/// getrandom(2) and no /dev/urandom: a broken sandbox), SipHash keyed by the
/// OS at the thread's start (std's RandomState) over a counter: a keyed PRF
/// rather than a predictable sequence, and never a panic on a send.
fn refill(buf: &mut [u8]) {
  if getrandom::fill(buf).is_ok() {
    return;
  }
  use std::hash::{BuildHasher, Hasher};
  thread_local! {
    static FALLBACK: (std::collections::hash_map::RandomState, std::cell::Cell<u64>) =
      (std::collections::hash_map::RandomState::new(), std::cell::Cell::new(0));
  }
  FALLBACK.with(|(keys, counter)| {
    for chunk in buf.chunks_mut(8) {
      let mut h = keys.build_hasher();
      h.write_u64(counter.get());
      counter.set(counter.get() + 1);
      chunk.copy_from_slice(&h.finish().to_ne_bytes()[..chunk.len()]);
    }
  });
}

#[cfg(test)]
mod tests {
  use super::*;

  /// 1M keys: repeats no more often than chance allows (a 32-bit key
  /// repeats by the birthday bound: about n² / 2³³ = 116 pairs in 1M), each
  /// bit is set half the time, and no key follows from the one before
  /// (each bit agrees with the same bit of the previous key half the time,
  /// and xorshift's step, which the old generator used, predicts nothing).
  #[test]
  fn keys_do_not_repeat_or_follow_from_earlier_ones() {
    const N: usize = 1_000_000;
    let keys: Vec<u32> = (0..N).map(|_| u32::from_ne_bytes(next_mask())).collect();

    let mut sorted = keys.clone();
    sorted.sort_unstable();
    let repeats = sorted.windows(2).filter(|w| w[0] == w[1]).count();
    // Expected 116, standard deviation about 11: 200 is more than 7σ away.
    assert!(repeats < 200, "{repeats} repeated keys in {N}");

    let n = N as f64;
    let sigma = (n * 0.25).sqrt();
    for bit in 0..32 {
      let ones = keys.iter().filter(|k| *k >> bit & 1 == 1).count() as f64;
      assert!((ones - n / 2.0).abs() < 6.0 * sigma, "bit {bit} set {ones} times in {N}");
      let same = keys.windows(2).filter(|w| (w[0] ^ w[1]) >> bit & 1 == 0).count() as f64;
      assert!((same - n / 2.0).abs() < 6.0 * sigma, "bit {bit} repeats the previous key's {same} times");
    }

    // What xorshift64* (the old generator) would have made next, from a
    // key's 64-bit pair with the one after, never comes next.
    let predicted = keys
      .windows(3)
      .filter(|w| {
        let mut x = (u64::from(w[0]) << 32) | u64::from(w[1]);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 == w[2]
      })
      .count();
    assert!(predicted < 5, "{predicted} keys followed from the two before");
  }

  #[test]
  fn each_thread_has_its_own_pool() {
    let here: Vec<[u8; 4]> = (0..4).map(|_| next_mask()).collect();
    let there: Vec<[u8; 4]> = std::thread::spawn(|| (0..4).map(|_| next_mask()).collect()).join().unwrap();
    assert_ne!(here, there);
  }
}

//! permessage-deflate's data path (RFC 7692 §7): a message's payload is raw
//! DEFLATE, compressed with a sync flush whose `00 00 ff ff` tail is taken off
//! (§7.2.1) and put back before inflating (§7.2.2). Pure: no sockets, no
//! negotiation (that is ws's policy, in JS), unit-tested here.
//!
//! Memory is bounded and allocated late: an `Inflater` or `Deflater` holds
//! no zlib state until the first message that needs it; one whose context
//! is not taken over holds none at all, and borrows its thread's shared
//! state for each message (reset after it), as uWebSockets.js shares one
//! compressor; and inflating stops as soon as the output passes `max` (a
//! small frame that inflates to gigabytes is refused after `max` bytes, not
//! after it has been inflated).

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

thread_local! {
  /// The thread's inflater for messages with no context (one is enough: a
  /// 15-bit window inflates every stream).
  static SHARED_INFLATE: RefCell<Option<Decompress>> = const { RefCell::new(None) };
  /// The thread's compressors for messages with no context, by (level,
  /// window bits): at most 70 settings, in practice one.
  static SHARED_DEFLATE: RefCell<Vec<((u32, u8), Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The tail a sync flush ends with (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output is produced in steps of this much, so that `max` is checked
/// before memory grows past it by more than one step.
const STEP: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
  /// The message inflates past `max` (1009, ws's WS_ERR_UNSUPPORTED_MESSAGE_LENGTH).
  TooLarge,
  /// Not a valid DEFLATE stream (1007 as ws, whose zlib error closes with
  /// it), with zlib's message.
  Corrupt(&'static str),
}

/// A peer's compressed messages, inflated.
pub struct Inflater {
  z: Option<Decompress>,
  /// The peer keeps its compression context between messages: so must we.
  takeover: bool,
}

impl Inflater {
  /// `takeover`: the peer may refer to earlier messages (no
  /// `*_no_context_takeover` for its side was negotiated).
  pub fn new(takeover: bool) -> Inflater {
    Inflater { z: None, takeover }
  }

  /// Inflates one message's payload (its frames' data, joined) onto `out`.
  /// `max` = 0: no limit.
  pub fn inflate(&mut self, data: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
    let start = out.len();
    let r = if self.takeover {
      // A window of 15 bits inflates what any smaller window compressed.
      let z = self.z.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
      let r = inflate_message(z, data, max, start, out);
      if r.is_err() {
        self.z = None;
      }
      r
    } else {
      SHARED_INFLATE.with(|cell| {
        let mut shared = cell.borrow_mut();
        let z = shared.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        let r = inflate_message(z, data, max, start, out);
        z.reset(false);
        r
      })
    };
    if r.is_err() {
      // Nothing of a refused message is kept.
      out.truncate(start);
    }
    r
  }

  /// Whether zlib state is held now (for memory accounting and tests).
  pub fn holds_state(&self) -> bool {
    self.z.is_some()
  }
}

fn inflate_message(
  z: &mut Decompress,
  data: &[u8],
  max: usize,
  start: usize,
  out: &mut Vec<u8>,
) -> Result<(), InflateError> {
  inflate_all(z, data, max, start, out).and_then(|()| inflate_all(z, &TAIL, max, start, out))
}

fn inflate_all(
  z: &mut Decompress,
  mut input: &[u8],
  max: usize,
  start: usize,
  out: &mut Vec<u8>,
) -> Result<(), InflateError> {
  loop {
    if out.capacity() - out.len() < STEP {
      // Exactly one step more, not doubling: memory follows what is inflated.
      out.reserve_exact(STEP);
    }
    let (before_in, before_out) = (z.total_in(), z.total_out());
    let status = z
      .decompress_vec(input, out, FlushDecompress::Sync)
      .map_err(|e| InflateError::Corrupt(zlib_message(e.message())))?;
    let used = (z.total_in() - before_in) as usize;
    let produced = (z.total_out() - before_out) as usize;
    input = &input[used..];
    if max > 0 && out.len() - start > max {
      out.truncate(start);
      out.shrink_to(start);
      return Err(InflateError::TooLarge);
    }
    if status == Status::StreamEnd {
      // A final block: what follows (if anything) is not part of the stream.
      return Ok(());
    }
    if produced == 0 && used == 0 {
      // No progress with room to write: everything is inflated, or (with
      // input left) the stream cannot go on.
      return if input.is_empty() { Ok(()) } else { Err(InflateError::Corrupt("invalid stream")) };
    }
  }
}

/// zlib's message for an error, as ws reports it (zlib-rs uses zlib's texts).
fn zlib_message(m: Option<&str>) -> &'static str {
  const KNOWN: [&str; 8] = [
    "invalid stored block lengths",
    "invalid block type",
    "invalid distance too far back",
    "invalid distance code",
    "invalid literal/length code",
    "invalid code lengths set",
    "too many length or distance symbols",
    "invalid distances set",
  ];
  m.and_then(|m| KNOWN.iter().find(|k| **k == m).copied()).unwrap_or("invalid stream")
}

/// Our compressed messages.
pub struct Deflater {
  z: Option<Compress>,
  level: u32,
  window_bits: u8,
  /// We keep our context between messages (no `*_no_context_takeover` for
  /// our side was negotiated).
  takeover: bool,
}

impl Deflater {
  /// `window_bits`: the negotiated maximum for our side, 9 to 15 (zlib's raw
  /// DEFLATE has no 8-bit window).
  pub fn new(level: u32, window_bits: u8, takeover: bool) -> Deflater {
    Deflater { z: None, level: level.min(9), window_bits: window_bits.clamp(9, 15), takeover }
  }

  /// Compresses one message onto `out` (without the sync flush's tail).
  pub fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) {
    let (level, bits) = (self.level, self.window_bits);
    let new = || Compress::new_with_window_bits(Compression::new(level), false, bits);
    if self.takeover {
      deflate_into(self.z.get_or_insert_with(new), data, out);
      return;
    }
    SHARED_DEFLATE.with(|cell| {
      let mut shared = cell.borrow_mut();
      let i = match shared.iter().position(|(k, _)| *k == (level, bits)) {
        Some(i) => i,
        None => {
          shared.push(((level, bits), new()));
          shared.len() - 1
        }
      };
      let z = &mut shared[i].1;
      deflate_into(z, data, out);
      z.reset();
    });
  }

  pub fn holds_state(&self) -> bool {
    self.z.is_some()
  }

  /// (level, window bits) when it keeps no context between messages: then
  /// any compressor with these settings makes the same bytes for a message,
  /// so one compressed frame serves every such recipient.
  pub fn shareable(&self) -> Option<(u32, u8)> {
    (!self.takeover).then_some((self.level, self.window_bits))
  }
}

/// One message through `z` with a sync flush, the tail taken off.
fn deflate_into(z: &mut Compress, mut input: &[u8], out: &mut Vec<u8>) {
  let start = out.len();
  loop {
    out.reserve(input.len() / 2 + 64);
    let before_in = z.total_in();
    // Cannot fail: a compressor with output room only reports progress.
    let _ = z.compress_vec(input, out, FlushCompress::Sync);
    input = &input[(z.total_in() - before_in) as usize..];
    // Done when everything is in and the flush did not run out of room.
    if input.is_empty() && out.len() < out.capacity() {
      break;
    }
  }
  if out.len() - start >= 4 && out[out.len() - 4..] == TAIL {
    out.truncate(out.len() - 4);
  }
  if out.len() == start {
    // Nothing to flush (an empty message after another): an empty stored
    // block, of which only its first byte remains without the tail (§7.2.3.6).
    out.push(0x00);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn round_trip(msgs: &[&[u8]], takeover: bool) {
    let mut d = Deflater::new(6, 15, takeover);
    let mut i = Inflater::new(takeover);
    for m in msgs {
      let mut z = Vec::new();
      d.deflate(m, &mut z);
      assert_ne!(&z[z.len().saturating_sub(4)..], &TAIL, "the tail is taken off");
      let mut out = Vec::new();
      i.inflate(&z, 0, &mut out).unwrap_or_else(|e| {
        panic!(
          "{e:?} on a message of {} bytes ({} compressed, takeover {takeover}): {:02x?}",
          m.len(),
          z.len(),
          &z[..z.len().min(16)]
        )
      });
      assert_eq!(&out, m);
      assert_eq!(d.holds_state(), takeover);
      assert_eq!(i.holds_state(), takeover);
    }
  }

  #[test]
  fn messages_round_trip_with_and_without_context_takeover() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let msgs: [&[u8]; 5] = [b"hello", b"hello", b"", &big, b"{\"a\":1,\"b\":[1,2,3]}"];
    round_trip(&msgs, true);
    round_trip(&msgs, false);
  }

  #[test]
  fn context_takeover_makes_a_repeat_smaller() {
    let msg = b"the same JSON payload, sent twice in a row to the same peer".repeat(4);
    let mut d = Deflater::new(6, 15, true);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    d.deflate(&msg, &mut a);
    d.deflate(&msg, &mut b);
    assert!(b.len() < a.len() / 2, "{} then {}", a.len(), b.len());
  }

  /// RFC 7692 §7.2.3.1's example: "Hello" compressed.
  #[test]
  fn the_rfc_example_inflates() {
    let mut out = Vec::new();
    Inflater::new(false).inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 0, &mut out).unwrap();
    assert_eq!(out, b"Hello");
    // §7.2.3.3: an uncompressed (stored) block.
    let mut out = Vec::new();
    Inflater::new(false)
      .inflate(&[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00], 0, &mut out)
      .unwrap();
    assert_eq!(out, b"Hello");
  }

  #[test]
  fn a_bomb_stops_at_max_with_bounded_memory() {
    let zeros = vec![0u8; 64 << 20];
    let mut z = Vec::new();
    Deflater::new(9, 15, false).deflate(&zeros, &mut z);
    assert!(z.len() < 128 * 1024, "64 MiB of zeros compress to {} bytes", z.len());
    let mut out = Vec::new();
    let mut inf = Inflater::new(true);
    assert_eq!(inf.inflate(&z, 1 << 20, &mut out), Err(InflateError::TooLarge));
    assert!(out.capacity() <= (1 << 20) + 2 * STEP, "inflating stopped near max: {}", out.capacity());
    assert!(out.is_empty() && !inf.holds_state(), "nothing kept after the refusal");
  }

  #[test]
  fn corrupt_streams_are_refused() {
    let mut out = Vec::new();
    // BTYPE 11 is reserved.
    assert_eq!(
      Inflater::new(false).inflate(&[0xff, 0xff, 0xff], 0, &mut out),
      Err(InflateError::Corrupt("invalid block type"))
    );
    // A stored block whose length check fails.
    assert_eq!(
      Inflater::new(false).inflate(&[0x00, 0x05, 0x00, 0x00, 0x00], 0, &mut out),
      Err(InflateError::Corrupt("invalid stored block lengths"))
    );
  }

  #[test]
  fn windows_below_nine_bits_are_raised_to_nine() {
    let msg = b"abc".repeat(1000);
    let mut z = Vec::new();
    Deflater::new(6, 8, false).deflate(&msg, &mut z);
    let mut out = Vec::new();
    Inflater::new(false).inflate(&z, 0, &mut out).unwrap();
    assert_eq!(out, msg);
  }

  proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

    #[test]
    fn any_messages_round_trip(msgs in proptest::collection::vec(proptest::collection::vec(0u8..8, 0..5000), 0..8),
                               level in 0u32..10, bits in 8u8..16, takeover: bool) {
      let mut d = Deflater::new(level, bits, takeover);
      let mut i = Inflater::new(takeover);
      for m in &msgs {
        let mut z = Vec::new();
        d.deflate(m, &mut z);
        let mut out = Vec::new();
        proptest::prop_assert_eq!(i.inflate(&z, 0, &mut out), Ok(()));
        proptest::prop_assert_eq!(&out, m);
      }
    }

    #[test]
    fn any_bytes_inflate_or_fail_within_max(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
      let mut out = Vec::new();
      let r = Inflater::new(true).inflate(&data, 4096, &mut out);
      proptest::prop_assert!(out.len() <= 4096 && (r.is_ok() || out.is_empty()));
    }
  }
}

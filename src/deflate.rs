//! permessage-deflate's data path (RFC 7692 §7): a message's payload is raw
//! DEFLATE, compressed with a sync flush whose `00 00 ff ff` tail is taken off
//! (§7.2.1) and put back before inflating (§7.2.2). Pure: no sockets, no
//! negotiation (that is ws's policy, in JS), unit-tested here.
//!
//! Two codecs, chosen by what each does best on this machine (measured in
//! BENCHMARKS.md, `npm run bench:compression`):
//! - a context that is kept (context takeover) is C zlib's (src/zlib.rs),
//!   which touches a third of the memory zlib-rs does (103 KB against 338
//!   KB per connection at 15 bits / memLevel 8, after a 1 KiB message);
//! - a message with no context is compressed by C zlib when small (its
//!   reset clears a quarter of what zlib-rs's does: 1.3 to 1.8× the
//!   messages/s at 1 KiB, even at 4 KiB) and by zlib-rs from `LARGE` bytes
//!   up (1.35× C zlib's speed at 64 KiB), and inflated by zlib-rs (1.25 to
//!   1.4× C zlib's speed at every size).
//!
//! Memory is bounded and allocated late: an `Inflater` or `Deflater` holds
//! no zlib state until the first message that needs it; one whose context
//! is not taken over holds none at all, and borrows its thread's shared
//! state for each message (reset after it), as uWebSockets.js shares one
//! compressor; a kept context's size follows the negotiated window bits and
//! `memLevel`; and inflating stops as soon as the output passes `max` (a
//! small frame that inflates to gigabytes is refused after `max` bytes, not
//! after it has been inflated).
//!
//! The same message sent to many peers that keep no context (ws's
//! `clients.forEach(c => c.send(data))`) is compressed once: the thread
//! remembers its last such message and its compressed bytes.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use zlib_rs::{DeflateConfig, DeflateFlush, Inflate, InflateError as ZError, InflateFlush, Method, Status, Strategy};

use crate::zlib::{CDeflate, CInflate, Inflated};

/// From this size up, a message with no context is compressed by zlib-rs.
const LARGE: usize = 8 * 1024;

/// How a compressor is set up: ws's `zlibDeflateOptions` (`level`,
/// `memLevel`, `strategy`) and the negotiated window for our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
  pub level: u8,
  /// 9 to 15 (zlib's raw DEFLATE has no 8-bit window).
  pub window_bits: u8,
  pub mem_level: u8,
  /// zlib's numbering: 0 default, 1 filtered, 2 Huffman only, 3 RLE, 4 fixed.
  pub strategy: u8,
}

impl Settings {
  /// Out-of-range values are brought into zlib's ranges (ws validates
  /// them in JS before they get here).
  pub fn new(level: u32, window_bits: u32, mem_level: u32, strategy: u32) -> Settings {
    Settings {
      level: level.min(9) as u8,
      window_bits: window_bits.clamp(9, 15) as u8,
      mem_level: mem_level.clamp(1, 9) as u8,
      strategy: strategy.min(4) as u8,
    }
  }

  fn c_compressor(self) -> Option<CDeflate> {
    CDeflate::new(
      i32::from(self.level),
      i32::from(self.window_bits),
      i32::from(self.mem_level),
      i32::from(self.strategy),
    )
  }

  fn compressor(self) -> zlib_rs::Deflate {
    zlib_rs::Deflate::new_with_config(DeflateConfig {
      level: i32::from(self.level),
      method: Method::Deflated,
      // Negative: raw DEFLATE, no zlib header.
      window_bits: -i32::from(self.window_bits),
      mem_level: i32::from(self.mem_level),
      strategy: Strategy::try_from(i32::from(self.strategy)).unwrap_or_default(),
    })
  }
}

impl Default for Settings {
  /// zlib's and ws's defaults: level 6 (Z_DEFAULT_COMPRESSION), a 15-bit
  /// window, memLevel 8, the default strategy.
  fn default() -> Settings {
    Settings::new(6, 15, 8, 0)
  }
}

/// A thread's compressors for one `Settings`: C zlib's for small messages,
/// zlib-rs's for large, each made on first use.
type SharedCompressors = (Settings, Option<CDeflate>, Option<zlib_rs::Deflate>);

/// One compressing step: (input used, output produced).
type DeflateStep<'a> = dyn FnMut(&[u8], &mut [MaybeUninit<u8>]) -> (usize, usize) + 'a;

/// The thread's last message compressed with no context: its settings,
/// the message, and what it compressed to.
struct LastCompressed {
  settings: Settings,
  input: Vec<u8>,
  output: Vec<u8>,
}

/// Messages up to this size are remembered (so a repeat to the next peer
/// is a comparison, not a compression); larger ones are not copied.
const REMEMBER_MAX: usize = 256 * 1024;

thread_local! {
  /// The thread's inflater for messages with no context (one is enough: a
  /// 15-bit window inflates every stream).
  static SHARED_INFLATE: RefCell<Option<Inflate>> = const { RefCell::new(None) };
  /// The thread's compressors for messages with no context, by settings
  /// (in practice one): C zlib's for small messages, zlib-rs's for large.
  static SHARED_DEFLATE: RefCell<Vec<SharedCompressors>> = const { RefCell::new(Vec::new()) };
  static LAST: RefCell<Option<LastCompressed>> = const { RefCell::new(None) };
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
  z: Option<CInflate>,
  /// The peer keeps its compression context between messages: so must we,
  /// with a window of this many bits (what the peer may use); 0: it keeps
  /// none.
  takeover_bits: u8,
}

impl Inflater {
  /// `takeover`: the peer may refer to earlier messages (no
  /// `*_no_context_takeover` for its side was negotiated), within a window
  /// of `window_bits` (its negotiated `*_max_window_bits`, else 15).
  pub fn new(takeover: bool, window_bits: u8) -> Inflater {
    // 9 at least: zlib compresses "8 bits" with a 9-bit window.
    Inflater { z: None, takeover_bits: if takeover { window_bits.clamp(9, 15) } else { 0 } }
  }

  /// Inflates one message's payload (its frames' data, joined) onto `out`.
  /// `max` = 0: no limit.
  pub fn inflate(&mut self, data: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
    let start = out.len();
    let r = if self.takeover_bits > 0 {
      if self.z.is_none() {
        self.z = CInflate::new(i32::from(self.takeover_bits));
      }
      match self.z.as_mut() {
        Some(z) => {
          let r =
            inflate_message(&mut |i: &[u8], o: &mut [MaybeUninit<u8>]| c_inflate_step(z, i, o), data, max, start, out);
          if r.is_err() {
            self.z = None;
          }
          r
        }
        None => Err(InflateError::Corrupt("insufficient memory")),
      }
    } else {
      SHARED_INFLATE.with(|cell| {
        let mut shared = cell.borrow_mut();
        // A window of 15 bits inflates what any smaller window compressed.
        let z = shared.get_or_insert_with(|| Inflate::new(false, 15));
        let r =
          inflate_message(&mut |i: &[u8], o: &mut [MaybeUninit<u8>]| rs_inflate_step(z, i, o), data, max, start, out);
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

/// One inflating step: (input used, output produced, the final block
/// ended), or zlib's message.
type InflateStep<'a> = dyn FnMut(&[u8], &mut [MaybeUninit<u8>]) -> Result<(usize, usize, bool), &'static str> + 'a;

fn rs_inflate_step(
  z: &mut Inflate,
  input: &[u8],
  out: &mut [MaybeUninit<u8>],
) -> Result<(usize, usize, bool), &'static str> {
  let (before_in, before_out) = (z.total_in(), z.total_out());
  let status = z.decompress_uninit(input, out, InflateFlush::SyncFlush).map_err(|e| match e {
    ZError::NeedDict { .. } => "need dictionary",
    _ => known_message(z.error_message().unwrap_or("")),
  })?;
  Ok(((z.total_in() - before_in) as usize, (z.total_out() - before_out) as usize, status == Status::StreamEnd))
}

fn c_inflate_step(
  z: &mut CInflate,
  input: &[u8],
  out: &mut [MaybeUninit<u8>],
) -> Result<(usize, usize, bool), &'static str> {
  match z.inflate(input, out) {
    Inflated::Ok(used, produced, ended) => Ok((used, produced, ended)),
    Inflated::Err(m) => Err(m),
  }
}

fn inflate_message(
  step: &mut InflateStep,
  data: &[u8],
  max: usize,
  start: usize,
  out: &mut Vec<u8>,
) -> Result<(), InflateError> {
  inflate_all(step, data, max, start, out).and_then(|()| inflate_all(step, &TAIL, max, start, out))
}

fn inflate_all(
  step: &mut InflateStep,
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
    let (used, produced, ended) = step(input, out.spare_capacity_mut()).map_err(InflateError::Corrupt)?;
    // SAFETY: zlib wrote `produced` bytes at the start of the spare capacity.
    unsafe { out.set_len(out.len() + produced) };
    input = &input[used..];
    if max > 0 && out.len() - start > max {
      out.truncate(start);
      out.shrink_to(start);
      return Err(InflateError::TooLarge);
    }
    if ended {
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

/// zlib's message for an error, as ws reports it (zlib-rs uses zlib's
/// texts), as a static string.
pub(crate) fn known_message(m: &str) -> &'static str {
  const KNOWN: [&str; 10] = [
    "invalid stored block lengths",
    "invalid block type",
    "invalid distance too far back",
    "invalid distance code",
    "invalid literal/length code",
    "invalid code lengths set",
    "too many length or distance symbols",
    "invalid distances set",
    "invalid bit length repeat",
    "invalid code -- missing end-of-block",
  ];
  KNOWN.iter().find(|k| **k == m).copied().unwrap_or("invalid stream")
}

/// Our compressed messages.
pub struct Deflater {
  z: Option<CDeflate>,
  settings: Settings,
  /// We keep our context between messages (no `*_no_context_takeover` for
  /// our side was negotiated).
  takeover: bool,
}

impl Deflater {
  pub fn new(settings: Settings, takeover: bool) -> Deflater {
    Deflater { z: None, settings, takeover }
  }

  /// Compresses one message onto `out` (without the sync flush's tail).
  pub fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) {
    self.deflate_fragment(data, true, out)
  }

  /// Compresses one frame of a message onto `out`; the sync flush's tail
  /// is taken off the last (`fin`) only, as ws does: the peer inflates the
  /// frames joined, then the tail. With no context, each frame is
  /// compressed on its own (a run of sync-flushed blocks is one stream).
  pub fn deflate_fragment(&mut self, data: &[u8], fin: bool, out: &mut Vec<u8>) {
    if self.takeover {
      if self.z.is_none() {
        self.z = self.settings.c_compressor();
      }
      if let Some(z) = self.z.as_mut() {
        return deflate_into(&mut |i: &[u8], o: &mut [MaybeUninit<u8>]| z.compress(i, o), data, fin, out);
      }
      // No memory for a context: this message goes without one (which
      // the peer's inflater accepts under any parameters).
    }
    if fin {
      deflate_shared(self.settings, data, out);
    } else {
      with_shared(self.settings, data.len(), |step| deflate_into(step, data, false, out));
    }
  }

  pub fn holds_state(&self) -> bool {
    self.z.is_some()
  }

  /// Its settings when it keeps no context between messages: then any
  /// compressor with these settings makes the same bytes for a message,
  /// so one compressed frame serves every such recipient.
  pub fn shareable(&self) -> Option<Settings> {
    (!self.takeover).then_some(self.settings)
  }
}

/// One message with no context, on the thread's compressor for `settings`;
/// the thread's last message with the same settings and bytes is not
/// compressed again.
pub fn deflate_shared(settings: Settings, data: &[u8], out: &mut Vec<u8>) {
  let remembered = LAST.with(|last| match &*last.borrow() {
    Some(l) if l.settings == settings && l.input == data => {
      out.extend_from_slice(&l.output);
      true
    }
    _ => false,
  });
  if remembered {
    return;
  }
  let start = out.len();
  with_shared(settings, data.len(), |step| deflate_into(step, data, true, out));
  if data.len() <= REMEMBER_MAX {
    LAST.with(|last| {
      let mut last = last.borrow_mut();
      let l = last.get_or_insert_with(|| LastCompressed { settings, input: Vec::new(), output: Vec::new() });
      l.settings = settings;
      l.input.clear();
      l.input.extend_from_slice(data);
      l.output.clear();
      l.output.extend_from_slice(&out[start..]);
      // Do not keep a large message's room once smaller ones follow.
      l.input.shrink_to(REMEMBER_MAX.min(l.input.len() * 2));
      l.output.shrink_to(REMEMBER_MAX.min(l.output.len() * 2));
    });
  }
}

/// A compressing step of one of the thread's compressors for `settings`
/// (C zlib's below `LARGE` bytes, zlib-rs's from there), reset after `f`.
fn with_shared(
  settings: Settings,
  len: usize,
  f: impl FnOnce(&mut dyn FnMut(&[u8], &mut [MaybeUninit<u8>]) -> (usize, usize)),
) {
  SHARED_DEFLATE.with(|cell| {
    let mut shared = cell.borrow_mut();
    let i = match shared.iter().position(|(k, _, _)| *k == settings) {
      Some(i) => i,
      None => {
        shared.push((settings, None, None));
        shared.len() - 1
      }
    };
    let (_, small, large) = &mut shared[i];
    if len < LARGE {
      if small.is_none() {
        *small = settings.c_compressor();
      }
      if let Some(z) = small.as_mut() {
        f(&mut |i: &[u8], o: &mut [MaybeUninit<u8>]| z.compress(i, o));
        z.reset();
        return;
      }
    }
    let z = large.get_or_insert_with(|| settings.compressor());
    f(&mut |i: &[u8], o: &mut [MaybeUninit<u8>]| rs_deflate_step(z, i, o));
    z.reset();
  });
}

fn rs_deflate_step(z: &mut zlib_rs::Deflate, input: &[u8], out: &mut [MaybeUninit<u8>]) -> (usize, usize) {
  let (before_in, before_out) = (z.total_in(), z.total_out());
  // Cannot fail: a compressor with output room only reports progress.
  let _ = z.compress_uninit(input, out, DeflateFlush::SyncFlush);
  ((z.total_in() - before_in) as usize, (z.total_out() - before_out) as usize)
}

/// One message (or frame) through `step` (a compressor's: input used,
/// output produced) with a sync flush; the tail taken off if `fin`.
fn deflate_into(step: &mut DeflateStep, mut input: &[u8], fin: bool, out: &mut Vec<u8>) {
  let start = out.len();
  loop {
    out.reserve(input.len() / 2 + 64);
    let spare: &mut [MaybeUninit<u8>] = out.spare_capacity_mut();
    let room = spare.len();
    let (used, produced) = step(input, spare);
    // SAFETY: zlib wrote `produced` bytes at the start of the spare capacity.
    unsafe { out.set_len(out.len() + produced) };
    input = &input[used..];
    // Done when everything is in and the flush did not run out of room.
    if input.is_empty() && produced < room {
      break;
    }
  }
  if !fin {
    return;
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
    let mut d = Deflater::new(Settings::default(), takeover);
    let mut i = Inflater::new(takeover, 15);
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
    let mut d = Deflater::new(Settings::default(), true);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    d.deflate(&msg, &mut a);
    d.deflate(&msg, &mut b);
    assert!(b.len() < a.len() / 2, "{} then {}", a.len(), b.len());
  }

  #[test]
  fn a_message_compressed_in_fragments_inflates_joined() {
    let json = br#"{"id":1,"user":"someone","text":"a fragment of a longer message"}"#.repeat(300);
    for takeover in [true, false] {
      let mut d = Deflater::new(Settings::default(), takeover);
      let mut i = Inflater::new(takeover, 15);
      for _ in 0..2 {
        let mut joined = Vec::new();
        let parts: Vec<&[u8]> = vec![&json[..100], &json[100..9000], b"", &json[9000..]];
        for (k, p) in parts.iter().enumerate() {
          let fin = k == parts.len() - 1;
          let at = joined.len();
          d.deflate_fragment(p, fin, &mut joined);
          assert_eq!(
            joined[joined.len() - 4..] == TAIL,
            !fin,
            "the tail stays on all but the last (part {k}, from {at})"
          );
        }
        let mut out = Vec::new();
        i.inflate(&joined, 0, &mut out).unwrap();
        assert_eq!(out, json, "takeover {takeover}");
      }
    }
  }

  /// RFC 7692 §7.2.3.1's example: "Hello" compressed.
  #[test]
  fn the_rfc_example_inflates() {
    let mut out = Vec::new();
    Inflater::new(false, 15).inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 0, &mut out).unwrap();
    assert_eq!(out, b"Hello");
    // §7.2.3.3: an uncompressed (stored) block.
    let mut out = Vec::new();
    Inflater::new(false, 15)
      .inflate(&[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00], 0, &mut out)
      .unwrap();
    assert_eq!(out, b"Hello");
  }

  #[test]
  fn a_bomb_stops_at_max_with_bounded_memory() {
    let zeros = vec![0u8; 64 << 20];
    let mut z = Vec::new();
    Deflater::new(Settings::new(9, 15, 8, 0), false).deflate(&zeros, &mut z);
    assert!(z.len() < 128 * 1024, "64 MiB of zeros compress to {} bytes", z.len());
    let mut out = Vec::new();
    let mut inf = Inflater::new(true, 15);
    assert_eq!(inf.inflate(&z, 1 << 20, &mut out), Err(InflateError::TooLarge));
    assert!(out.capacity() <= (1 << 20) + 2 * STEP, "inflating stopped near max: {}", out.capacity());
    assert!(out.is_empty() && !inf.holds_state(), "nothing kept after the refusal");
  }

  #[test]
  fn corrupt_streams_are_refused() {
    let mut out = Vec::new();
    // BTYPE 11 is reserved.
    assert_eq!(
      Inflater::new(false, 15).inflate(&[0xff, 0xff, 0xff], 0, &mut out),
      Err(InflateError::Corrupt("invalid block type"))
    );
    // A stored block whose length check fails.
    assert_eq!(
      Inflater::new(false, 15).inflate(&[0x00, 0x05, 0x00, 0x00, 0x00], 0, &mut out),
      Err(InflateError::Corrupt("invalid stored block lengths"))
    );
  }

  #[test]
  fn windows_below_nine_bits_are_raised_to_nine() {
    let msg = b"abc".repeat(1000);
    let mut z = Vec::new();
    Deflater::new(Settings::new(6, 8, 8, 0), false).deflate(&msg, &mut z);
    let mut out = Vec::new();
    Inflater::new(false, 15).inflate(&z, 0, &mut out).unwrap();
    assert_eq!(out, msg);
  }

  /// Bytes this thread has allocated and not freed (a counting allocator
  /// for the memory tests below; other threads do not disturb it).
  mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;
    thread_local! {
      static LIVE: Cell<isize> = const { Cell::new(0) };
    }
    // SAFETY: every call is forwarded to the system allocator unchanged;
    // the counter is a thread-local Cell with no destructor.
    unsafe impl GlobalAlloc for Counting {
      unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + l.size() as isize));
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(l) }
      }
      unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - l.size() as isize));
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
      }
    }
    #[global_allocator]
    static A: Counting = Counting;

    pub fn live() -> isize {
      LIVE.with(|c| c.get())
    }
  }

  /// What a kept compressor holds after one message, in bytes.
  fn kept_size(settings: Settings) -> isize {
    let before = counting::live();
    let mut d = Deflater::new(settings, true);
    let mut z = Vec::new();
    d.deflate(b"a message to compress, so that the state is allocated", &mut z);
    drop(z);
    let held = counting::live() - before;
    assert!(d.holds_state());
    held
  }

  #[test]
  fn a_kept_context_costs_what_its_window_and_mem_level_say() {
    let full = kept_size(Settings::new(6, 15, 8, 0));
    let small = kept_size(Settings::new(6, 10, 4, 0));
    let tiny = kept_size(Settings::new(6, 9, 1, 0));
    // C zlib's formula: (1 << (windowBits + 2)) + (1 << (memLevel + 9))
    // and its state: 268 KB at 15/8, 18 KB at 10/4, 9 KB at 9/1 (zlib-rs,
    // with a fixed 128 KiB hash table, held 380 KB
    // at 15/8, 146 KB at 10/4, 137 KB at 9/1).
    assert!(full > 250_000 && full < 300_000, "15 bits, memLevel 8: {full} bytes");
    assert!(small < 32_000, "10 bits, memLevel 4: {small} bytes");
    assert!(tiny < small, "9 bits, memLevel 1: {tiny} bytes");
    // An inflater's window follows the peer's bits.
    let before = counting::live();
    let mut i = Inflater::new(true, 9);
    let mut out = Vec::new();
    i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 0, &mut out).unwrap();
    drop(out);
    let inflating = counting::live() - before;
    assert!(inflating < 12 * 1024, "a kept inflater: {inflating} bytes");
  }

  #[test]
  fn a_message_repeated_with_no_context_is_compressed_once() {
    let msg = br#"{"type":"chat","room":"lobby","text":"the same message to every member"}"#.repeat(20);
    let s = Settings::default();
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    deflate_shared(s, &msg, &mut a);
    let remembered = LAST.with(|l| l.borrow().as_ref().map(|l| l.output.clone()));
    assert_eq!(remembered.as_deref(), Some(&a[..]));
    deflate_shared(s, &msg, &mut b);
    assert_eq!(a, b);
    // Same length, one byte different: compressed anew, and right.
    let mut other = msg.clone();
    other[7] ^= 1;
    deflate_shared(s, &other, &mut c);
    let mut out = Vec::new();
    Inflater::new(false, 15).inflate(&c, 0, &mut out).unwrap();
    assert_eq!(out, other);
    // Other settings: not the remembered bytes.
    let mut d = Vec::new();
    deflate_shared(Settings::new(1, 15, 8, 0), &msg, &mut d);
    let mut out = Vec::new();
    Inflater::new(false, 15).inflate(&d, 0, &mut out).unwrap();
    assert_eq!(out, msg);
  }

  proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

    #[test]
    fn any_messages_round_trip(msgs in proptest::collection::vec(proptest::collection::vec(0u8..8, 0..5000), 0..8),
                               level in 0u32..10, bits in 8u8..16, mem in 1u32..10, strategy in 0u32..5, takeover: bool) {
      let mut d = Deflater::new(Settings::new(level, bits as u32, mem, strategy), takeover);
      let mut i = Inflater::new(takeover, bits);
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
      let r = Inflater::new(true, 15).inflate(&data, 4096, &mut out);
      proptest::prop_assert!(out.len() <= 4096 && (r.is_ok() || out.is_empty()));
    }
  }
}

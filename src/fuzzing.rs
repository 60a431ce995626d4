//! The fuzz targets' bodies (`fuzz/`, cargo-fuzz and libFuzzer), here so
//! that the corpus replay test (`cargo test`, below) runs exactly what the
//! fuzzer runs. Each takes arbitrary bytes, must never panic, and checks
//! the invariants of what it drives. Compiled for tests and with the
//! `fuzzing` feature (which fuzz/ turns on), never into the addon.

use crate::deflate::{Deflater, Inflater, Settings};
use crate::frame::{Limits, Progress, Receiver, Sink};

/// Reads fuzzer bytes as choices, then as data.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
  fn byte(&mut self) -> u8 {
    match self.0.split_first() {
      Some((b, rest)) => {
        self.0 = rest;
        *b
      }
      None => 0,
    }
  }
  fn u16(&mut self) -> u16 {
    u16::from(self.byte()) << 8 | u16::from(self.byte())
  }
}

/// What the parser delivered, checked against the limits it was given.
struct Checked {
  max_payload: usize,
  messages: usize,
  closed: bool,
}

impl Sink for Checked {
  fn message(&mut self, binary: bool, payload: &[u8], _at: Option<usize>) -> bool {
    assert!(!self.closed, "a message after the close frame");
    assert!(self.max_payload == 0 || payload.len() <= self.max_payload, "a message past maxPayload");
    if !binary {
      assert!(std::str::from_utf8(payload).is_ok(), "text that is not UTF-8");
    }
    self.messages += 1;
    // Pause now and then, as the reader does to hand a buffer over.
    !self.messages.is_multiple_of(7)
  }
  fn ping(&mut self, payload: &[u8]) {
    assert!(payload.len() <= 125);
  }
  fn pong(&mut self, payload: &[u8]) {
    assert!(payload.len() <= 125);
  }
  fn close(&mut self, code: u16, reason: &[u8]) {
    assert!(code == 1005 || crate::frame::is_valid_close_code(code), "close code {code}");
    assert!(std::str::from_utf8(reason).is_ok());
    self.closed = true;
  }
}

/// The frame `Receiver`, fed the input in chunks of the sizes the first
/// bytes choose, with limits, masking expectations and permessage-deflate
/// (with or without context takeover) chosen by the first byte.
pub fn frame_receiver(data: &[u8]) {
  let mut b = Bytes(data);
  let flags = b.byte();
  let limits = Limits {
    max_payload: [0, 125, 1024, 65536][usize::from(flags & 3)],
    max_fragments: [0, 1, 4, 100][usize::from(flags >> 2 & 3)],
    skip_utf8_validation: false,
    expect_masked: flags & 0x10 != 0,
  };
  let mut rx = match flags >> 5 {
    0..=3 => Receiver::new(),
    4 | 5 => Receiver::with_deflate(false, 15),
    _ => Receiver::with_deflate(true, 9 + (flags & 7).min(6)),
  };
  let chunk = usize::from(b.byte()).max(1);
  let mut sink = Checked { max_payload: limits.max_payload as usize, messages: 0, closed: false };
  // The reader keeps what a feed did not consume and appends what comes next.
  let mut pending: Vec<u8> = Vec::new();
  for piece in b.0.chunks(chunk) {
    pending.extend_from_slice(piece);
    loop {
      match rx.feed(&mut pending, &limits, &mut sink) {
        Progress::More { consumed, .. } => {
          pending.drain(..consumed);
          break;
        }
        Progress::Paused { consumed } => {
          pending.drain(..consumed);
        }
        Progress::Closed { .. } | Progress::Error(_) => return,
      }
    }
  }
}

/// The HTTP upgrade-request parser: never a panic; a parsed head is within
/// the limit and within the input.
pub fn upgrade_request(data: &[u8]) {
  let max = 64 + usize::from(data.first().copied().unwrap_or(0)) * 64;
  if let Ok(Some((req, n))) = crate::handshake::parse(data, max) {
    assert!(n <= data.len() && n <= max);
    let _ = req.is_upgrade();
    let _ = req.header("sec-websocket-key");
  }
}

/// The inflater on arbitrary bytes (bounded by `max`, never past it), and
/// the compressor and inflater round trip on arbitrary messages, in
/// fragments, with or without context, under arbitrary zlib settings.
pub fn inflate(data: &[u8]) {
  let mut b = Bytes(data);
  let flags = b.byte();
  let max = usize::from(b.u16()) * 4;
  let takeover = flags & 1 != 0;
  let mut out = Vec::new();
  let mut i = Inflater::new(takeover, 15);
  match i.inflate(b.0, max, &mut out) {
    Ok(()) => assert!(max == 0 || out.len() <= max),
    Err(_) => assert!(out.is_empty()),
  }

  let settings = Settings::new(
    u32::from(flags >> 1 & 0xf),
    9 + u32::from(flags >> 5),
    u32::from(b.byte() % 9 + 1),
    u32::from(b.byte() % 5),
  );
  let mut d = Deflater::new(settings, takeover);
  let mut i = Inflater::new(takeover, settings.window_bits);
  // The rest, as messages of up to 255 frames of the sizes its bytes say.
  let mut rest = b.0;
  while !rest.is_empty() {
    let frames = usize::from(rest[0] % 4) + 1;
    rest = &rest[1..];
    let mut message = Vec::new();
    let mut z = Vec::new();
    for f in 0..frames {
      let n = rest.len().min(usize::from(rest.first().copied().unwrap_or(0)) * 4);
      let (part, tail) = rest.split_at(n);
      rest = tail;
      message.extend_from_slice(part);
      d.deflate_fragment(part, f == frames - 1, &mut z);
    }
    let mut back = Vec::new();
    i.inflate(&z, 0, &mut back).expect("what we compress inflates");
    assert_eq!(back, message);
  }
}

/// The topic registry against a model: subscribe, unsubscribe, publish,
/// broadcast, close and reopen in the order the bytes say, over 6 slots of
/// live connections (socket pairs) and 4 topics; what `publish` reaches and
/// what a slot is subscribed to always match the model.
#[cfg(native_sockets)]
pub fn topics(data: &[u8]) {
  use std::collections::{BTreeMap, BTreeSet};

  use crate::registry::Registry;

  const SLOTS: u32 = 6;
  const TOPICS: [&str; 4] = ["a", "b", "room:1", ""];
  let mut reg = Registry::default();
  let mut model: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
  let mut open: BTreeSet<u32> = BTreeSet::new();
  let mut peers = Vec::new();
  let mut b = Bytes(data);
  for _ in 0..data.len().min(200) {
    let op = b.byte();
    let slot = u32::from(op >> 3) % SLOTS;
    let topic = TOPICS[usize::from(op >> 6)];
    match op & 7 {
      0 | 1 => {
        let ok = reg.subscribe(slot, topic);
        assert_eq!(ok, open.contains(&slot) && !model.get(topic).is_some_and(|s| s.contains(&slot)));
        if open.contains(&slot) {
          model.entry(topic).or_default().insert(slot);
        }
      }
      2 => {
        let ok = reg.unsubscribe(slot, topic);
        assert_eq!(ok, model.get_mut(topic).is_some_and(|s| s.remove(&slot)));
      }
      3 | 4 => {
        let except = (op & 1 == 0).then_some(slot);
        let n = reg.publish(topic, crate::frame::OP_TEXT, b"x", except);
        let want = model.get(topic).map_or(0, |s| s.iter().filter(|s| Some(**s) != except).count());
        assert_eq!(n as usize, want, "publish to {topic:?} except {except:?}");
      }
      5 => {
        reg.remove(slot);
        open.remove(&slot);
        for set in model.values_mut() {
          set.remove(&slot);
        }
      }
      _ => {
        if !open.contains(&slot) {
          if let Some(peer) = testing::open_conn(&mut reg, slot) {
            peers.push(peer);
            open.insert(slot);
          }
        }
      }
    }
    for s in 0..SLOTS {
      let mut want: Vec<String> =
        model.iter().filter(|(_, set)| set.contains(&s)).map(|(t, _)| t.to_string()).collect();
      let mut got = reg.topics_of(s);
      want.sort();
      got.sort();
      assert_eq!(got, want, "topics of slot {s}");
    }
  }
  for s in 0..SLOTS {
    reg.remove(s);
  }
}

#[cfg(native_sockets)]
mod testing {
  use std::os::unix::net::UnixStream;

  use crate::connection::{Conn, ConnOptions};
  use crate::instance::Instance;
  use crate::registry::Registry;
  use crate::sys::Socket;

  /// An open connection under `slot` over one end of a socket pair (the
  /// other end is returned, to keep it open).
  pub fn open_conn(reg: &mut Registry, slot: u32) -> Option<UnixStream> {
    let (ours, theirs) = UnixStream::pair().ok()?;
    ours.set_nonblocking(true).ok()?;
    let stream = {
      let _guard = crate::runtime::handle().enter();
      // A stream socket either way: the Conn only reads and writes it.
      Socket::register(std::net::TcpStream::from(std::os::fd::OwnedFd::from(ours))).ok()?
    };
    let conn = Conn::new(&Instance::detached(), ConnOptions::unlimited_server(), stream);
    Conn::open(&conn, slot, &[], reg.flush_list());
    reg.insert(slot, 0, conn, None);
    Some(theirs)
  }
}

#[cfg(test)]
mod tests {
  /// Every input of the fuzz corpus (`fuzz/corpus/<target>/`), replayed:
  /// the regression test of what the fuzzer has found.
  #[test]
  fn the_fuzz_corpus_replays() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus");
    type Target = (&'static str, fn(&[u8]));
    let targets: [Target; 4] = [
      ("frame_receiver", super::frame_receiver),
      ("upgrade_request", super::upgrade_request),
      ("inflate", super::inflate),
      #[cfg(native_sockets)]
      ("topics", super::topics),
      #[cfg(not(native_sockets))]
      ("topics", |_| {}),
    ];
    let mut replayed = 0;
    for (name, run) in targets {
      let Ok(dir) = std::fs::read_dir(root.join(name)) else { continue };
      for entry in dir.flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        run(&data);
        replayed += 1;
      }
    }
    assert!(replayed > 0, "no corpus under {}", root.display());
    println!("replayed {replayed} fuzz inputs");
  }
}

//! Property tests for everything that parses bytes from the wire: the frame
//! parser (any bytes, any chunking), the request-head parser, and the frame
//! writer/parser round trip.

use proptest::prelude::*;
use wsrs::frame::{self, Limits, Progress, Receiver, Sink};
use wsrs::handshake;

#[derive(Default, Debug, PartialEq, Clone)]
struct Collect {
  messages: Vec<(bool, Vec<u8>)>,
  pings: Vec<Vec<u8>>,
  close: Option<(u16, Vec<u8>)>,
}

impl Sink for Collect {
  fn message(&mut self, binary: bool, payload: &[u8], _at: Option<usize>) -> bool {
    self.messages.push((binary, payload.to_vec()));
    true
  }
  fn ping(&mut self, p: &[u8]) {
    self.pings.push(p.to_vec());
  }
  fn pong(&mut self, _: &[u8]) {}
  fn close(&mut self, code: u16, reason: &[u8]) {
    self.close = Some((code, reason.to_vec()));
  }
}

const SERVER: Limits =
  Limits { max_payload: 1 << 16, max_fragments: 64, skip_utf8_validation: false, expect_masked: true };

/// Feeds `input` in chunks of the given sizes, as the connection does
/// (keeping the unconsumed tail). Returns what was parsed and the end state.
fn feed_chunked(input: &[u8], cuts: &[usize], limits: &Limits) -> (Collect, Option<Progress>) {
  let mut rx = Receiver::new();
  let mut sink = Collect::default();
  let mut buf = Vec::new();
  let mut rest = input;
  let mut cut = cuts.iter().cycle();
  while !rest.is_empty() {
    let n = (*cut.next().unwrap()).clamp(1, rest.len());
    buf.extend_from_slice(&rest[..n]);
    rest = &rest[n..];
    match rx.feed(&mut buf, limits, &mut sink) {
      Progress::More { consumed, .. } => {
        buf.drain(..consumed);
      }
      Progress::Paused { consumed } => {
        buf.drain(..consumed);
      }
      end => return (sink, Some(end)),
    }
  }
  (sink, None)
}

#[derive(Debug, Clone)]
enum Msg {
  Text(String),
  Binary(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
  prop_oneof![".{0,300}".prop_map(Msg::Text), proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Msg::Binary),]
}

/// Encodes messages as a client would: masked, each split into up to
/// `parts` fragments, with a ping between fragments.
fn encode(msgs: &[Msg], parts: usize, mask: [u8; 4]) -> Vec<u8> {
  let mut out = Vec::new();
  for m in msgs {
    let (op, data) = match m {
      Msg::Text(s) => (frame::OP_TEXT, s.as_bytes().to_vec()),
      Msg::Binary(b) => (frame::OP_BINARY, b.clone()),
    };
    let n = parts.max(1).min(data.len().max(1));
    let size = data.len().div_ceil(n).max(1);
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(size).collect() };
    for (i, c) in chunks.iter().enumerate() {
      let fin = i + 1 == chunks.len();
      let opcode = if i == 0 { op } else { frame::OP_CONT };
      frame::write_frame(&mut out, fin, opcode, c, Some(mask));
      if !fin {
        frame::write_frame(&mut out, true, frame::OP_PING, b"hb", Some(mask));
      }
    }
  }
  out
}

proptest! {
  #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

  #[test]
  fn any_bytes_in_any_chunks_never_panic(input in proptest::collection::vec(any::<u8>(), 0..4096),
                                         cuts in proptest::collection::vec(1usize..512, 1..8),
                                         client in any::<bool>()) {
    let limits = Limits { expect_masked: !client, ..SERVER };
    let _ = feed_chunked(&input, &cuts, &limits);
  }

  #[test]
  fn messages_survive_any_fragmentation_masking_and_chunking(msgs in proptest::collection::vec(msg(), 0..12),
                                                            parts in 1usize..5,
                                                            mask in any::<[u8; 4]>(),
                                                            cuts in proptest::collection::vec(1usize..700, 1..6)) {
    let wire = encode(&msgs, parts, mask);
    let (got, end) = feed_chunked(&wire, &cuts, &SERVER);
    prop_assert!(end.is_none(), "unexpected end: {:?}", end);
    let want: Vec<(bool, Vec<u8>)> = msgs.iter().map(|m| match m {
      Msg::Text(s) => (false, s.as_bytes().to_vec()),
      Msg::Binary(b) => (true, b.clone()),
    }).collect();
    prop_assert_eq!(got.messages, want);
  }

  #[test]
  fn the_same_bytes_parse_the_same_whatever_the_chunking(input in proptest::collection::vec(any::<u8>(), 0..2048),
                                                         cuts in proptest::collection::vec(1usize..64, 1..5)) {
    let (whole, end_whole) = feed_chunked(&input, &[usize::MAX], &SERVER);
    let (chunked, end_chunked) = feed_chunked(&input, &cuts, &SERVER);
    prop_assert_eq!(whole, chunked);
    prop_assert_eq!(format!("{:?}", end_whole), format!("{:?}", end_chunked));
  }

  #[test]
  fn request_heads_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
    let _ = handshake::parse(&input, 1024);
  }

  #[test]
  fn request_heads_with_random_headers_parse(names in proptest::collection::vec("[A-Za-z][A-Za-z0-9-]{0,20}", 0..20),
                                             value in "[ -~]{0,40}") {
    let mut req = String::from("GET /x?y=1 HTTP/1.1\r\n");
    for n in &names {
      req.push_str(&format!("{n}: {}\r\n", value.trim()));
    }
    req.push_str("\r\n");
    let (parsed, used) = handshake::parse(req.as_bytes(), 1 << 20).unwrap().unwrap();
    prop_assert_eq!(used, req.len());
    prop_assert_eq!(parsed.headers.len(), names.len());
    prop_assert_eq!(parsed.url.as_str(), "/x?y=1");
  }
}

proptest! {
  #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

  /// The bridge's batch layout decodes (as lib/native.js does) to exactly
  /// the events that were appended, in order.
  #[test]
  fn batches_decode_to_the_events_appended(events in proptest::collection::vec(
      (1u32..10, any::<u32>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..40)) {
    use wsrs::events::Batch;
    let mut b = Batch::default();
    for (kind, id, extra, payload) in &events {
      b.push(*kind, *id, *extra, payload);
    }
    b.seal();
    let out = &b.data;
    // Decode like lib/native.js: the count last, the descriptors before it.
    let word = |at: usize| u32::from_ne_bytes(out[at..at + 4].try_into().unwrap());
    let count = word(out.len() - 4) as usize;
    prop_assert_eq!(count, events.len());
    let meta = out.len() - 4 - count * 16;
    prop_assert_eq!(meta % 4, 0);
    let mut off = 0;
    for (i, (kind, id, extra, payload)) in events.iter().enumerate() {
      let base = meta + i * 16;
      prop_assert_eq!(word(base), *kind);
      prop_assert_eq!(word(base + 4), *id);
      let len = word(base + 8) as usize;
      prop_assert_eq!(word(base + 12), *extra);
      prop_assert_eq!(&out[off..off + len], &payload[..]);
      off += len;
    }
    // Only the padding to a multiple of 4 lies between payloads and descriptors.
    prop_assert!(meta - off < 4);
  }
}

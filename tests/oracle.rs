//! tungstenite as a differential oracle for our frame parser: the same bytes
//! (valid message streams with any fragmentation and chunking, the same with
//! bytes flipped, and plain random bytes) go through our `Receiver` and
//! through tungstenite's server-side reader, and both must agree on the
//! messages, the control frames, the close frame and the class of the error
//! (protocol 1002, UTF-8 1007, size 1009) or that more input is needed.

use std::io::{self, Read, Write};

use proptest::prelude::*;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::Message;
use wsrs::frame::{self, Limits, Progress, Receiver, Sink};

const MAX: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
  /// Ran out of input mid-stream (or at a frame boundary).
  NeedMore,
  /// A close frame (its code; 1005 without one).
  Closed(u16),
  Protocol,
  Utf8,
  Size,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
  /// (binary, payload) of data messages, pings and pongs, in order.
  events: Vec<(&'static str, Vec<u8>)>,
}

/// What a peer reads: `input` delivered in reads of the given sizes, then
/// "would block" (more may come).
struct Chunked<'a> {
  input: &'a [u8],
  cuts: std::iter::Cycle<std::slice::Iter<'a, usize>>,
}

impl Read for Chunked<'_> {
  fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    if self.input.is_empty() {
      return Err(io::ErrorKind::WouldBlock.into());
    }
    let n = (*self.cuts.next().unwrap()).clamp(1, self.input.len()).min(buf.len());
    buf[..n].copy_from_slice(&self.input[..n]);
    self.input = &self.input[n..];
    Ok(n)
  }
}

impl Write for Chunked<'_> {
  fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
    Ok(buf.len()) // tungstenite's pongs and close answers
  }
  fn flush(&mut self) -> io::Result<()> {
    Ok(())
  }
}

fn tungstenite(input: &[u8], cuts: &[usize]) -> (Seen, End) {
  let config = WebSocketConfig::default().max_message_size(Some(MAX)).max_frame_size(Some(MAX));
  let stream = Chunked { input, cuts: cuts.iter().cycle() };
  let mut ws = WebSocket::from_raw_socket(stream, Role::Server, Some(config));
  let mut seen = Seen::default();
  loop {
    match ws.read() {
      Ok(Message::Text(t)) => seen.events.push(("text", t.as_bytes().to_vec())),
      Ok(Message::Binary(b)) => seen.events.push(("binary", b.to_vec())),
      Ok(Message::Ping(p)) => seen.events.push(("ping", p.to_vec())),
      Ok(Message::Pong(p)) => seen.events.push(("pong", p.to_vec())),
      Ok(Message::Close(c)) => return (seen, End::Closed(c.map_or(1005, |c| u16::from(c.code)))),
      Ok(Message::Frame(_)) => unreachable!("raw frames are not read"),
      Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return (seen, End::NeedMore),
      Err(tungstenite::Error::Protocol(_)) => return (seen, End::Protocol),
      Err(tungstenite::Error::Utf8(_)) => return (seen, End::Utf8),
      Err(tungstenite::Error::Capacity(_)) => return (seen, End::Size),
      Err(e) => panic!("tungstenite: unexpected {e:?}"),
    }
  }
}

struct Collect(Seen, Option<u16>);

impl Sink for Collect {
  fn message(&mut self, binary: bool, payload: &[u8], _at: Option<usize>) -> bool {
    self.0.events.push((if binary { "binary" } else { "text" }, payload.to_vec()));
    true
  }
  fn ping(&mut self, p: &[u8]) {
    self.0.events.push(("ping", p.to_vec()));
  }
  fn pong(&mut self, p: &[u8]) {
    self.0.events.push(("pong", p.to_vec()));
  }
  fn close(&mut self, code: u16, _reason: &[u8]) {
    self.1 = Some(code);
  }
}

/// Our verdict, and whether it is a close frame's forbidden code.
fn ours(input: &[u8], cuts: &[usize]) -> ((Seen, End), bool) {
  let limits = Limits { max_payload: MAX as u64, max_fragments: 0, skip_utf8_validation: false, expect_masked: true };
  let mut rx = Receiver::new();
  let mut sink = Collect(Seen::default(), None);
  let (mut buf, mut rest, mut cut) = (Vec::new(), input, cuts.iter().cycle());
  while !rest.is_empty() {
    let n = (*cut.next().unwrap()).clamp(1, rest.len());
    buf.extend_from_slice(&rest[..n]);
    rest = &rest[n..];
    match rx.feed(&mut buf, &limits, &mut sink) {
      Progress::More { consumed, .. } | Progress::Paused { consumed } => {
        buf.drain(..consumed);
      }
      Progress::Closed { .. } => return ((sink.0, End::Closed(sink.1.unwrap_or(1005))), false),
      Progress::Error(e) => {
        let end = match e.close_code() {
          1007 => End::Utf8,
          1009 => End::Size,
          _ => End::Protocol,
        };
        return ((sink.0, end), e.code() == "WS_ERR_INVALID_CLOSE_CODE");
      }
    }
  }
  ((sink.0, End::NeedMore), false)
}

#[derive(Debug, Clone)]
enum Msg {
  Text(String),
  Binary(Vec<u8>),
  Ping(Vec<u8>),
  Close(u16, String),
}

fn msg() -> impl Strategy<Value = Msg> {
  prop_oneof![
    4 => ".{0,200}".prop_map(Msg::Text),
    4 => proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Msg::Binary),
    1 => proptest::collection::vec(any::<u8>(), 0..125).prop_map(Msg::Ping),
    1 => (prop_oneof![Just(1000u16), Just(1001), Just(4000), Just(1005), Just(999), Just(3000)], ".{0,20}")
      .prop_map(|(c, r)| Msg::Close(c, r)),
  ]
}

/// A client's stream: masked frames, data messages in up to `parts`
/// fragments.
fn encode(msgs: &[Msg], parts: usize, mask: [u8; 4]) -> Vec<u8> {
  let mut out = Vec::new();
  for m in msgs {
    let (op, data) = match m {
      Msg::Text(s) => (frame::OP_TEXT, s.as_bytes().to_vec()),
      Msg::Binary(b) => (frame::OP_BINARY, b.clone()),
      Msg::Ping(p) => {
        frame::write_frame(&mut out, true, frame::OP_PING, p, Some(mask));
        continue;
      }
      Msg::Close(code, reason) => {
        let mut body = code.to_be_bytes().to_vec();
        // At most 123 bytes of reason, cut on a character boundary.
        let cut = (0..=reason.len().min(123)).rev().find(|&i| reason.is_char_boundary(i)).unwrap_or(0);
        body.extend_from_slice(&reason.as_bytes()[..cut]);
        frame::write_frame(&mut out, true, frame::OP_CLOSE, &body, Some(mask));
        continue;
      }
    };
    let n = parts.clamp(1, data.len().max(1));
    let size = data.len().div_ceil(n).max(1);
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(size).collect() };
    for (i, c) in chunks.iter().enumerate() {
      let opcode = if i == 0 { op } else { frame::OP_CONT };
      frame::write_frame(&mut out, i + 1 == chunks.len(), opcode, c, Some(mask));
    }
  }
  out
}

/// Our verdict and tungstenite's on `input`, where they may differ only as
/// two implementations of the same rules may:
/// - we reject a frame as soon as its header breaks a rule (as ws does),
///   while tungstenite reads the whole frame first: then it is given the
///   rest (zeros, as many as the largest frame allowed) and must fail too,
///   with the same messages before; which of several faults of one header
///   is reported first is each implementation's own order;
/// - tungstenite reports a close frame with a forbidden code as a close 1002
///   (its answer), we as a protocol error answered with 1002; and it checks
///   the reason's UTF-8 before the code, we (as ws) the code first;
/// - a header over the size limit that breaks another rule is reported as
///   either fault.
fn verdicts(input: &[u8], cuts: &[usize]) -> ((Seen, End), (Seen, End)) {
  let (o, close_code_fault) = ours(input, cuts);
  let mut t = tungstenite(input, cuts);
  let failed = |e: End| matches!(e, End::Protocol | End::Utf8 | End::Size);
  if failed(o.1) && t.1 == End::NeedMore {
    let mut padded = input.to_vec();
    padded.resize(input.len() + MAX + 16, 0);
    t = tungstenite(&padded, cuts);
    if failed(t.1) {
      t.1 = o.1;
    }
  }
  if close_code_fault && matches!(t.1, End::Closed(1002) | End::Utf8) {
    t.1 = End::Protocol;
  }
  // A header over the size limit that breaks another rule too: tungstenite
  // checks the length first, we (as ws) the opcode and flags.
  if failed(o.1) && failed(t.1) && (o.1 == End::Size || t.1 == End::Size) {
    t.1 = o.1;
  }
  (o, t)
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
  proptest::collection::vec(1usize..700, 1..8)
}

proptest! {
  #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

  #[test]
  fn valid_streams_parse_the_same(msgs in proptest::collection::vec(msg(), 0..10), parts in 1usize..5,
                                   mask in any::<[u8; 4]>(), cuts in cuts()) {
    let input = encode(&msgs, parts, mask);
    let (o, t) = verdicts(&input, &cuts);
    prop_assert_eq!(o, t);
  }

  #[test]
  fn corrupted_streams_fail_the_same(msgs in proptest::collection::vec(msg(), 1..6), parts in 1usize..4,
                                      mask in any::<[u8; 4]>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                                      cuts in cuts()) {
    let mut input = encode(&msgs, parts, mask);
    for (at, x) in flips {
      let i = at % input.len();
      input[i] ^= x;
    }
    let (o, t) = verdicts(&input, &cuts);
    prop_assert_eq!(o, t);
  }

  #[test]
  fn random_bytes_fail_the_same(input in proptest::collection::vec(any::<u8>(), 0..1024), cuts in cuts()) {
    let (o, t) = verdicts(&input, &cuts);
    prop_assert_eq!(o, t);
  }
}

/// The server side of a real connection, against tungstenite's client on a
/// real socket: a message each way, a ping answered, and a clean close.
#[test]
fn a_tungstenite_client_talks_to_our_codec_over_tcp() {
  use std::net::{TcpListener, TcpStream};
  let listener = TcpListener::bind("127.0.0.1:0").unwrap();
  let addr = listener.local_addr().unwrap();
  let client = std::thread::spawn(move || {
    let stream = TcpStream::connect(addr).unwrap();
    let mut ws = WebSocket::from_raw_socket(stream, Role::Client, None);
    ws.send(Message::text("hello")).unwrap();
    ws.send(Message::Ping(b"p".to_vec().into())).unwrap();
    let mut got = Vec::new();
    loop {
      match ws.read() {
        Ok(Message::Close(c)) => {
          got.push(format!("close {}", c.map_or(1005, |c| u16::from(c.code))));
        }
        Ok(m) => got.push(format!("{m:?}")),
        Err(tungstenite::Error::ConnectionClosed) => break,
        Err(e) => panic!("{e}"),
      }
    }
    got
  });
  let (mut server, _) = listener.accept().unwrap();
  let limits = Limits { max_payload: MAX as u64, max_fragments: 0, skip_utf8_validation: false, expect_masked: true };
  let (mut rx, mut sink, mut buf) = (Receiver::new(), Collect(Seen::default(), None), Vec::new());
  while sink.0.events.len() < 2 {
    let mut chunk = [0u8; 512];
    let n = server.read(&mut chunk).unwrap();
    assert!(n > 0, "the client closed early");
    buf.extend_from_slice(&chunk[..n]);
    if let Progress::More { consumed, .. } = rx.feed(&mut buf, &limits, &mut sink) {
      buf.drain(..consumed);
    }
  }
  assert_eq!(sink.0.events, vec![("text", b"hello".to_vec()), ("ping", b"p".to_vec())]);
  let mut out = Vec::new();
  frame::write_frame(&mut out, true, frame::OP_PONG, b"p", None);
  frame::write_frame(&mut out, true, frame::OP_TEXT, b"back", None);
  frame::write_close(&mut out, Some(1000), b"", None);
  server.write_all(&out).unwrap();
  // The client answers our close; then we end the TCP connection (§7.1.1).
  let mut rest = Vec::new();
  let mut chunk = [0u8; 64];
  while !matches!(rx.feed(&mut rest, &limits, &mut sink), Progress::Closed { .. }) {
    let n = server.read(&mut chunk).unwrap();
    assert!(n > 0);
    rest.extend_from_slice(&chunk[..n]);
  }
  drop(server);
  let got = client.join().unwrap();
  assert_eq!(got, vec!["Pong(b\"p\")".to_string(), "Text(Utf8Bytes(b\"back\"))".to_string(), "close 1000".to_string()]);
}

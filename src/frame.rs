//! RFC 6455 framing: the incremental frame parser (`Receiver`) and the frame
//! writer. Pure Rust with no I/O, so it is unit-tested and fuzzed on its own.
//!
//! The parser validates exactly what ws's `Receiver` validates, in the same
//! order, and reports the same error codes, messages and close codes.

use crate::deflate::{InflateError, Inflater};

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// A protocol fault found in what the peer sent. Each maps to one of ws's
/// `WS_ERR_*` codes, its message and the close code sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
  Rsv23,
  Rsv1,
  InvalidOpcode(u8),
  ExpectedFin,
  ControlPayloadLength(u8),
  ExpectedMask,
  UnexpectedMask,
  PayloadLength53,
  MaxPayload,
  TooManyFragments,
  InvalidUtf8,
  InvalidCloseCode(u16),
  /// A compressed message that is not valid DEFLATE (zlib's message).
  Inflate(&'static str),
}

impl ProtocolError {
  /// ws's `err.code`.
  pub fn code(&self) -> &'static str {
    match self {
      Self::Rsv23 => "WS_ERR_UNEXPECTED_RSV_2_3",
      Self::Rsv1 => "WS_ERR_UNEXPECTED_RSV_1",
      Self::InvalidOpcode(_) => "WS_ERR_INVALID_OPCODE",
      Self::ExpectedFin => "WS_ERR_EXPECTED_FIN",
      Self::ControlPayloadLength(_) => "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
      Self::ExpectedMask => "WS_ERR_EXPECTED_MASK",
      Self::UnexpectedMask => "WS_ERR_UNEXPECTED_MASK",
      Self::PayloadLength53 => "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
      Self::MaxPayload => "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      Self::TooManyFragments => "WS_ERR_TOO_MANY_BUFFERED_PARTS",
      Self::InvalidUtf8 => "WS_ERR_INVALID_UTF8",
      Self::InvalidCloseCode(_) => "WS_ERR_INVALID_CLOSE_CODE",
      // zlib's code, as ws passes its inflate error on.
      Self::Inflate(_) => "Z_DATA_ERROR",
    }
  }

  /// ws's `err.message`.
  pub fn message(&self) -> String {
    let frame = |m: &str| format!("Invalid WebSocket frame: {m}");
    match self {
      Self::Rsv23 => frame("RSV2 and RSV3 must be clear"),
      Self::Rsv1 => frame("RSV1 must be clear"),
      Self::InvalidOpcode(op) => frame(&format!("invalid opcode {op}")),
      Self::ExpectedFin => frame("FIN must be set"),
      Self::ControlPayloadLength(n) => frame(&format!("invalid payload length {n}")),
      Self::ExpectedMask => frame("MASK must be set"),
      Self::UnexpectedMask => frame("MASK must be clear"),
      Self::PayloadLength53 => "Unsupported WebSocket frame: payload length > 2^53 - 1".into(),
      Self::MaxPayload => "Max payload size exceeded".into(),
      Self::TooManyFragments => "Too many message fragments".into(),
      Self::InvalidUtf8 => frame("invalid UTF-8 sequence"),
      Self::InvalidCloseCode(c) => frame(&format!("invalid status code {c}")),
      Self::Inflate(m) => (*m).to_string(),
    }
  }

  /// The close code sent to the peer.
  pub fn close_code(&self) -> u16 {
    match self {
      Self::InvalidUtf8 | Self::Inflate(_) => 1007,
      Self::PayloadLength53 | Self::MaxPayload => 1009,
      Self::TooManyFragments => 1008,
      _ => 1002,
    }
  }

  /// ws throws `RangeError` for all but the UTF-8 and zlib errors, which
  /// are plain `Error`s.
  pub fn is_range_error(&self) -> bool {
    !matches!(self, Self::InvalidUtf8 | Self::Inflate(_))
  }
}

/// `isValidStatusCode` from ws: what may appear in a close frame.
pub fn is_valid_close_code(code: u16) -> bool {
  (1000..=1014).contains(&code) && !matches!(code, 1004..=1006) || (3000..=4999).contains(&code)
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
  /// 0 = no limit.
  pub max_payload: u64,
  /// 0 = no limit.
  pub max_fragments: u32,
  pub skip_utf8_validation: bool,
  /// Server role: frames from the peer must be masked. Client role: must not be.
  pub expect_masked: bool,
}

/// What the parser found. Payload bytes are handed over unmasked.
pub trait Sink {
  /// A complete (and, for text, valid UTF-8) data message. `at` is where
  /// `payload` starts in the input given to `feed` (unmasked there in place),
  /// or `None` when it was reassembled from fragments. Returning false
  /// pauses parsing right after this frame (`Progress::Paused`), so that
  /// the sink can take the input buffer over.
  fn message(&mut self, binary: bool, payload: &[u8], at: Option<usize>) -> bool;
  fn ping(&mut self, payload: &[u8]);
  fn pong(&mut self, payload: &[u8]);
  /// A valid close frame. `code` is 1005 when the frame had no body.
  fn close(&mut self, code: u16, reason: &[u8]);
}

/// Outcome of feeding bytes to the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
  /// `consumed` bytes were used; the rest is an incomplete frame. `need` is
  /// how many bytes the incomplete frame needs in total (a capacity hint).
  More {
    consumed: usize,
    need: usize,
  },
  /// A close frame was received; nothing after it is read.
  Closed {
    consumed: usize,
  },
  /// The sink asked to pause after the frame ending at `consumed`.
  Paused {
    consumed: usize,
  },
  Error(ProtocolError),
}

/// Incremental frame parser with the state of a fragmented message.
#[derive(Default)]
pub struct Receiver {
  /// Opcode of the message being reassembled (0 = none).
  frag_opcode: u8,
  frag: Vec<u8>,
  frag_count: u32,
  /// For text being reassembled: how far `frag` is known to be valid UTF-8.
  utf8_valid_to: usize,
  /// permessage-deflate was negotiated (RFC 7692): RSV1 marks a compressed
  /// message, inflated here.
  inflater: Option<Box<Inflater>>,
  /// The message being reassembled is compressed.
  frag_compressed: bool,
}

impl Receiver {
  pub fn new() -> Self {
    Self::default()
  }

  /// A parser for a connection that negotiated permessage-deflate;
  /// `takeover`: the peer keeps its compression context between messages,
  /// within a window of `window_bits`.
  pub fn with_deflate(takeover: bool, window_bits: u8) -> Self {
    Receiver { inflater: Some(Box::new(Inflater::new(takeover, window_bits))), ..Self::default() }
  }

  /// Parses as many whole frames from `input` as there are. The payloads of
  /// whole frames are unmasked in place.
  pub fn feed(&mut self, input: &mut [u8], limits: &Limits, sink: &mut dyn Sink) -> Progress {
    let mut pos = 0;
    loop {
      let buf = &input[pos..];
      if buf.len() < 2 {
        return Progress::More { consumed: pos, need: 2 };
      }
      let (b0, b1) = (buf[0], buf[1]);
      let fin = b0 & 0x80 != 0;
      let opcode = b0 & 0x0f;
      let len7 = b1 & 0x7f;
      if b0 & 0x30 != 0 {
        return Progress::Error(ProtocolError::Rsv23);
      }
      // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message;
      // it is a fault anywhere else (control frames, continuations, or a
      // connection that did not negotiate compression).
      let rsv1 = b0 & 0x40 != 0;
      if rsv1 && (self.inflater.is_none() || !matches!(opcode, OP_TEXT | OP_BINARY)) {
        return Progress::Error(ProtocolError::Rsv1);
      }
      let control = match opcode {
        OP_CONT => {
          if self.frag_opcode == 0 {
            return Progress::Error(ProtocolError::InvalidOpcode(0));
          }
          false
        }
        OP_TEXT | OP_BINARY => {
          if self.frag_opcode != 0 {
            return Progress::Error(ProtocolError::InvalidOpcode(opcode));
          }
          false
        }
        OP_CLOSE | OP_PING | OP_PONG => {
          if !fin {
            return Progress::Error(ProtocolError::ExpectedFin);
          }
          if len7 > 125 || (opcode == OP_CLOSE && len7 == 1) {
            return Progress::Error(ProtocolError::ControlPayloadLength(len7));
          }
          true
        }
        _ => return Progress::Error(ProtocolError::InvalidOpcode(opcode)),
      };
      let masked = b1 & 0x80 != 0;
      if limits.expect_masked && !masked {
        return Progress::Error(ProtocolError::ExpectedMask);
      }
      if !limits.expect_masked && masked {
        return Progress::Error(ProtocolError::UnexpectedMask);
      }
      let ext = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
      };
      let header = 2 + ext + if masked { 4 } else { 0 };
      if buf.len() < 2 + ext {
        return Progress::More { consumed: pos, need: header };
      }
      let len: u64 = match len7 {
        126 => u16::from_be_bytes([buf[2], buf[3]]) as u64,
        127 => {
          let n = u64::from_be_bytes(buf[2..10].try_into().unwrap());
          if n >> 53 != 0 {
            return Progress::Error(ProtocolError::PayloadLength53);
          }
          n
        }
        n => n as u64,
      };
      let compressed = rsv1 || (opcode == OP_CONT && self.frag_compressed);
      // The limit is on the message as delivered: for a compressed one it is
      // checked while inflating; its compressed bytes are bounded here with
      // room for DEFLATE's worst case (stored blocks: 5 bytes per 64 KiB).
      let max = limits.max_payload;
      let bound = if compressed { max.saturating_add(max / 8192 + 64) } else { max };
      if !control && len > 0 && max > 0 && self.frag.len() as u64 + len > bound {
        return Progress::Error(ProtocolError::MaxPayload);
      }
      let total = header as u64 + len;
      if (buf.len() as u64) < total {
        let need = total.min(usize::MAX as u64) as usize;
        return Progress::More { consumed: pos, need };
      }
      let len = len as usize;
      let mask = if masked { Some([buf[header - 4], buf[header - 3], buf[header - 2], buf[header - 1]]) } else { None };
      let at = pos + header;
      pos += header + len;
      let payload = &mut input[at..at + len];
      if let Some(m) = mask {
        xor_mask(payload, m);
      }
      let payload = &input[at..at + len];

      if control {
        let data = payload;
        match opcode {
          OP_PING => sink.ping(data),
          OP_PONG => sink.pong(data),
          _ => {
            if len == 0 {
              sink.close(1005, &[]);
            } else {
              let code = u16::from_be_bytes([data[0], data[1]]);
              if !is_valid_close_code(code) {
                return Progress::Error(ProtocolError::InvalidCloseCode(code));
              }
              let reason = &data[2..];
              if !limits.skip_utf8_validation && simdutf8::basic::from_utf8(reason).is_err() {
                return Progress::Error(ProtocolError::InvalidUtf8);
              }
              sink.close(code, reason);
            }
            return Progress::Closed { consumed: pos };
          }
        }
        continue;
      }

      if limits.max_fragments > 0 {
        self.frag_count += 1;
        if self.frag_count > limits.max_fragments {
          return Progress::Error(ProtocolError::TooManyFragments);
        }
      }

      if fin && self.frag_opcode == 0 && compressed {
        // A whole compressed message in one frame.
        self.frag_count = 0;
        match self.inflate_and_check(opcode, payload, limits) {
          Ok(msg) => {
            sink.message(opcode == OP_BINARY, &msg, None);
            continue;
          }
          Err(e) => return Progress::Error(e),
        }
      }

      if fin && self.frag_opcode == 0 {
        // The common case: a whole message in one frame, unmasked straight
        // into the sink's buffer.
        self.frag_count = 0;
        if opcode == OP_TEXT && !limits.skip_utf8_validation && simdutf8::basic::from_utf8(payload).is_err() {
          return Progress::Error(ProtocolError::InvalidUtf8);
        }
        if !sink.message(opcode == OP_BINARY, payload, Some(at)) {
          return Progress::Paused { consumed: pos };
        }
        continue;
      }

      if opcode != OP_CONT {
        self.frag_opcode = opcode;
        self.utf8_valid_to = 0;
        self.frag_compressed = compressed;
      }
      self.frag.extend_from_slice(payload);
      if compressed {
        if fin {
          let op = self.frag_opcode;
          let data = std::mem::take(&mut self.frag);
          self.frag_opcode = 0;
          self.frag_count = 0;
          self.frag_compressed = false;
          match self.inflate_and_check(op, &data, limits) {
            Ok(msg) => sink.message(op == OP_BINARY, &msg, None),
            Err(e) => return Progress::Error(e),
          };
        }
        continue;
      }
      let text = self.frag_opcode == OP_TEXT && !limits.skip_utf8_validation;
      if text && !fin {
        // Fail fast on a fragment that can never become valid UTF-8.
        match simdutf8::compat::from_utf8(&self.frag[self.utf8_valid_to..]) {
          Ok(_) => self.utf8_valid_to = self.frag.len(),
          Err(e) if e.error_len().is_none() => self.utf8_valid_to += e.valid_up_to(),
          Err(_) => return Progress::Error(ProtocolError::InvalidUtf8),
        }
      }
      if fin {
        let binary = self.frag_opcode == OP_BINARY;
        let msg = std::mem::take(&mut self.frag);
        self.frag_opcode = 0;
        self.frag_count = 0;
        if text && simdutf8::basic::from_utf8(&msg[self.utf8_valid_to..]).is_err() {
          return Progress::Error(ProtocolError::InvalidUtf8);
        }
        sink.message(binary, &msg, None);
        if msg.capacity() <= 4096 {
          // Keep a small buffer for the next fragmented message.
          self.frag = msg;
          self.frag.clear();
        }
      }
    }
  }
}

impl Receiver {
  /// A compressed message's payload, inflated within `max_payload`, and for
  /// text checked as UTF-8.
  fn inflate_and_check(&mut self, opcode: u8, data: &[u8], limits: &Limits) -> Result<Vec<u8>, ProtocolError> {
    let inflater = self.inflater.as_mut().expect("compressed only where negotiated");
    let mut msg = Vec::new();
    inflater.inflate(data, limits.max_payload as usize, &mut msg).map_err(|e| match e {
      InflateError::TooLarge => ProtocolError::MaxPayload,
      InflateError::Corrupt(m) => ProtocolError::Inflate(m),
    })?;
    if opcode == OP_TEXT && !limits.skip_utf8_validation && simdutf8::basic::from_utf8(&msg).is_err() {
      return Err(ProtocolError::InvalidUtf8);
    }
    Ok(msg)
  }
}

/// Appends `src` to `out`, XOR-ing with the mask if any: a memcpy, then an
/// in-place XOR over fixed-size blocks that the compiler vectorises.
pub fn unmask_extend(out: &mut Vec<u8>, src: &[u8], mask: Option<[u8; 4]>) {
  let start = out.len();
  out.extend_from_slice(src);
  if let Some(m) = mask {
    xor_mask(&mut out[start..], m);
  }
}

/// XORs `buf` with the 4-byte mask repeated from its first byte.
pub fn xor_mask(buf: &mut [u8], mask: [u8; 4]) {
  let mut pattern = [0u8; 64];
  for (i, p) in pattern.iter_mut().enumerate() {
    *p = mask[i & 3];
  }
  let mut blocks = buf.chunks_exact_mut(64);
  for block in &mut blocks {
    for (b, p) in block.iter_mut().zip(pattern.iter()) {
      *b ^= p;
    }
  }
  // Blocks are a multiple of 4 long, so the remainder starts in phase.
  for (i, b) in blocks.into_remainder().iter_mut().enumerate() {
    *b ^= mask[i & 3];
  }
}

/// Appends a frame header for a frame the server sends (unmasked) or the
/// client sends (masked with `mask`).
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: usize, mask: Option<[u8; 4]>) {
  let b0 = (if fin { 0x80 } else { 0 }) | opcode;
  let mbit = if mask.is_some() { 0x80 } else { 0 };
  if len < 126 {
    out.extend_from_slice(&[b0, mbit | len as u8]);
  } else if len <= 0xffff {
    out.extend_from_slice(&[b0, mbit | 126]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
  } else {
    out.extend_from_slice(&[b0, mbit | 127]);
    out.extend_from_slice(&(len as u64).to_be_bytes());
  }
  if let Some(m) = mask {
    out.extend_from_slice(&m);
  }
}

/// Appends a whole frame.
pub fn write_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
  write_header(out, fin, opcode, payload.len(), mask);
  unmask_extend(out, payload, mask);
}

/// Appends a compressed message's frame: RSV1 set (RFC 7692 §6), `payload`
/// already deflated.
pub fn write_compressed_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
  let at = out.len();
  write_frame(out, fin, opcode, payload, mask);
  out[at] |= 0x40;
}

/// Appends a close frame: no body for `None`, else code + reason.
pub fn write_close(out: &mut Vec<u8>, code: Option<u16>, reason: &[u8], mask: Option<[u8; 4]>) {
  match code {
    None => write_frame(out, true, OP_CLOSE, &[], mask),
    Some(c) => {
      let mut body = Vec::with_capacity(2 + reason.len());
      body.extend_from_slice(&c.to_be_bytes());
      body.extend_from_slice(reason);
      write_frame(out, true, OP_CLOSE, &body, mask);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[derive(Default, Debug, PartialEq)]
  struct Rec {
    events: Vec<String>,
  }
  impl Sink for Rec {
    fn message(&mut self, binary: bool, v: &[u8], _at: Option<usize>) -> bool {
      self.events.push(format!("{}:{}", if binary { "bin" } else { "text" }, String::from_utf8_lossy(v)));
      true
    }
    fn ping(&mut self, p: &[u8]) {
      self.events.push(format!("ping:{}", String::from_utf8_lossy(p)));
    }
    fn pong(&mut self, p: &[u8]) {
      self.events.push(format!("pong:{}", String::from_utf8_lossy(p)));
    }
    fn close(&mut self, code: u16, r: &[u8]) {
      self.events.push(format!("close:{code}:{}", String::from_utf8_lossy(r)));
    }
  }

  const SERVER: Limits =
    Limits { max_payload: 1 << 20, max_fragments: 0, skip_utf8_validation: false, expect_masked: true };
  const MASK: Option<[u8; 4]> = Some([1, 2, 3, 4]);

  fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_frame(&mut v, fin, op, payload, MASK);
    v
  }

  fn run(input: &[u8], limits: &Limits) -> (Rec, Progress) {
    let mut r = Receiver::new();
    let mut rec = Rec::default();
    let p = r.feed(&mut input.to_vec(), limits, &mut rec);
    (rec, p)
  }

  #[test]
  fn text_binary_and_control() {
    let mut input = frame(true, OP_TEXT, b"hello");
    input.extend(frame(true, OP_BINARY, &[0xff, 0x00]));
    input.extend(frame(true, OP_PING, b"p"));
    input.extend(frame(true, OP_PONG, b""));
    let (rec, p) = run(&input, &SERVER);
    assert_eq!(rec.events, vec!["text:hello", "bin:\u{fffd}\u{0}", "ping:p", "pong:"]);
    assert_eq!(p, Progress::More { consumed: input.len(), need: 2 });
  }

  #[test]
  fn byte_at_a_time_gives_the_same_result() {
    let mut input = frame(true, OP_TEXT, &vec![b'x'; 300]);
    input.extend(frame(false, OP_TEXT, b"ab"));
    input.extend(frame(true, OP_PING, b"mid"));
    input.extend(frame(true, OP_CONT, b"cd"));
    input.extend(frame(true, OP_BINARY, &vec![7u8; 70_000]));
    let (whole, _) = run(&input, &SERVER);
    let mut r = Receiver::new();
    let mut rec = Rec::default();
    let mut buf = Vec::new();
    for b in &input {
      buf.push(*b);
      match r.feed(&mut buf.clone(), &SERVER, &mut rec) {
        Progress::More { consumed, .. } => {
          buf.drain(..consumed);
        }
        other => panic!("{other:?}"),
      }
    }
    assert!(buf.is_empty());
    assert_eq!(rec, whole);
    assert_eq!(whole.events.len(), 4);
    assert_eq!(whole.events[1], "ping:mid");
    assert_eq!(whole.events[2], "text:abcd");
  }

  #[test]
  fn close_frames() {
    let mut body = 1000u16.to_be_bytes().to_vec();
    body.extend_from_slice(b"bye");
    let mut input = frame(true, OP_CLOSE, &body);
    input.extend(frame(true, OP_TEXT, b"after close is not read"));
    let (rec, p) = run(&input, &SERVER);
    assert_eq!(rec.events, vec!["close:1000:bye"]);
    assert_eq!(p, Progress::Closed { consumed: input.len() - frame(true, OP_TEXT, b"after close is not read").len() });
    let (rec, _) = run(&frame(true, OP_CLOSE, b""), &SERVER);
    assert_eq!(rec.events, vec!["close:1005:"]);
    let (_, p) = run(&frame(true, OP_CLOSE, &1005u16.to_be_bytes()), &SERVER);
    assert_eq!(p, Progress::Error(ProtocolError::InvalidCloseCode(1005)));
    let (_, p) = run(&frame(true, OP_CLOSE, &[0x03, 0xe8, 0xff]), &SERVER);
    assert_eq!(p, Progress::Error(ProtocolError::InvalidUtf8));
    let (_, p) = run(&frame(true, OP_CLOSE, &[0x03]), &SERVER);
    assert_eq!(p, Progress::Error(ProtocolError::ControlPayloadLength(1)));
  }

  #[test]
  fn protocol_errors_match_ws() {
    let mut unmasked = Vec::new();
    write_frame(&mut unmasked, true, OP_TEXT, b"hi", None);
    assert_eq!(run(&unmasked, &SERVER).1, Progress::Error(ProtocolError::ExpectedMask));
    let client = Limits { expect_masked: false, ..SERVER };
    assert_eq!(run(&frame(true, OP_TEXT, b"x"), &client).1, Progress::Error(ProtocolError::UnexpectedMask));
    let mut f = frame(true, OP_TEXT, b"x");
    f[0] |= 0x40;
    assert_eq!(run(&f, &SERVER).1, Progress::Error(ProtocolError::Rsv1));
    f[0] = 0x80 | 0x20 | OP_TEXT;
    assert_eq!(run(&f, &SERVER).1, Progress::Error(ProtocolError::Rsv23));
    assert_eq!(run(&frame(true, 3, b""), &SERVER).1, Progress::Error(ProtocolError::InvalidOpcode(3)));
    assert_eq!(run(&frame(true, 0xB, b""), &SERVER).1, Progress::Error(ProtocolError::InvalidOpcode(11)));
    assert_eq!(run(&frame(true, OP_CONT, b"x"), &SERVER).1, Progress::Error(ProtocolError::InvalidOpcode(0)));
    assert_eq!(run(&frame(false, OP_PING, b""), &SERVER).1, Progress::Error(ProtocolError::ExpectedFin));
    assert_eq!(
      run(&frame(true, OP_PING, &[0; 126]), &SERVER).1,
      Progress::Error(ProtocolError::ControlPayloadLength(126))
    );
    let mut two = frame(false, OP_TEXT, b"a");
    two.extend(frame(true, OP_BINARY, b"b"));
    assert_eq!(run(&two, &SERVER).1, Progress::Error(ProtocolError::InvalidOpcode(2)));
    assert_eq!(run(&frame(true, OP_TEXT, &[0xc3, 0x28]), &SERVER).1, Progress::Error(ProtocolError::InvalidUtf8));
    let skip = Limits { skip_utf8_validation: true, ..SERVER };
    assert_eq!(run(&frame(true, OP_TEXT, &[0xc3, 0x28]), &skip).0.events.len(), 1);
    let e = ProtocolError::InvalidOpcode(3);
    assert_eq!(e.message(), "Invalid WebSocket frame: invalid opcode 3");
    assert_eq!((e.code(), e.close_code()), ("WS_ERR_INVALID_OPCODE", 1002));
  }

  #[test]
  fn max_payload_is_checked_before_the_payload_arrives() {
    let small = Limits { max_payload: 10, ..SERVER };
    let f = frame(true, OP_BINARY, &[0; 11]);
    assert_eq!(run(&f[..4], &small).1, Progress::Error(ProtocolError::MaxPayload));
    assert_eq!(run(&frame(true, OP_BINARY, &[0; 10]), &small).0.events.len(), 1);
    // Across fragments.
    let mut frags = frame(false, OP_BINARY, &[0; 6]);
    frags.extend(frame(true, OP_CONT, &[0; 6]));
    assert_eq!(run(&frags, &small).1, Progress::Error(ProtocolError::MaxPayload));
    // 2^53 limit.
    let mut huge = vec![0x82, 0xff];
    huge.extend_from_slice(&(1u64 << 53).to_be_bytes());
    assert_eq!(run(&huge, &SERVER).1, Progress::Error(ProtocolError::PayloadLength53));
    assert_eq!(ProtocolError::MaxPayload.close_code(), 1009);
  }

  #[test]
  fn fragment_cap_and_fail_fast_utf8() {
    let capped = Limits { max_fragments: 2, ..SERVER };
    let mut frags = frame(false, OP_TEXT, b"a");
    frags.extend(frame(false, OP_CONT, b"b"));
    frags.extend(frame(true, OP_CONT, b"c"));
    assert_eq!(run(&frags, &capped).1, Progress::Error(ProtocolError::TooManyFragments));
    assert_eq!(run(&frags, &SERVER).0.events, vec!["text:abc"]);
    // A multi-byte character split across fragments is fine...
    let mut split = frame(false, OP_TEXT, &[0xe2, 0x82]);
    split.extend(frame(true, OP_CONT, &[0xac]));
    assert_eq!(run(&split, &SERVER).0.events, vec!["text:\u{20ac}"]);
    // ...but an impossible byte fails before the message ends.
    let bad = frame(false, OP_TEXT, &[b'a', 0xff]);
    assert_eq!(run(&bad, &SERVER).1, Progress::Error(ProtocolError::InvalidUtf8));
  }

  #[test]
  fn unmask_matches_bytewise() {
    let src: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let mask = [9, 8, 7, 6];
    let mut a = src.clone();
    xor_mask(&mut a, mask);
    let b: Vec<u8> = src.iter().enumerate().map(|(i, x)| x ^ mask[i & 3]).collect();
    assert_eq!(a, b);
    for cut in [0, 1, 7, 8, 9, 999] {
      let mut c = vec![42u8];
      unmask_extend(&mut c, &src[..cut], Some(mask));
      assert_eq!(&c[1..], &b[..cut]);
      assert_eq!(c[0], 42);
    }
  }

  #[test]
  fn headers_use_the_shortest_length_encoding() {
    for (len, hdr) in [(125usize, 2usize), (126, 4), (65535, 4), (65536, 10)] {
      let mut v = Vec::new();
      write_header(&mut v, true, OP_BINARY, len, None);
      assert_eq!(v.len(), hdr, "len {len}");
    }
  }

  /// A frame with RSV1 set (a compressed message's first frame).
  fn rsv1(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = frame(fin, op, payload);
    v[0] |= 0x40;
    v
  }

  fn deflated(data: &[u8]) -> Vec<u8> {
    let mut z = Vec::new();
    crate::deflate::Deflater::new(crate::deflate::Settings::default(), false).deflate(data, &mut z);
    z
  }

  fn run_deflate(input: &[u8], limits: &Limits) -> (Rec, Progress) {
    let mut r = Receiver::with_deflate(false, 15);
    let mut rec = Rec::default();
    let p = r.feed(&mut input.to_vec(), limits, &mut rec);
    (rec, p)
  }

  #[test]
  fn compressed_messages_whole_and_fragmented() {
    let z = deflated(b"hello hello hello");
    let mut input = rsv1(true, OP_TEXT, &z);
    let (a, b) = z.split_at(z.len() / 2);
    input.extend(rsv1(false, OP_BINARY, a));
    input.extend(frame(true, OP_PING, b"between"));
    input.extend(frame(true, OP_CONT, b));
    input.extend(frame(true, OP_TEXT, b"plain"));
    let (rec, p) = run_deflate(&input, &SERVER);
    assert_eq!(rec.events, vec!["text:hello hello hello", "ping:between", "bin:hello hello hello", "text:plain"]);
    assert!(matches!(p, Progress::More { .. }));
  }

  #[test]
  fn rsv1_where_it_may_not_be() {
    // On a connection without compression (RFC 7692 §6.1 / RFC 6455 §5.2).
    let z = deflated(b"x");
    assert_eq!(run(&rsv1(true, OP_TEXT, &z), &SERVER).1, Progress::Error(ProtocolError::Rsv1));
    // On a control frame, or a continuation.
    assert_eq!(run_deflate(&rsv1(true, OP_PING, b""), &SERVER).1, Progress::Error(ProtocolError::Rsv1));
    let mut input = rsv1(false, OP_TEXT, &z);
    input.extend(rsv1(true, OP_CONT, b""));
    assert_eq!(run_deflate(&input, &SERVER).1, Progress::Error(ProtocolError::Rsv1));
  }

  #[test]
  fn compressed_faults_get_their_close_codes() {
    // A bomb: 16 MiB of zeros in a few KiB, past a 1 MiB maxPayload: 1009.
    let z = deflated(&vec![0u8; 16 << 20]);
    let (_, p) = run_deflate(&rsv1(true, OP_BINARY, &z), &SERVER);
    assert_eq!(p, Progress::Error(ProtocolError::MaxPayload));
    assert_eq!(ProtocolError::MaxPayload.close_code(), 1009);
    // Not DEFLATE: 1007 with zlib's code.
    let (_, p) = run_deflate(&rsv1(true, OP_BINARY, &[0xff, 0xff, 0xff]), &SERVER);
    let Progress::Error(e) = p else { panic!("{p:?}") };
    assert_eq!((e.close_code(), e.code(), e.is_range_error()), (1007, "Z_DATA_ERROR", false));
    // Text that inflates to invalid UTF-8: 1007.
    let (_, p) = run_deflate(&rsv1(true, OP_TEXT, &deflated(&[b'a', 0xff])), &SERVER);
    assert_eq!(p, Progress::Error(ProtocolError::InvalidUtf8));
  }
}

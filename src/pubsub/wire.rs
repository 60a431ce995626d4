//! What a publish looks like on a Redis channel (pure, unit-tested).
//!
//! The channel is the settings' prefix followed by the topic; the message
//! is an 11-byte header, then the payload as the publisher gave it:
//!
//! ```text
//! [b'W'][version 1][opcode: 1 text, 2 binary][origin: 8 bytes][payload...]
//! ```
//!
//! The origin is the publishing process's random id: a process has already
//! fanned its own publish out locally, and ignores the copy Redis sends
//! back. Anything else on a channel (another program's message, a truncated
//! one, text that is not UTF-8) is malformed: counted and ignored.

use crate::frame::{OP_BINARY, OP_TEXT};

pub const MAGIC: u8 = b'W';
pub const VERSION: u8 = 1;
pub const HEADER: usize = 11;

/// A process's id on the channels.
pub type Origin = [u8; 8];

/// The message for `payload` published by `origin`.
pub fn encode(origin: &Origin, opcode: u8, payload: &[u8]) -> Vec<u8> {
  let mut m = Vec::with_capacity(HEADER + payload.len());
  m.extend_from_slice(&[MAGIC, VERSION, opcode]);
  m.extend_from_slice(origin);
  m.extend_from_slice(payload);
  m
}

/// A message read from a channel.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
  pub origin: Origin,
  pub opcode: u8,
  pub payload: &'a [u8],
}

/// Why a message on a channel is not one of ours.
#[derive(Debug, PartialEq, Eq)]
pub enum Malformed {
  Short,
  Magic,
  Version,
  Opcode,
  /// A text message whose payload is not UTF-8 (a client would fail the
  /// connection with 1007 on it).
  Utf8,
}

pub fn decode(m: &[u8]) -> Result<Decoded<'_>, Malformed> {
  if m.len() < HEADER {
    return Err(Malformed::Short);
  }
  if m[0] != MAGIC {
    return Err(Malformed::Magic);
  }
  if m[1] != VERSION {
    return Err(Malformed::Version);
  }
  let opcode = m[2];
  if opcode != OP_TEXT && opcode != OP_BINARY {
    return Err(Malformed::Opcode);
  }
  let payload = &m[HEADER..];
  if opcode == OP_TEXT && simdutf8::basic::from_utf8(payload).is_err() {
    return Err(Malformed::Utf8);
  }
  Ok(Decoded { origin: m[3..HEADER].try_into().expect("8 bytes"), opcode, payload })
}

/// The topic of a message on `channel`, if the channel has our prefix (and
/// the topic is UTF-8, as every topic JS subscribes to is).
pub fn topic<'a>(prefix: &str, channel: &'a [u8]) -> Option<&'a str> {
  std::str::from_utf8(channel.strip_prefix(prefix.as_bytes())?).ok()
}

#[cfg(test)]
mod tests {
  use super::*;

  const ME: Origin = *b"12345678";

  #[test]
  fn round_trip_keeps_the_kind() {
    for (op, payload) in [(OP_TEXT, &b"hello"[..]), (OP_BINARY, &[0xff, 0, 1][..]), (OP_TEXT, &b""[..])] {
      let m = encode(&ME, op, payload);
      assert_eq!(m.len(), HEADER + payload.len());
      assert_eq!(decode(&m), Ok(Decoded { origin: ME, opcode: op, payload }));
    }
  }

  #[test]
  fn anything_else_is_malformed() {
    let good = encode(&ME, OP_TEXT, b"x");
    assert_eq!(decode(&good[..HEADER - 1]), Err(Malformed::Short));
    assert_eq!(decode(b"hello, not ours"), Err(Malformed::Magic));
    let mut v = good.clone();
    v[1] = 2;
    assert_eq!(decode(&v), Err(Malformed::Version));
    let mut v = good.clone();
    v[2] = 9; // a close frame's opcode is no message
    assert_eq!(decode(&v), Err(Malformed::Opcode));
    assert_eq!(decode(&encode(&ME, OP_TEXT, &[0xc3, 0x28])), Err(Malformed::Utf8));
    // The same bytes as binary are fine.
    assert!(decode(&encode(&ME, OP_BINARY, &[0xc3, 0x28])).is_ok());
  }

  #[test]
  fn topics_are_what_follows_the_prefix() {
    assert_eq!(topic("wsrs:", b"wsrs:room/1"), Some("room/1"));
    assert_eq!(topic("wsrs:", b"other:room"), None);
    assert_eq!(topic("", b"room"), Some("room"));
    assert_eq!(topic("wsrs:", b"wsrs:\xff"), None);
  }
}

//! Publishes beyond one instance: to every instance in the process (`hub`:
//! each worker thread's servers, each copy of the module), and through
//! Redis pub/sub to every process that names the same Redis (`link`, with
//! the message format of `wire`).
//!
//! A message is framed once, where it enters the process (a local publish,
//! or a message from Redis), into a `Published` that every receiving
//! instance shares: each instance's JS thread is woken once for what waits
//! in its mailbox, and fans it out to its subscribers in Rust (no JS per
//! recipient).

pub mod hub;
pub mod link;
pub mod wire;

use std::sync::Arc;

use crate::frame;

/// One message for the subscribers of a topic, framed once and shared by
/// every instance it is delivered to.
pub struct Published {
  pub topic: Arc<str>,
  pub opcode: u8,
  /// The frame as an uncompressed connection is sent it: header, payload.
  pub framed: Vec<u8>,
  header: usize,
}

impl Published {
  pub fn new(topic: Arc<str>, opcode: u8, payload: &[u8]) -> Published {
    let mut framed = Vec::with_capacity(payload.len() + 10);
    frame::write_frame(&mut framed, true, opcode, payload, None);
    let header = framed.len() - payload.len();
    Published { topic, opcode, framed, header }
  }

  pub fn payload(&self) -> &[u8] {
    &self.framed[self.header..]
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_frame_holds_the_payload() {
    for n in [0, 125, 126, 70_000] {
      let payload = vec![7u8; n];
      let p = Published::new("t".into(), frame::OP_BINARY, &payload);
      assert_eq!(p.payload(), &payload[..]);
      assert_eq!(p.framed[0], 0x80 | frame::OP_BINARY);
    }
  }
}

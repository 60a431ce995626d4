//! The HTTP side of the opening handshake: reading and parsing the request
//! head, the answers Node's HTTP server would give to requests that are not
//! upgrades (426) or not HTTP at all (400, 431), and the description of an
//! upgrade request handed to JS, where ws's policy (method, key, version,
//! path, verifyClient, handleProtocols, the `headers` event) runs.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A parsed request head.
#[derive(Debug, PartialEq)]
pub struct Request {
  pub method: String,
  pub url: String,
  /// Minor version of HTTP/1.x.
  pub minor: u8,
  /// Header names and values, as sent (JS decodes the values as latin1,
  /// as Node does).
  pub headers: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, PartialEq)]
pub enum ParseError {
  /// Not a valid HTTP/1.x request head: 400.
  Invalid,
  /// Head larger than the limit: 431.
  TooLarge,
}

const MAX_HEADERS: usize = 256;

/// Parses a request head. `Ok(None)` means more bytes are needed;
/// `Ok(Some((req, n)))` means the head took `n` bytes of `buf`.
pub fn parse(buf: &[u8], max_size: usize) -> Result<Option<(Request, usize)>, ParseError> {
  let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
  let mut req = httparse::Request::new(&mut headers);
  match req.parse(buf) {
    Ok(httparse::Status::Complete(n)) => {
      if n > max_size {
        return Err(ParseError::TooLarge);
      }
      let request = Request {
        method: req.method.unwrap_or("").to_string(),
        url: req.path.unwrap_or("").to_string(),
        minor: req.version.unwrap_or(1),
        headers: req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
      };
      Ok(Some((request, n)))
    }
    Ok(httparse::Status::Partial) => {
      if buf.len() > max_size {
        Err(ParseError::TooLarge)
      } else {
        Ok(None)
      }
    }
    Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooLarge),
    Err(_) => Err(ParseError::Invalid),
  }
}

impl Request {
  pub fn header(&self, name: &str) -> Option<&[u8]> {
    self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
  }

  /// Node's test for an upgrade: an `Upgrade` header and `upgrade` among the
  /// `Connection` tokens. Anything else is a plain request (426 from ws).
  pub fn is_upgrade(&self) -> bool {
    self.header("upgrade").is_some()
      && self
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .any(|(_, v)| v.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade")))
  }

  /// The description of this request that JS turns into an
  /// `http.IncomingMessage` (lib/websocket-server.js, `parseUpgrade`): its
  /// fields separated by NUL, which no request line or header can hold
  /// (httparse refuses control characters):
  ///
  /// ```text
  /// method, url, "1.<minor>", remote address, remote port, remote family,
  /// local address, local port, Sec-WebSocket-Accept (or ""), then each header's name and value
  /// ```
  ///
  /// Header values go as sent: JS reads the whole as latin1.
  pub fn encode(&self, peer: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let family = |a: &SocketAddr| if a.is_ipv4() { "IPv4" } else { "IPv6" };
    let accept = self.header("sec-websocket-key").map(accept_key).unwrap_or_default();
    let mut out = Vec::with_capacity(256 + self.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>());
    let mut field = |f: &[u8]| {
      out.extend_from_slice(f);
      out.push(0);
    };
    field(self.method.as_bytes());
    field(self.url.as_bytes());
    field(format!("1.{}", self.minor).as_bytes());
    field(peer.ip().to_string().as_bytes());
    field(peer.port().to_string().as_bytes());
    field(family(&peer).as_bytes());
    field(local.ip().to_string().as_bytes());
    field(local.port().to_string().as_bytes());
    field(accept.as_bytes());
    for (n, v) in &self.headers {
      field(n.as_bytes());
      field(v);
    }
    out.pop();
    out
  }
}

/// RFC 6455 §1.3's GUID, the one place it is written.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key (RFC 6455 §4.2.2):
/// for the requests Rust parses, and (`binding::accept_key`) the handshakes
/// JS completes.
pub fn accept_key(key: &[u8]) -> String {
  use base64::Engine;
  use sha1::{Digest, Sha1};
  let mut h = Sha1::new();
  h.update(key);
  h.update(GUID);
  base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// The body ws's internal HTTP server sends to a plain (non-upgrade) request.
pub fn response_426() -> Vec<u8> {
  b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 16\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nUpgrade Required"
    .to_vec()
}

/// What Node's HTTP server answers to bytes it cannot parse.
pub fn response_400() -> Vec<u8> {
  b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n".to_vec()
}

pub fn response_431() -> Vec<u8> {
  b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n".to_vec()
}

pub enum ReadOutcome {
  /// A request head, plus any bytes that came after it.
  Request(Request, Vec<u8>),
  /// Answer this and close.
  Reject(Vec<u8>),
  /// The peer went away or was too slow: just close.
  Drop,
}

/// Reads a request head from a fresh connection within `timeout`.
pub async fn read_request(stream: &mut TcpStream, max_size: usize, timeout: Duration) -> ReadOutcome {
  let read = async {
    let mut buf = Vec::with_capacity(1024);
    loop {
      if buf.capacity() - buf.len() < 512 {
        buf.reserve(1024);
      }
      match stream.read_buf(&mut buf).await {
        Ok(0) | Err(_) => return ReadOutcome::Drop,
        Ok(_) => {}
      }
      match parse(&buf, max_size) {
        Ok(Some((req, used))) => return ReadOutcome::Request(req, buf.split_off(used)),
        Ok(None) => continue,
        Err(ParseError::Invalid) => return ReadOutcome::Reject(response_400()),
        Err(ParseError::TooLarge) => return ReadOutcome::Reject(response_431()),
      }
    }
  };
  tokio::time::timeout(timeout, read).await.unwrap_or(ReadOutcome::Drop)
}

/// Reads an upgrade request (I/O thread). Anything else gets its HTTP
/// answer here, as Node's HTTP server would give it, and the socket is
/// closed: None. Returns the request and the bytes that followed its head.
pub async fn read_upgrade(stream: &mut TcpStream, max_size: usize, timeout: Duration) -> Option<(Request, Vec<u8>)> {
  let (req, leftover) = match read_request(stream, max_size, timeout).await {
    ReadOutcome::Request(req, rest) => (req, rest),
    ReadOutcome::Reject(answer) => {
      answer_and_close(stream, &answer).await;
      return None;
    }
    ReadOutcome::Drop => return None,
  };
  if !req.is_upgrade() {
    answer_and_close(stream, &response_426()).await;
    return None;
  }
  Some((req, leftover))
}

/// Writes `answer`, shuts the write side, and reads until the peer closes
/// (at most 2 s), so that unread bytes do not turn the close into a reset
/// that eats the answer.
async fn answer_and_close(stream: &mut TcpStream, answer: &[u8]) {
  use tokio::io::AsyncWriteExt;
  let _ = stream.write_all(answer).await;
  let _ = stream.shutdown().await;
  let mut buf = [0u8; 1024];
  let _ = tokio::time::timeout(Duration::from_secs(2), async {
    while let Ok(n) = stream.read(&mut buf).await {
      if n == 0 {
        break;
      }
    }
  })
  .await;
}

#[cfg(test)]
mod tests {
  use super::*;

  const UPGRADE: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nrest";

  #[test]
  fn parses_an_upgrade_and_keeps_what_follows() {
    let (req, n) = parse(UPGRADE, 16384).unwrap().unwrap();
    assert_eq!(&UPGRADE[n..], b"rest");
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, "/chat?x=1");
    assert_eq!(req.minor, 1);
    assert!(req.is_upgrade());
    assert_eq!(req.header("sec-websocket-version"), Some(&b"13"[..]));
  }

  #[test]
  fn partial_invalid_and_too_large() {
    assert_eq!(parse(&UPGRADE[..20], 16384), Ok(None));
    assert_eq!(parse(b"\x16\x03\x01garbage\r\n\r\n", 16384).unwrap_err(), ParseError::Invalid);
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(vec![b'a'; 20000]);
    assert_eq!(parse(&big, 16384).unwrap_err(), ParseError::TooLarge);
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse(&big, 16384).unwrap_err(), ParseError::TooLarge);
  }

  #[test]
  fn plain_requests_are_not_upgrades() {
    let (req, _) = parse(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 16384).unwrap().unwrap();
    assert!(!req.is_upgrade());
    let (req, _) = parse(b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", 16384).unwrap().unwrap();
    assert!(!req.is_upgrade());
  }

  #[test]
  fn the_description_for_js() {
    let (req, _) = parse(UPGRADE, 16384).unwrap().unwrap();
    let peer: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
    let local: SocketAddr = "[::ffff:127.0.0.1]:8080".parse().unwrap();
    let enc = req.encode(peer, local);
    let fields: Vec<&[u8]> = enc.split(|&b| b == 0).collect();
    assert_eq!(
      fields[..9],
      [
        &b"GET"[..],
        b"/chat?x=1",
        b"1.1",
        b"::ffff:127.0.0.1",
        b"5000",
        b"IPv6",
        b"::ffff:127.0.0.1",
        b"8080",
        // RFC 6455 §1.3's example.
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
      ]
    );
    assert_eq!(fields[9..11], [&b"Host"[..], b"a"]);
    assert_eq!(fields.len(), 9 + 2 * req.headers.len());
  }

  #[test]
  fn latin1_header_values_go_back_as_sent() {
    let (req, _) = parse(b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n", 16384).unwrap().unwrap();
    let enc = req.encode("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
    assert!(enc.ends_with(b"X\0caf\xe9"));
  }
}

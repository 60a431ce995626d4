//! Load generator for `npm run bench`. One thread (pin it with taskset),
//! raw WebSocket client framing, bounded in count and time, loopback only.
//!
//! ```text
//! loadgen echo       PORT CONNS INFLIGHT SIZE SECONDS
//! loadgen broadcast  PORT CONNS WINDOW SIZE SECONDS
//! loadgen handshakes PORT COUNT CONCURRENCY
//! loadgen idle       PORT CONNS SECONDS
//! loadgen active     PORT CONNS SECONDS
//! loadgen soak       PORT CONNS RATE SECONDS
//! loadgen slow       PORT CONNS SLOW MSGS SIZE SECONDS
//! loadgen halfopen   PORT COUNT GOOD SECONDS
//! loadgen fragments  PORT CONNS FRAGMENTS
//! ```
//! The last three are hostile peers (`npm run soak:hostile`).
//! Prints one JSON line with the results.
//!
//! With `LOADGEN_DEFLATE=1` every connection offers permessage-deflate (as
//! a browser does) and fails unless the server accepts it; what is sent is
//! a 1 KiB JSON message, compressed (RSV1), and received frames that are
//! compressed are counted (`compressed`), not inflated: the server's work is
//! what is measured.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn deflate_on() -> bool {
  std::env::var_os("LOADGEN_DEFLATE").is_some_and(|v| v != "0")
}

/// A chat message of exactly 1 KiB of JSON (ws's default `threshold`).
fn json_1k() -> Vec<u8> {
  let mut s = String::from("{\"type\":\"message\",\"room\":\"lobby\",\"messages\":[");
  let mut i = 0;
  while s.len() < 900 {
    s.push_str(&format!("{{\"id\":{i},\"user\":\"user{i}\",\"text\":\"hello everyone\"}},"));
    i += 1;
  }
  s.push_str("{\"pad\":\"");
  while s.len() < 1024 - 4 {
    s.push('x');
  }
  s.push_str("\"}]}");
  assert_eq!(s.len(), 1024);
  s.into_bytes()
}

/// The data frame a scenario sends: `size` bytes, or with deflate on, the
/// compressed 1 KiB JSON message (text, RSV1), compressed on its own so it
/// is valid with or without context takeover.
fn data_frame(size: usize, fill: u8) -> Vec<u8> {
  if !deflate_on() {
    return client_frame(2, &vec![fill; size]);
  }
  let mut z = flate2::Compress::new(flate2::Compression::new(6), false);
  let json = json_1k();
  let mut out = Vec::with_capacity(2048);
  z.compress_vec(&json, &mut out, flate2::FlushCompress::Sync).unwrap();
  assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
  out.truncate(out.len() - 4);
  let mut f = client_frame(1, &out);
  f[0] |= 0x40;
  f
}

fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
  let mut out = Vec::with_capacity(payload.len() + 14);
  out.push(0x80 | opcode);
  let len = payload.len();
  if len < 126 {
    out.push(0x80 | len as u8);
  } else if len <= 0xffff {
    out.push(0x80 | 126);
    out.extend_from_slice(&(len as u16).to_be_bytes());
  } else {
    out.push(0x80 | 127);
    out.extend_from_slice(&(len as u64).to_be_bytes());
  }
  out.extend_from_slice(&MASK);
  out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
  out
}

/// Parses complete server frames from `buf[..]`, returning (frames, consumed).
/// Each frame is reported as (opcode, payload); compressed ones (RSV1) are
/// counted in `COMPRESSED`.
fn parse_frames(buf: &[u8], mut f: impl FnMut(u8, &[u8])) -> usize {
  let mut pos = 0;
  loop {
    let b = &buf[pos..];
    if b.len() < 2 {
      return pos;
    }
    let opcode = b[0] & 0x0f;
    let (len, hdr) = match b[1] & 0x7f {
      126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
      127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize, 10),
      126 | 127 => return pos,
      n => (n as usize, 2),
    };
    if b.len() < hdr + len {
      return pos;
    }
    if b[0] & 0x40 != 0 {
      COMPRESSED.with(|c| c.set(c.get() + 1));
    }
    f(opcode, &b[hdr..hdr + len]);
    pos += hdr + len;
  }
}

thread_local! {
  static COMPRESSED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

async fn handshake(port: u16) -> io::Result<TcpStream> {
  let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
  s.set_nodelay(true)?;
  let deflate = deflate_on();
  let offer = if deflate { "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" } else { "" };
  let req = format!(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
  );
  s.write_all(req.as_bytes()).await?;
  let mut buf = Vec::with_capacity(256);
  let mut chunk = [0u8; 256];
  loop {
    let n = s.read(&mut chunk).await?;
    if n == 0 {
      return Err(io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
      if !buf.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other(String::from_utf8_lossy(&buf).to_string()));
      }
      if deflate && !String::from_utf8_lossy(&buf).to_ascii_lowercase().contains("permessage-deflate") {
        return Err(io::Error::other("the server did not accept permessage-deflate"));
      }
      if i + 4 != buf.len() {
        return Err(io::Error::other("unexpected bytes after the 101"));
      }
      return Ok(s);
    }
  }
}

#[derive(Default)]
struct Stats {
  count: u64,
  latencies_us: Vec<u32>,
  measuring: bool,
  errors: u64,
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
  if sorted.is_empty() {
    return 0;
  }
  sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn echo_conn(port: u16, inflight: usize, frame: Rc<Vec<u8>>, stats: Rc<RefCell<Stats>>, deadline: Instant) {
  let mut s = match handshake(port).await {
    Ok(s) => s,
    Err(_) => {
      stats.borrow_mut().errors += 1;
      return;
    }
  };
  let mut sent: VecDeque<Instant> = VecDeque::with_capacity(inflight);
  let mut out = Vec::with_capacity(frame.len() * inflight);
  for _ in 0..inflight {
    out.extend_from_slice(&frame);
    sent.push_back(Instant::now());
  }
  if s.write_all(&out).await.is_err() {
    return;
  }
  let mut buf = vec![0u8; 256 * 1024];
  let mut have = 0;
  while Instant::now() < deadline {
    let n = match tokio::time::timeout_at(deadline.into(), s.read(&mut buf[have..])).await {
      Ok(Ok(0)) | Ok(Err(_)) => {
        stats.borrow_mut().errors += 1;
        return;
      }
      Ok(Ok(n)) => n,
      Err(_) => break,
    };
    have += n;
    let now = Instant::now();
    let mut replies = 0;
    let used = parse_frames(&buf[..have], |op, _| {
      if op == 1 || op == 2 {
        replies += 1;
      }
    });
    buf.copy_within(used..have, 0);
    have -= used;
    if have == buf.len() {
      buf.resize(buf.len() * 2, 0);
    }
    if replies == 0 {
      continue;
    }
    {
      let mut st = stats.borrow_mut();
      for _ in 0..replies {
        let t = sent.pop_front().unwrap_or(now);
        if st.measuring {
          st.count += 1;
          st.latencies_us.push(now.duration_since(t).as_micros().min(u32::MAX as u128) as u32);
        }
      }
    }
    out.clear();
    for _ in 0..replies {
      out.extend_from_slice(&frame);
      sent.push_back(now);
    }
    if s.write_all(&out).await.is_err() {
      return;
    }
  }
}

/// Counts from `from` (the end of the warm-up) until every task is done (at
/// its deadline); returns the seconds measured.
async fn measure(from: Instant, stats: &RefCell<Stats>, tasks: Vec<tokio::task::JoinHandle<()>>) -> f64 {
  tokio::time::sleep_until(from.into()).await;
  stats.borrow_mut().measuring = true;
  let t0 = Instant::now();
  for t in tasks {
    let _ = t.await;
  }
  t0.elapsed().as_secs_f64()
}

async fn echo(port: u16, conns: usize, inflight: usize, size: usize, secs: f64) -> String {
  let frame = Rc::new(data_frame(size, b'x'));
  let stats = Rc::new(RefCell::new(Stats::default()));
  let warmup = Duration::from_millis(1000);
  let start = Instant::now();
  let deadline = start + warmup + Duration::from_secs_f64(secs);
  let mut tasks = Vec::new();
  for _ in 0..conns {
    tasks.push(tokio::task::spawn_local(echo_conn(port, inflight, frame.clone(), stats.clone(), deadline)));
  }
  let elapsed = measure(start + warmup, &stats, tasks).await;
  let mut st = stats.borrow_mut();
  st.latencies_us.sort_unstable();
  format!(
    "{{\"msgs_per_sec\":{:.0},\"p50_us\":{},\"p99_us\":{},\"errors\":{},\"compressed\":{}}}",
    st.count as f64 / elapsed,
    percentile(&st.latencies_us, 0.5),
    percentile(&st.latencies_us, 0.99),
    st.errors,
    COMPRESSED.with(|c| c.get())
  )
}

/// CONNS receivers; the first one also sends, keeping WINDOW messages in
/// flight (a message counts as done when it comes back to the sender).
async fn broadcast(port: u16, conns: usize, window: usize, size: usize, secs: f64) -> String {
  let stats = Rc::new(RefCell::new(Stats::default()));
  let mut streams = Vec::new();
  for _ in 0..conns {
    match handshake(port).await {
      Ok(s) => streams.push(s),
      Err(_) => stats.borrow_mut().errors += 1,
    }
  }
  tokio::time::sleep(Duration::from_millis(300)).await;
  let warmup = Duration::from_millis(1000);
  let start = Instant::now();
  let deadline = start + warmup + Duration::from_secs_f64(secs);
  let frame = Rc::new(data_frame(size, b'b'));
  let mut tasks = Vec::new();
  for (i, mut s) in streams.into_iter().enumerate() {
    let stats = stats.clone();
    let frame = frame.clone();
    tasks.push(tokio::task::spawn_local(async move {
      let sender = i == 0;
      if sender {
        let mut out = Vec::new();
        for _ in 0..window {
          out.extend_from_slice(&frame);
        }
        if s.write_all(&out).await.is_err() {
          return;
        }
      }
      let mut buf = vec![0u8; 64 * 1024];
      let mut have = 0;
      loop {
        let n = match tokio::time::timeout_at(deadline.into(), s.read(&mut buf[have..])).await {
          Ok(Ok(0)) | Ok(Err(_)) => return,
          Ok(Ok(n)) => n,
          Err(_) => return,
        };
        have += n;
        let mut got = 0u64;
        let used = parse_frames(&buf[..have], |op, _| {
          if op == 2 || op == 1 {
            got += 1;
          }
        });
        buf.copy_within(used..have, 0);
        have -= used;
        {
          let mut st = stats.borrow_mut();
          if st.measuring {
            st.count += got;
          }
        }
        if sender && got > 0 {
          let mut out = Vec::new();
          for _ in 0..got {
            out.extend_from_slice(&frame);
          }
          if s.write_all(&out).await.is_err() {
            return;
          }
        }
      }
    }));
  }
  let elapsed = measure(start + warmup, &stats, tasks).await;
  let st = stats.borrow();
  format!(
    "{{\"deliveries_per_sec\":{:.0},\"errors\":{},\"compressed\":{}}}",
    st.count as f64 / elapsed,
    st.errors,
    COMPRESSED.with(|c| c.get())
  )
}

async fn handshakes(port: u16, count: usize, concurrency: usize) -> String {
  let done = Rc::new(RefCell::new((0usize, 0usize)));
  let start = Instant::now();
  let mut tasks = Vec::new();
  for _ in 0..concurrency {
    let done = done.clone();
    tasks.push(tokio::task::spawn_local(async move {
      loop {
        {
          let mut d = done.borrow_mut();
          if d.0 >= count {
            return;
          }
          d.0 += 1;
        }
        match tokio::time::timeout(Duration::from_secs(10), handshake(port)).await {
          Ok(Ok(mut s)) => {
            // A clean close: close frame, then our FIN.
            let _ = s.write_all(&client_frame(8, &1000u16.to_be_bytes())).await;
            let _ = s.shutdown().await;
          }
          _ => done.borrow_mut().1 += 1,
        }
      }
    }));
  }
  for t in tasks {
    let _ = t.await;
  }
  let elapsed = start.elapsed().as_secs_f64();
  let d = done.borrow();
  format!("{{\"handshakes_per_sec\":{:.0},\"errors\":{}}}", count as f64 / elapsed, d.1)
}

/// Opens `conns` connections, in waves so the server's backlog is not
/// overrun. Returns them and how many failed.
async fn connect_all(port: u16, conns: usize) -> (Vec<TcpStream>, u64) {
  let mut streams = Vec::with_capacity(conns);
  let mut errors = 0;
  let mut left = conns;
  while left > 0 {
    let wave = left.min(200);
    left -= wave;
    let hs: Vec<_> = (0..wave).map(|_| tokio::task::spawn_local(handshake(port))).collect();
    for h in hs {
      match h.await {
        Ok(Ok(s)) => streams.push(s),
        _ => errors += 1,
      }
    }
  }
  (streams, errors)
}

async fn idle(port: u16, conns: usize, secs: f64) -> String {
  let start = Instant::now();
  let (streams, errors) = connect_all(port, conns).await;
  println!(
    "{{\"ready\":{},\"errors\":{},\"connect_secs\":{:.2}}}",
    streams.len(),
    errors,
    start.elapsed().as_secs_f64()
  );
  tokio::time::sleep(Duration::from_secs_f64(secs)).await;
  drop(streams);
  "{\"done\":true}".to_string()
}

/// As `idle`, but each connection first sends one message and reads its
/// echo, so that the server holds what an active connection holds.
async fn active(port: u16, conns: usize, secs: f64) -> String {
  let start = Instant::now();
  let (mut streams, mut errors) = connect_all(port, conns).await;
  let frame = Rc::new(data_frame(1024, b'a'));
  for chunk in streams.chunks_mut(200) {
    let tasks: Vec<_> = chunk
      .iter_mut()
      .map(|s| {
        let frame = frame.clone();
        async move {
          s.write_all(&frame).await?;
          let mut buf = vec![0u8; 4096];
          let mut have = 0;
          loop {
            let n = s.read(&mut buf[have..]).await?;
            if n == 0 {
              return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            have += n;
            let mut got = false;
            parse_frames(&buf[..have], |op, _| got |= op == 1 || op == 2);
            if got {
              return Ok::<_, io::Error>(());
            }
          }
        }
      })
      .collect();
    for t in tasks {
      if tokio::time::timeout(Duration::from_secs(10), t).await.map_or(true, |r| r.is_err()) {
        errors += 1;
      }
    }
  }
  println!(
    "{{\"ready\":{},\"errors\":{},\"compressed\":{},\"connect_secs\":{:.2}}}",
    streams.len(),
    errors,
    COMPRESSED.with(|c| c.get()),
    start.elapsed().as_secs_f64()
  );
  tokio::time::sleep(Duration::from_secs_f64(secs)).await;
  drop(streams);
  "{\"done\":true}".to_string()
}

#[derive(Default)]
struct Soak {
  sent: u64,
  received: u64,
  reordered: u64,
  errors: u64,
}

/// Counts the sequence-numbered echoes in `buf[..*have]`, checking their
/// order, and keeps the incomplete tail.
fn check_echoes(buf: &mut [u8], have: &mut usize, next_expected: &mut u64, s: &mut Soak) {
  let mut got = Vec::new();
  let used = parse_frames(&buf[..*have], |op, p| {
    if op == 2 && p.len() == 8 {
      got.push(u64::from_le_bytes(p.try_into().unwrap()));
    }
  });
  buf.copy_within(used..*have, 0);
  *have -= used;
  for g in got {
    s.received += 1;
    if g != *next_expected {
      s.reordered += 1;
    }
    *next_expected = g + 1;
  }
}

/// CONNS connections, each sending a sequence-numbered message every
/// `conns / rate` seconds for SECONDS, checking that every echo comes back,
/// in order. Then closes them all.
async fn soak(port: u16, conns: usize, rate: f64, secs: f64) -> String {
  let (streams, errors) = connect_all(port, conns).await;
  let st = Rc::new(RefCell::new(Soak { errors, ..Soak::default() }));
  println!("{{\"ready\":{}}}", streams.len());
  let period = Duration::from_secs_f64(conns as f64 / rate.max(1.0));
  let start = Instant::now();
  let end = start + Duration::from_secs_f64(secs);
  let mut tasks = Vec::new();
  for (i, s) in streams.into_iter().enumerate() {
    let st = st.clone();
    tasks.push(tokio::task::spawn_local(async move {
      let (mut rd, mut wr) = s.into_split();
      // Spread the connections' ticks over the period.
      let offset = period.mul_f64(i as f64 / conns as f64);
      let mut tick = tokio::time::interval_at((start + offset).into(), period);
      let mut next_expected: u64 = 0;
      let mut seq: u64 = 0;
      let mut buf = vec![0u8; 4096];
      let mut have = 0;
      loop {
        tokio::select! {
          _ = tick.tick() => {
            if Instant::now() >= end {
              break;
            }
            if wr.write_all(&client_frame(2, &seq.to_le_bytes())).await.is_err() {
              st.borrow_mut().errors += 1;
              return;
            }
            seq += 1;
            st.borrow_mut().sent += 1;
          }
          r = rd.read(&mut buf[have..]) => {
            let n = match r {
              Ok(0) | Err(_) => { st.borrow_mut().errors += 1; return; }
              Ok(n) => n,
            };
            have += n;
            check_echoes(&mut buf, &mut have, &mut next_expected, &mut st.borrow_mut());
          }
        }
      }
      // Collect the last echoes, then close cleanly.
      let drain = async {
        while next_expected < seq {
          let n = match rd.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
          };
          have += n;
          check_echoes(&mut buf, &mut have, &mut next_expected, &mut st.borrow_mut());
        }
      };
      let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
      let _ = wr.write_all(&client_frame(8, &1000u16.to_be_bytes())).await;
      let _ = wr.shutdown().await;
    }));
  }
  for t in tasks {
    let _ = t.await;
  }
  let s = st.borrow();
  format!(
    "{{\"sent\":{},\"received\":{},\"lost\":{},\"reordered\":{},\"errors\":{}}}",
    s.sent,
    s.received,
    s.sent - s.received.min(s.sent),
    s.reordered,
    s.errors
  )
}

/// Round trips of one small message on each of `conns` connections until
/// `deadline`: their latencies, and how many failed.
async fn latency_probe(port: u16, conns: usize, deadline: Instant) -> (Vec<u32>, u64) {
  let lat = Rc::new(RefCell::new((Vec::new(), 0u64)));
  let mut tasks = Vec::new();
  for _ in 0..conns {
    let lat = lat.clone();
    tasks.push(tokio::task::spawn_local(async move {
      let Ok(mut s) = handshake(port).await else {
        lat.borrow_mut().1 += 1;
        return;
      };
      let frame = client_frame(2, b"probe");
      let mut buf = vec![0u8; 4096];
      while Instant::now() < deadline {
        let t = Instant::now();
        if s.write_all(&frame).await.is_err() {
          lat.borrow_mut().1 += 1;
          return;
        }
        let mut have = 0;
        loop {
          let n = match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf[have..])).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => {
              lat.borrow_mut().1 += 1;
              return;
            }
          };
          have += n;
          let mut got = false;
          parse_frames(&buf[..have], |op, _| got |= op == 2);
          if got {
            break;
          }
        }
        lat.borrow_mut().0.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        tokio::time::sleep(Duration::from_millis(20)).await;
      }
    }));
  }
  for t in tasks {
    let _ = t.await;
  }
  let (mut v, e) = std::mem::take(&mut *lat.borrow_mut());
  v.sort_unstable();
  (v, e)
}

/// CONNS connections; the first SLOW never read, and each sends MSGS
/// messages of SIZE bytes (whose echoes pile up in the server); the others
/// do round trips for SECONDS. Prints `ready` once the slow ones have sent
/// everything, then the latencies of the others and how many slow ones the
/// server still holds open.
async fn slow(port: u16, conns: usize, slow: usize, msgs: usize, size: usize, secs: f64) -> String {
  const PROBES: usize = 100;
  let (streams, mut errors) = connect_all(port, slow).await;
  // The rest but the probes: open and quiet.
  let (idle, e) = connect_all(port, conns.saturating_sub(slow + PROBES)).await;
  errors += e;
  let frame = client_frame(2, &vec![b's'; size]);
  let sent = Rc::new(RefCell::new(0usize));
  let mut tasks = Vec::new();
  let mut held = Vec::new();
  for s in streams {
    let (rd, mut wr) = s.into_split();
    held.push(rd);
    let frame = frame.clone();
    let sent = sent.clone();
    tasks.push(tokio::task::spawn_local(async move {
      // Their own writes block once the server stops reading them: bounded.
      for _ in 0..msgs {
        match tokio::time::timeout(Duration::from_secs(5), wr.write_all(&frame)).await {
          Ok(Ok(())) => *sent.borrow_mut() += 1,
          _ => break,
        }
      }
      wr
    }));
  }
  let mut writers = Vec::new();
  for t in tasks {
    if let Ok(w) = t.await {
      writers.push(w);
    }
  }
  println!("{{\"ready\":{},\"errors\":{},\"sent\":{}}}", writers.len(), errors, sent.borrow());
  let deadline = Instant::now() + Duration::from_secs_f64(secs);
  let (lat, failed) = latency_probe(port, PROBES.min(conns - slow), deadline).await;
  drop(idle);
  // Still open on the server's side: a write of a ping does not fail.
  let mut open = 0;
  for w in writers.iter_mut() {
    if tokio::time::timeout(Duration::from_millis(50), w.write_all(&client_frame(9, b""))).await.is_ok_and(|r| r.is_ok()) {
      open += 1;
    }
  }
  drop(held);
  format!(
    "{{\"round_trips\":{},\"p50_us\":{},\"p99_us\":{},\"failed\":{},\"slow_open\":{}}}",
    lat.len(),
    percentile(&lat, 0.5),
    percentile(&lat, 0.99),
    failed,
    open
  )
}

/// COUNT sockets that send half an upgrade request and never the rest,
/// and GOOD connections doing round trips meanwhile, for SECONDS: how many
/// of the half-open ones the server has closed, and the others' latency.
async fn halfopen(port: u16, count: usize, good: usize, secs: f64) -> String {
  let start = Instant::now();
  // (opened, reaped, connect errors, when the last was reaped)
  let reaped = Rc::new(RefCell::new((0usize, 0usize, 0u64, 0f64)));
  let mut tasks = Vec::new();
  for i in 0..count {
    let reaped = reaped.clone();
    if i % 500 == 499 {
      // Let the accept loop keep up (as a flood through a real network would).
      tokio::task::yield_now().await;
    }
    tasks.push(tokio::task::spawn_local(async move {
      let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        reaped.borrow_mut().2 += 1;
        return;
      };
      let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n").await;
      reaped.borrow_mut().0 += 1;
      let mut b = [0u8; 256];
      // The server closes it (EOF or reset) once handshakeTimeout passes.
      if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs_f64(secs + 30.0), s.read(&mut b)).await {
        let mut r = reaped.borrow_mut();
        r.1 += 1;
        r.3 = r.3.max(start.elapsed().as_secs_f64());
      }
    }));
  }
  let opened_secs = start.elapsed().as_secs_f64();
  let deadline = Instant::now() + Duration::from_secs_f64(secs);
  let (lat, failed) = latency_probe(port, good, deadline).await;
  for t in tasks {
    let _ = t.await;
  }
  let r = reaped.borrow();
  format!(
    "{{\"half_open\":{},\"reaped\":{},\"connect_errors\":{},\"opened_secs\":{:.2},\"last_reaped_secs\":{:.2},\"round_trips\":{},\"p50_us\":{},\"p99_us\":{},\"failed\":{}}}",
    r.0,
    r.1,
    r.2,
    opened_secs,
    r.3,
    lat.len(),
    percentile(&lat, 0.5),
    percentile(&lat, 0.99),
    failed
  )
}

/// CONNS connections each send one text message as FRAGMENTS fragments of
/// one byte, then read until the server's close frame: the close codes.
async fn fragments(port: u16, conns: usize, frags: usize) -> String {
  let (streams, errors) = connect_all(port, conns).await;
  let codes = Rc::new(RefCell::new(std::collections::BTreeMap::<u16, usize>::new()));
  let mut tasks = Vec::new();
  for s in streams {
    let codes = codes.clone();
    tasks.push(tokio::task::spawn_local(async move {
      let mut out = Vec::with_capacity(frags.min(100_000) * 7);
      for i in 0..frags {
        let (op, fin) = (if i == 0 { 1 } else { 0 }, i == frags - 1);
        let mut f = client_frame(op, b"a");
        if !fin {
          f[0] &= 0x7f;
        }
        out.extend_from_slice(&f);
      }
      // The server may close before it has read it all: write beside the read.
      let (mut rd, mut wr) = s.into_split();
      let writer = tokio::task::spawn_local(async move {
        let _ = wr.write_all(&out).await;
        wr
      });
      let mut buf = vec![0u8; 4096];
      let mut have = 0;
      let code = loop {
        let n = match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf[have..])).await {
          Ok(Ok(n)) if n > 0 => n,
          _ => break 1006,
        };
        have += n;
        let mut code = None;
        let used = parse_frames(&buf[..have], |op, p| {
          if op == 8 {
            code = Some(if p.len() >= 2 { u16::from_be_bytes([p[0], p[1]]) } else { 1005 });
          }
        });
        if let Some(c) = code {
          break c;
        }
        buf.copy_within(used..have, 0);
        have -= used;
      };
      writer.abort();
      *codes.borrow_mut().entry(code).or_default() += 1;
    }));
  }
  for t in tasks {
    let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
  }
  let codes: Vec<String> = codes.borrow().iter().map(|(c, n)| format!("\"{c}\":{n}")).collect();
  format!("{{\"codes\":{{{}}},\"errors\":{}}}", codes.join(","), errors)
}

fn main() {
  let args: Vec<String> = std::env::args().collect();
  let num = |i: usize| -> f64 { args.get(i).and_then(|a| a.parse().ok()).unwrap_or_else(|| usage()) };
  if args.len() < 3 {
    usage();
  }
  let port = num(2) as u16;
  let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
  let local = tokio::task::LocalSet::new();
  let out = local.block_on(&rt, async {
    match args[1].as_str() {
      "echo" => echo(port, num(3) as usize, num(4) as usize, num(5) as usize, num(6)).await,
      "broadcast" => broadcast(port, num(3) as usize, num(4) as usize, num(5) as usize, num(6)).await,
      "handshakes" => handshakes(port, num(3) as usize, num(4) as usize).await,
      "idle" => idle(port, num(3) as usize, num(4)).await,
      "active" => active(port, num(3) as usize, num(4)).await,
      "soak" => soak(port, num(3) as usize, num(4), num(5)).await,
      "slow" => slow(port, num(3) as usize, num(4) as usize, num(5) as usize, num(6) as usize, num(7)).await,
      "halfopen" => halfopen(port, num(3) as usize, num(4) as usize, num(5)).await,
      "fragments" => fragments(port, num(3) as usize, num(4) as usize).await,
      _ => usage(),
    }
  });
  println!("{out}");
}

fn usage() -> ! {
  eprintln!(
    "usage: loadgen echo PORT CONNS INFLIGHT SIZE SECONDS | broadcast PORT CONNS WINDOW SIZE SECONDS | \
     handshakes PORT COUNT CONCURRENCY | idle|active PORT CONNS SECONDS | soak PORT CONNS RATE SECONDS | \
     slow PORT CONNS SLOW MSGS SIZE SECONDS | halfopen PORT COUNT GOOD SECONDS | fragments PORT CONNS FRAGMENTS"
  );
  std::process::exit(2)
}

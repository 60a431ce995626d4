//! Which DEFLATE backend permessage-deflate should run on, measured on this
//! machine: zlib-rs (what wsrs uses), C zlib 1.3 (libz-sys, built from
//! source; Node's zlib, which ws uses, is a fork of it), and libdeflate
//! (whole buffers only: no context takeover, no streaming).
//!
//! For JSON messages of 1, 16 and 64 KiB, at level 6 with a 15-bit window:
//! - compress with no context (reset after each message), messages/s;
//! - inflate, messages/s;
//! - compressed size.
//!
//! And the memory of kept contexts (context takeover): 1000 compressors and
//! 1000 inflaters that have each handled one 1 KiB message, in RSS.
//!
//! Also what a hand-off to another thread and back costs (a pool's floor).
//!
//! `npm run bench:compression` (pinned to one core where taskset exists).

use std::time::{Duration, Instant};


fn json(size: usize) -> Vec<u8> {
  let mut s = String::from("{\"type\":\"message\",\"room\":\"lobby\",\"messages\":[");
  let mut i = 0u64;
  while s.len() < size - 120 {
    // Varied enough not to be one repeated string.
    let n = i.wrapping_mul(2654435761) % 100000;
    s.push_str(&format!("{{\"id\":{i},\"user\":\"user{n}\",\"at\":{},\"text\":\"hello {n} from room {}\"}},", 1764547200 + i * 7, n % 13));
    i += 1;
  }
  s.push_str("{\"end\":true,\"pad\":\"");
  while s.len() < size - 4 {
    s.push('x');
  }
  s.push_str("\"}]}");
  s.into_bytes()
}

fn rss_kib() -> i64 {
  let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
  status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap_or(0)
}

/// Runs `f` for about `secs`, returns calls per second.
fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
  for _ in 0..50 {
    f();
  }
  let start = Instant::now();
  let mut n = 0u64;
  while start.elapsed() < Duration::from_secs_f64(secs) {
    for _ in 0..20 {
      f();
    }
    n += 20;
  }
  n as f64 / start.elapsed().as_secs_f64()
}

// ---- zlib-rs ----

fn zrs_deflater(level: i32, bits: i32, mem: i32) -> zlib_rs::Deflate {
  zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
    level,
    method: zlib_rs::Method::Deflated,
    window_bits: -bits,
    mem_level: mem,
    strategy: zlib_rs::Strategy::Default,
  })
}

fn zrs_compress(d: &mut zlib_rs::Deflate, input: &[u8], out: &mut Vec<u8>) {
  out.clear();
  out.reserve(input.len() + 64);
  let before = d.total_out();
  d.compress_uninit(input, out.spare_capacity_mut(), zlib_rs::DeflateFlush::SyncFlush).unwrap();
  let n = (d.total_out() - before) as usize;
  // SAFETY: zlib-rs wrote n bytes.
  unsafe { out.set_len(n) };
  out.truncate(n - 4);
}

fn zrs_inflate(i: &mut zlib_rs::Inflate, input: &[u8], out: &mut Vec<u8>, cap: usize) {
  out.clear();
  out.reserve(cap);
  let before = i.total_out();
  i.decompress_uninit(input, out.spare_capacity_mut(), zlib_rs::InflateFlush::SyncFlush).unwrap();
  i.decompress_uninit(&[0, 0, 0xff, 0xff], &mut out.spare_capacity_mut()[(i.total_out() - before) as usize..], zlib_rs::InflateFlush::SyncFlush).unwrap();
  let n = (i.total_out() - before) as usize;
  // SAFETY: zlib-rs wrote n bytes.
  unsafe { out.set_len(n) };
}

// ---- C zlib, through wsrs's own wrapper (src/zlib.rs) ----

struct CDeflate(wsrs::zlib::CDeflate);
impl CDeflate {
  fn new(level: i32, bits: i32, mem: i32) -> CDeflate {
    CDeflate(wsrs::zlib::CDeflate::new(level, bits, mem, 0).expect("zlib takes these settings"))
  }
  fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(input.len() + 64);
    let (used, n) = self.0.compress(input, out.spare_capacity_mut());
    assert_eq!(used, input.len());
    // SAFETY: zlib wrote n bytes.
    unsafe { out.set_len(n) };
    out.truncate(n - 4);
  }
  fn reset(&mut self) {
    self.0.reset();
  }
}

struct CInflate(wsrs::zlib::CInflate);
impl CInflate {
  fn new(bits: i32) -> CInflate {
    CInflate(wsrs::zlib::CInflate::new(bits).expect("zlib takes these settings"))
  }
  fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, cap: usize) {
    out.clear();
    out.reserve(cap);
    for chunk in [input, &[0, 0, 0xff, 0xff][..]] {
      match self.0.inflate(chunk, out.spare_capacity_mut()) {
        // SAFETY: zlib wrote n bytes after what is there.
        wsrs::zlib::Inflated::Ok(_, n, _) => unsafe { out.set_len(out.len() + n) },
        wsrs::zlib::Inflated::Err(m) => panic!("inflate: {m}"),
      }
    }
  }
  fn reset(&mut self) {
    self.0.reset();
  }
}

fn main() {
  let secs: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1.0);
  println!("| message | backend | compress, no context (msgs/s) | inflate (msgs/s) | compressed size |");
  println!("|---|---|---|---|---|");
  for size in [1024usize, 4 * 1024, 16 * 1024, 64 * 1024] {
    let msg = json(size);
    let label = format!("{} KiB JSON", size / 1024);
    let mut out = Vec::new();
    let mut back = Vec::new();

    // zlib-rs
    let mut d = zrs_deflater(6, 15, 8);
    let compress = rate(secs, || {
      zrs_compress(&mut d, &msg, &mut out);
      d.reset();
    });
    let zlen = out.len();
    let compressed = out.clone();
    let mut i = zlib_rs::Inflate::new(false, 15);
    let inflate = rate(secs, || {
      zrs_inflate(&mut i, &compressed, &mut back, size + 64);
      i.reset(false);
    });
    assert_eq!(back, msg);
    println!("| {label} | zlib-rs 0.6 | {compress:.0} | {inflate:.0} | {zlen} |");

    // C zlib
    let mut d = CDeflate::new(6, 15, 8);
    let compress = rate(secs, || {
      d.compress(&msg, &mut out);
      d.reset();
    });
    let zlen = out.len();
    let compressed = out.clone();
    let mut i = CInflate::new(15);
    let inflate = rate(secs, || {
      i.inflate(&compressed, &mut back, size + 64);
      i.reset();
    });
    assert_eq!(back, msg);
    let version = wsrs::zlib::version();
    println!("| {label} | C zlib {version} | {compress:.0} | {inflate:.0} | {zlen} |");

    // libdeflate: a whole buffer, BFINAL set (RFC 7692 §7.2.3.4 allows it).
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(6).unwrap());
    let mut buf = vec![0u8; c.deflate_compress_bound(msg.len())];
    let mut zlen = 0;
    let compress = rate(secs, || zlen = c.deflate_compress(&msg, &mut buf).unwrap());
    let compressed = buf[..zlen].to_vec();
    let mut dd = libdeflater::Decompressor::new();
    let mut outb = vec![0u8; size];
    let inflate = rate(secs, || {
      dd.deflate_decompress(&compressed, &mut outb).unwrap();
    });
    assert_eq!(outb, msg);
    println!("| {label} | libdeflate 1.2x | {compress:.0} | {inflate:.0} | {zlen} |");
  }

  // What handing a message to another thread and back costs (the floor of
  // a compression pool's overhead): a channel round trip, the worker
  // blocked waiting as a pool thread would be.
  let (to_worker, worker_rx) = std::sync::mpsc::channel::<Vec<u8>>();
  let (to_main, main_rx) = std::sync::mpsc::channel::<Vec<u8>>();
  let worker = std::thread::spawn(move || {
    while let Ok(m) = worker_rx.recv() {
      if to_main.send(m).is_err() {
        break;
      }
    }
  });
  let mut m = Some(json(1024));
  let trips = rate(secs, || {
    to_worker.send(m.take().unwrap()).unwrap();
    m = Some(main_rx.recv().unwrap());
  });
  drop(to_worker);
  let _ = worker.join();
  println!("\nthread hand-off and back (a pool's floor): {:.1} µs per message", 1e6 / trips);

  // Kept contexts: what 1000 connections that each compressed and inflated
  // one 1 KiB message hold (RSS counts the pages touched, as in a server).
  let msg = json(1024);
  const N: usize = 1000;
  println!("\n| kept context (context takeover), after one 1 KiB message | window / memLevel | RSS per connection (compressor + inflater) |");
  println!("|---|---|---|");
  for (bits, mem) in [(15, 8), (10, 4)] {
    let mut out = Vec::new();
    let mut back = Vec::new();
    let before = rss_kib();
    let mut keep = Vec::with_capacity(N);
    for _ in 0..N {
      let mut d = zrs_deflater(6, bits, mem);
      zrs_compress(&mut d, &msg, &mut out);
      let mut i = zlib_rs::Inflate::new(false, bits as u8);
      zrs_inflate(&mut i, &out, &mut back, 2048);
      keep.push((d, i));
    }
    println!("| zlib-rs 0.6 | {bits} / {mem} | {:.1} KB |", (rss_kib() - before) as f64 * 1.024 / N as f64);
    drop(keep);

    let before = rss_kib();
    let mut keep = Vec::with_capacity(N);
    for _ in 0..N {
      let mut d = CDeflate::new(6, bits, mem);
      d.compress(&msg, &mut out);
      let mut i = CInflate::new(bits);
      i.inflate(&out, &mut back, 2048);
      keep.push((d, i));
    }
    println!("| C zlib | {bits} / {mem} | {:.1} KB |", (rss_kib() - before) as f64 * 1.024 / N as f64);
    drop(keep);
  }
}

fn main() {
  napi_build::setup();
  // `native_sockets`: Rust reads and writes the sockets itself (every Unix).
  // Elsewhere, or with WSRS_NATIVE_SOCKETS=0 (to check that shape on Linux),
  // Node keeps the sockets and feeds their bytes to the codec (`src/sys.rs`).
  println!("cargo::rustc-check-cfg=cfg(native_sockets)");
  println!("cargo::rerun-if-env-changed=WSRS_NATIVE_SOCKETS");
  let unix = std::env::var_os("CARGO_CFG_UNIX").is_some();
  if unix && std::env::var("WSRS_NATIVE_SOCKETS").as_deref() != Ok("0") {
    println!("cargo::rustc-cfg=native_sockets");
  }
}

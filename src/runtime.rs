//! The tokio runtime: one I/O thread for the whole process, started on first
//! use. It accepts, runs HTTP handshakes and timers (close timeout,
//! heartbeat) and waits on sockets too full to take a write; open
//! connections are read on the JS thread (`reactor`), so messages never
//! cross threads.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

pub fn handle() -> &'static Handle {
  static RT: OnceLock<Runtime> = OnceLock::new();
  RT.get_or_init(|| {
    Builder::new_multi_thread()
      .worker_threads(1)
      .thread_name("wsrs-io")
      .enable_all()
      .build()
      .expect("cannot start the tokio runtime")
  })
  .handle()
}

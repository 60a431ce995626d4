//! The tokio runtime that owns every socket: one I/O thread for the whole
//! process, started on first use. One thread keeps the JS thread's wake-ups
//! batched (all events come from one producer) and leaves the other core to
//! JavaScript.

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

//! What the native socket path needs from the OS, in one place: a socket
//! registered with the I/O thread for writability, a duplicate of a socket
//! Node accepted, readiness registration by fd, and looking up a function
//! of the running Node.
//!
//! The native path exists where `native_sockets` is set (`build.rs`: every
//! Unix, unless `WSRS_NATIVE_SOCKETS=0`). Elsewhere (Windows) Node keeps
//! every socket and feeds its bytes to the same codec (the `bridged` path):
//! the functions here then fail with `Unsupported`, no `Socket` is ever
//! made, and the rest of the crate compiles unchanged. Building with
//! `WSRS_NATIVE_SOCKETS=0` on Linux checks that shape here.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

/// Whether this build reads and writes sockets itself (else Node keeps them).
pub const NATIVE_SOCKETS: bool = cfg!(native_sockets);

/// A socket's handle, as JS passes it and the readiness set knows it.
pub type Fd = i32;

#[cfg(native_sockets)]
mod imp {
  use super::*;
  use mio::unix::SourceFd;
  use mio::{Interest, Registry, Token};
  use std::os::fd::{AsRawFd, BorrowedFd};
  use tokio::io::unix::AsyncFd;

  /// A connected socket. It is read on the JS thread (`reactor`), and
  /// written there while the kernel takes the bytes; only a socket the
  /// kernel could not take a write from is registered with the I/O thread's
  /// reactor (for writability, on its first wait), so an idle connection
  /// holds no registration there, and opening and closing one costs no
  /// system call for it.
  pub struct Socket {
    // Declared first: dropped (deregistered) before the stream closes its fd.
    writable: std::sync::OnceLock<Option<AsyncFd<RawSocket>>>,
    stream: TcpStream,
  }

  /// The socket's fd, for the registration (the stream owns it).
  struct RawSocket(std::os::fd::RawFd);

  impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
      self.0
    }
  }

  impl Socket {
    /// Makes a (non-blocking) socket ours.
    pub fn register(stream: TcpStream) -> io::Result<Arc<Socket>> {
      stream.set_nonblocking(true)?;
      Ok(Arc::new(Socket { writable: std::sync::OnceLock::new(), stream }))
    }

    pub fn get_ref(&self) -> &TcpStream {
      &self.stream
    }

    pub fn fd(&self) -> Fd {
      self.stream.as_raw_fd()
    }

    /// Waits until the socket may take writes again (I/O thread: the first
    /// wait registers it with the I/O thread's reactor).
    pub async fn writable(&self) -> io::Result<Ready<'_>> {
      let fd = self.writable.get_or_init(|| {
        // SAFETY: the fd stays open, and the same, until this registration
        // is dropped: `stream` owns it and is dropped after `writable`.
        unsafe { AsyncFd::register_with_interest(RawSocket(self.fd()), tokio::io::Interest::WRITABLE) }.ok()
      });
      match fd {
        Some(fd) => fd.writable().await.map(Ready),
        None => Err(io::Error::other("cannot register the socket with the I/O thread")),
      }
    }
  }

  /// The socket was writable; `clear_ready` if a write then would block.
  pub struct Ready<'a>(tokio::io::unix::AsyncFdReadyGuard<'a, RawSocket>);

  impl Ready<'_> {
    pub fn clear_ready(&mut self) {
      self.0.clear_ready()
    }
  }

  /// A socket of our own for the connected socket `fd` (Node's handle,
  /// which Node may close once this returns).
  pub fn dup(fd: Fd) -> io::Result<TcpStream> {
    if fd < 0 {
      return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // Only a stream socket is taken over: never a file, a pipe or a
    // datagram socket that some integer happened to name.
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `kind`, a c_int;
    // on an fd that is not a socket it fails with ENOTSOCK, touching nothing.
    let r = unsafe {
      libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&mut kind as *mut libc::c_int).cast(), &mut len)
    };
    if r != 0 {
      let e = io::Error::last_os_error();
      return Err(io::Error::new(e.kind(), format!("fd {fd} is not a socket Node holds ({e})")));
    }
    if kind != libc::SOCK_STREAM {
      return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("fd {fd} is not a stream socket")));
    }
    // SAFETY: JS passes the fd of a live socket handle and keeps it open for
    // the duration of this call; we only duplicate it.
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
    Ok(TcpStream::from(owned))
  }

  /// Watches `fd` for reading (edge-triggered) as `slot`.
  pub fn watch(r: &Registry, fd: Fd, slot: u32) -> bool {
    match r.register(&mut SourceFd(&fd), Token(slot as usize), Interest::READABLE) {
      Ok(()) => true,
      Err(e) => e.kind() == io::ErrorKind::AlreadyExists,
    }
  }

  /// Reports `fd` again if it is still readable.
  pub fn rewatch(r: &Registry, fd: Fd, slot: u32) {
    let _ = r.reregister(&mut SourceFd(&fd), Token(slot as usize), Interest::READABLE);
  }

  pub fn unwatch(r: &Registry, fd: Fd) {
    let _ = r.deregister(&mut SourceFd(&fd));
  }

  /// The fd that signals a `mio::Poll` has events (what libuv polls).
  pub fn poll_fd(poll: &mio::Poll) -> Option<Fd> {
    Some(poll.as_raw_fd())
  }

  /// A function of the running process by name (Node exports libuv's).
  pub fn symbol(name: &std::ffi::CStr) -> *mut std::ffi::c_void {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // process.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
  }
}

#[cfg(not(native_sockets))]
mod imp {
  use super::*;

  fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "this build of wsrs leaves sockets to Node")
  }

  /// Never made in this build (`register` fails): Node keeps the sockets.
  pub struct Socket(TcpStream);

  impl Socket {
    pub fn register(_stream: TcpStream) -> io::Result<Arc<Socket>> {
      Err(unsupported())
    }

    pub fn get_ref(&self) -> &TcpStream {
      &self.0
    }

    pub fn fd(&self) -> Fd {
      -1
    }

    pub async fn writable(&self) -> io::Result<Ready<'_>> {
      Err(unsupported())
    }
  }

  /// Never made: no socket is ever writable here.
  pub struct Ready<'a>(std::convert::Infallible, std::marker::PhantomData<&'a ()>);

  impl Ready<'_> {
    pub fn clear_ready(&mut self) {
      match self.0 {}
    }
  }

  pub fn dup(_fd: Fd) -> io::Result<TcpStream> {
    Err(unsupported())
  }

  pub fn watch(_r: &mio::Registry, _fd: Fd, _slot: u32) -> bool {
    false
  }

  pub fn rewatch(_r: &mio::Registry, _fd: Fd, _slot: u32) {}

  pub fn unwatch(_r: &mio::Registry, _fd: Fd) {}

  /// A `mio::Poll` has no fd here (on Windows it is a completion port):
  /// there is no reactor for libuv to poll.
  pub fn poll_fd(_poll: &mio::Poll) -> Option<Fd> {
    None
  }

  pub fn symbol(_name: &std::ffi::CStr) -> *mut std::ffi::c_void {
    std::ptr::null_mut()
  }
}

pub use imp::*;

#[cfg(all(test, native_sockets))]
mod tests {
  use std::os::fd::AsRawFd;

  /// Only a stream socket is taken over: a pipe, a file, a UDP socket and
  /// a closed fd are refused, a TCP socket is duplicated.
  #[test]
  fn dup_takes_stream_sockets_only() {
    let file = std::fs::File::open("/dev/null").unwrap();
    assert!(super::dup(file.as_raw_fd()).unwrap_err().to_string().contains("not a socket"));
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(super::dup(udp.as_raw_fd()).unwrap_err().to_string().contains("not a stream socket"));
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    assert!(super::dup(fds[0]).is_err());
    // SAFETY: the two fds pipe made, closed once.
    unsafe {
      libc::close(fds[0]);
      libc::close(fds[1]);
    }
    assert!(super::dup(fds[0]).is_err(), "a closed fd");
    assert!(super::dup(-1).is_err());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let ours = super::dup(client.as_raw_fd()).unwrap();
    assert_ne!(ours.as_raw_fd(), client.as_raw_fd(), "a duplicate of its own");
    assert_eq!(ours.peer_addr().unwrap(), listener.local_addr().unwrap());
  }
}

/// Bytes the C allocator has handed out and not had back (glibc: `mallinfo2`).
pub fn malloc_in_use() -> usize {
  #[cfg(all(target_os = "linux", target_env = "gnu"))]
  {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks + m.hblkhd
  }
  #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
  0
}

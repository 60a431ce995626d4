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

  /// A connected socket registered with the I/O thread's reactor.
  pub struct Socket(AsyncFd<TcpStream>);

  impl Socket {
    /// Registers a (non-blocking) socket with the I/O thread's reactor, for
    /// writability only: it is read on the JS thread (`reactor`), so data
    /// arriving never wakes the I/O thread. Needs a runtime context.
    pub fn register(stream: TcpStream) -> io::Result<Arc<Socket>> {
      stream.set_nonblocking(true)?;
      // SAFETY: a std TcpStream owns its fd, which stays open and unchanged
      // until the AsyncFd (which owns the stream) is dropped.
      let fd = unsafe { AsyncFd::register_with_interest(stream, tokio::io::Interest::WRITABLE) }
        .map_err(|e| e.into_parts().1)?;
      Ok(Arc::new(Socket(fd)))
    }

    pub fn get_ref(&self) -> &TcpStream {
      self.0.get_ref()
    }

    pub fn fd(&self) -> Fd {
      self.0.as_raw_fd()
    }

    /// Waits until the socket may take writes again.
    pub async fn writable(&self) -> io::Result<Ready<'_>> {
      self.0.writable().await.map(Ready)
    }
  }

  /// The socket was writable; `clear_ready` if a write then would block.
  pub struct Ready<'a>(tokio::io::unix::AsyncFdReadyGuard<'a, TcpStream>);

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

//! Locks that a panic does not break for ever. A panic while a lock is held
//! poisons std's `Mutex`; `.lock().unwrap()` would then panic in every
//! later caller, on every thread, for the rest of the process. The data
//! behind our locks stays consistent at every await and return point, so a
//! poisoned lock is taken as it is and its poison cleared; where a
//! connection's state was being changed, that connection is terminated
//! (`Conn::lock`).

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub trait Lock<T> {
  /// The lock, poisoned or not (the poison cleared).
  fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Lock<T> for Mutex<T> {
  fn locked(&self) -> MutexGuard<'_, T> {
    self.lock().unwrap_or_else(|poisoned| {
      self.clear_poison();
      poisoned.into_inner()
    })
  }
}

pub trait ReadWrite<T> {
  fn read_locked(&self) -> RwLockReadGuard<'_, T>;
  fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> ReadWrite<T> for RwLock<T> {
  fn read_locked(&self) -> RwLockReadGuard<'_, T> {
    self.read().unwrap_or_else(|poisoned| {
      self.clear_poison();
      poisoned.into_inner()
    })
  }
  fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
    self.write().unwrap_or_else(|poisoned| {
      self.clear_poison();
      poisoned.into_inner()
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_panic_under_the_lock_leaves_it_usable() {
    let m = std::sync::Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let _ = std::thread::spawn(move || {
      let _g = m2.lock().unwrap();
      panic!("on purpose, holding the lock");
    })
    .join();
    assert!(m.is_poisoned());
    *m.locked() += 1;
    assert!(!m.is_poisoned(), "the poison is cleared");
    assert_eq!(*m.lock().unwrap(), 2);
  }
}

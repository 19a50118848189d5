//! The process-wide memory budget for decoding.
//!
//! Every decode that materialises pixels reserves, before it starts, the
//! bytes it will hold at its peak (the decoded buffer plus the 8-bit copy
//! it may be converted to). An image whose reservation exceeds the whole
//! budget is refused ([`MediaError::TooBigToDecode`], a 422 at upload);
//! otherwise the reservation waits until enough is free, so N concurrent
//! uploads or processors cannot together hold more than the budget.
//! Streaming decodes (JPEG shrink-on-load, PNG row by row) reserve only
//! what they keep: their small output.

use std::sync::{Condvar, Mutex, OnceLock};

use crate::MediaError;

/// The default budget: 1 GiB.
pub const DEFAULT_DECODE_BUDGET: u64 = 1 << 30;

struct Budget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

static BUDGET: OnceLock<Budget> = OnceLock::new();

fn budget() -> &'static Budget {
    BUDGET.get_or_init(|| Budget { total: DEFAULT_DECODE_BUDGET, used: Mutex::new(0), freed: Condvar::new() })
}

/// Sets the process's decode budget in bytes. Only the first call (before
/// any decode) takes effect; returns whether this one did.
pub fn set_decode_budget(bytes: u64) -> bool {
    BUDGET.set(Budget { total: bytes.max(1 << 20), used: Mutex::new(0), freed: Condvar::new() }).is_ok()
}

/// The process's decode budget in bytes.
pub fn decode_budget() -> u64 {
    budget().total
}

/// Bytes reserved by decodes in progress (for metrics and tests).
pub fn decode_memory_in_use() -> u64 {
    *budget().used.lock().expect("decode budget poisoned")
}

/// A reservation, returned to the budget when dropped.
#[must_use]
pub struct Reservation {
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let b = budget();
        let mut used = b.used.lock().expect("decode budget poisoned");
        *used -= self.bytes;
        b.freed.notify_all();
    }
}

/// Reserves `bytes`, blocking the calling (blocking-pool) thread until they
/// are free; refuses what could never fit.
pub fn reserve(bytes: u64) -> Result<Reservation, MediaError> {
    let b = budget();
    if bytes > b.total {
        return Err(MediaError::TooBigToDecode { needed: bytes, budget: b.total });
    }
    let mut used = b.used.lock().expect("decode budget poisoned");
    while *used + bytes > b.total {
        used = b.freed.wait(used).expect("decode budget poisoned");
    }
    *used += bytes;
    Ok(Reservation { bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_wait_for_room_and_refuse_the_impossible() {
        let total = decode_budget();
        assert!(matches!(reserve(total + 1), Err(MediaError::TooBigToDecode { .. })));
        let big = reserve(total - 10).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let r = reserve(100).unwrap();
            tx.send(()).unwrap();
            drop(r);
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "it waits while the budget is full");
        drop(big);
        rx.recv_timeout(std::time::Duration::from_secs(5)).expect("it proceeds once room is free");
        t.join().unwrap();
    }
}

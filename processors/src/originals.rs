//! How many bytes of originals the pipeline holds in memory at once.
//!
//! The thumbnailer and moderation each read a photo's original whole before
//! decoding it, `processors.concurrency` photos at a time. Their decodes
//! draw on the process-wide decode budget (`media::budget`); the originals'
//! bytes draw on this one, shared by both: a read waits until the photo's
//! size (from its catalog row) is free, and gives it back when the photo is
//! done. So the pipeline's memory is bounded by this budget plus the decode
//! budget, however high its concurrency; a single original larger than the
//! whole budget takes all of it, alone.

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::ProcessError;

/// The default budget, `processors.originals_memory_mb`.
pub const DEFAULT_ORIGINALS_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes of originals in memory, counted in KiB.
#[derive(Debug)]
pub struct OriginalsBudget {
    kib: Semaphore,
    total_kib: u32,
}

impl OriginalsBudget {
    /// A budget of `bytes` (at least 1 KiB).
    pub fn new(bytes: u64) -> Self {
        let total_kib = (bytes / 1024).clamp(1, Semaphore::MAX_PERMITS as u64).min(u32::MAX as u64) as u32;
        Self { kib: Semaphore::new(total_kib as usize), total_kib }
    }

    /// Waits until `size` bytes (an original's catalog `byte_size`) are
    /// free, and holds them until the permit is dropped.
    pub async fn hold(&self, size: i64) -> Result<SemaphorePermit<'_>, ProcessError> {
        self.kib.acquire_many(Self::kib_for(size, self.total_kib)).await.map_err(ProcessError::transient)
    }

    /// KiB to hold for `size` bytes: rounded up, at least 1, at most all.
    fn kib_for(size: i64, total_kib: u32) -> u32 {
        let kib = (size.max(0) as u64).div_ceil(1024).max(1);
        kib.min(total_kib as u64) as u32
    }

    /// KiB free now (for tests and metrics).
    pub fn available_kib(&self) -> usize {
        self.kib.available_permits()
    }
}

impl Default for OriginalsBudget {
    fn default() -> Self {
        Self::new(DEFAULT_ORIGINALS_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_round_up_and_are_capped_at_the_whole_budget() {
        assert_eq!(OriginalsBudget::kib_for(0, 100), 1);
        assert_eq!(OriginalsBudget::kib_for(-5, 100), 1);
        assert_eq!(OriginalsBudget::kib_for(1, 100), 1);
        assert_eq!(OriginalsBudget::kib_for(1024, 100), 1);
        assert_eq!(OriginalsBudget::kib_for(1025, 100), 2);
        assert_eq!(OriginalsBudget::kib_for(10 << 20, 100), 100);
    }

    #[tokio::test]
    async fn a_read_waits_until_its_size_is_free() {
        let budget = OriginalsBudget::new(1024 * 1024); // 1 MiB
        let first = budget.hold(700 * 1024).await.unwrap();
        assert_eq!(budget.available_kib(), 324);
        // 400 KiB more does not fit until the first is done.
        let waiting = tokio::time::timeout(Duration::from_millis(50), budget.hold(400 * 1024)).await;
        assert!(waiting.is_err(), "a read beyond the budget must wait");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), budget.hold(400 * 1024)).await.unwrap().unwrap();
        assert_eq!(budget.available_kib(), 624);
        // An original larger than the whole budget takes all of it, alone.
        drop(second);
        let huge = budget.hold(64 << 20).await.unwrap();
        assert_eq!(budget.available_kib(), 0);
        drop(huge);
        assert_eq!(budget.available_kib(), 1024);
    }
}

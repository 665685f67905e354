//! The memory budget of a run: the part buffers of all its copies, counted in MiB and shared.
//!
//! A copy first reserves its own share ([`Budget::reserve`]): the buffer it fills and one part
//! uploading (less for a file smaller than two parts). That share is what it needs to make
//! progress alone, so a copy that has it never waits on another copy, and copies that cannot
//! get it wait (in arrival order) before they open their download. Further parts of the same
//! file upload at once only with budget left over ([`Share::try_extra`]), never waited for: a
//! copy whose try fails waits for one of its own uploads instead. No copy holds budget while
//! waiting for budget, so the run cannot deadlock.
//!
//! A copy whose share alone is larger than the whole budget (huge parts, a tiny budget) takes
//! the whole budget: it runs alone rather than never.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const MIB: usize = 1024 * 1024;

/// Part buffers shared by the copies of one run (see the module docs).
#[derive(Debug, Clone)]
pub struct Budget {
    /// One permit per MiB; `None`: no budget, each copy one part in flight.
    permits: Option<Arc<Semaphore>>,
    /// Permits in all.
    total: u32,
}

impl Budget {
    /// A budget of `bytes` (rounded down to whole MiB) for the part buffers of a run.
    pub fn new(bytes: usize) -> Self {
        let total = u32::try_from(bytes / MIB).unwrap_or(u32::MAX);
        Self {
            permits: Some(Arc::new(Semaphore::new(total as usize))),
            total,
        }
    }

    /// No shared budget: a copy always gets its own share and never more (one part in flight
    /// while the next is read).
    pub fn unshared() -> Self {
        Self {
            permits: None,
            total: 0,
        }
    }

    /// MiB of the budget not taken right now.
    pub fn available_mib(&self) -> usize {
        self.permits.as_ref().map_or(0, |p| p.available_permits())
    }

    /// Waits until a copy's own share fits: two buffers of `buffer` bytes, or `listed` bytes
    /// (plus `slack`) when the file is smaller than that.
    pub async fn reserve(&self, buffer: usize, listed: u64, slack: usize) -> Share {
        let whole = usize::try_from(listed).unwrap_or(usize::MAX);
        let own = whole.saturating_add(slack).min(buffer.saturating_mul(2));
        let units = mib(own).min(self.total);
        let base = match &self.permits {
            Some(permits) if units > 0 => permits.clone().acquire_many_owned(units).await.ok(),
            _ => None,
        };
        Share {
            permits: self.permits.clone(),
            extra_units: mib(buffer),
            _base: base,
        }
    }
}

/// One copy's part of the budget: its own share, held until the copy ends, and the way to more.
#[derive(Debug)]
pub struct Share {
    permits: Option<Arc<Semaphore>>,
    /// MiB of one more part buffer.
    extra_units: u32,
    _base: Option<OwnedSemaphorePermit>,
}

impl Share {
    /// A share outside any budget: one part in flight, never more.
    pub fn alone() -> Self {
        Self {
            permits: None,
            extra_units: 0,
            _base: None,
        }
    }

    /// Budget for one more part buffer, when there is that much left now (never waits).
    pub fn try_extra(&self) -> Option<OwnedSemaphorePermit> {
        let permits = self.permits.as_ref()?;
        if self.extra_units == 0 {
            return None;
        }
        permits
            .clone()
            .try_acquire_many_owned(self.extra_units)
            .ok()
    }
}

/// `bytes` in whole MiB, rounded up.
fn mib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(MIB)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn given_budget_when_shares_reserved_then_taken_from_it_and_given_back() {
        let budget = Budget::new(20 * MIB);
        let a = budget.reserve(5 * MIB, 100 * MIB as u64, 0).await;
        assert_eq!(budget.available_mib(), 10, "two 5 MiB buffers");
        let small = budget.reserve(5 * MIB, 1000, 0).await;
        assert_eq!(
            budget.available_mib(),
            9,
            "a small file needs only its size"
        );
        let extra = a.try_extra().expect("5 MiB left");
        assert_eq!(budget.available_mib(), 4);
        assert!(a.try_extra().is_none(), "4 MiB left: not a part");
        drop((extra, small));
        drop(a);
        assert_eq!(budget.available_mib(), 20);
    }

    #[tokio::test]
    async fn given_budget_taken_when_reserved_then_waits_until_given_back() {
        let budget = Budget::new(10 * MIB);
        let first = budget.reserve(5 * MIB, u64::MAX, 0).await;
        let waiting = budget.reserve(5 * MIB, u64::MAX, 0);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut waiting)
                .await
                .is_err(),
            "the budget is taken"
        );
        drop(first);
        let second = waiting.await;
        assert!(second.try_extra().is_none());
    }

    #[tokio::test]
    async fn given_share_larger_than_budget_when_reserved_then_takes_the_whole_budget() {
        let budget = Budget::new(8 * MIB);
        let share = budget.reserve(64 * MIB, u64::MAX, 0).await;
        assert_eq!(budget.available_mib(), 0);
        assert!(share.try_extra().is_none());
        assert!(Share::alone().try_extra().is_none());
        assert!(
            Budget::unshared()
                .reserve(5 * MIB, u64::MAX, 0)
                .await
                .try_extra()
                .is_none()
        );
    }
}

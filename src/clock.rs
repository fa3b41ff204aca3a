//! The server's notion of "now", in whole seconds since the Unix epoch.
//!
//! Production uses the system clock. Tests hold a clone and move it forward to
//! prove expiry and timeouts without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A clock: the system time plus an offset that only tests change, or (for
/// tests) a stopped clock that moves only when told to.
#[derive(Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    stopped: bool,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock stopped at the current time: it moves only by
    /// [`Clock::advance`], so tests never straddle a second boundary.
    pub fn stopped() -> Self {
        Self {
            offset: Arc::new(AtomicI64::new(chrono::Utc::now().timestamp())),
            stopped: true,
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        let offset = self.offset.load(Ordering::Relaxed);
        if self.stopped {
            offset
        } else {
            chrono::Utc::now().timestamp() + offset
        }
    }

    /// Moves this clock (and every clone of it) forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// Formats epoch seconds as RFC 3339 (UTC, `Z`).
pub fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

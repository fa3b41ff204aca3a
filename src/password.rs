//! Password rules and bcrypt hashing off the async workers.
//!
//! bcrypt only reads the first 72 bytes of a password. bearer-auth refuses
//! longer passwords at signup instead of silently ignoring the rest, and never
//! hands bcrypt more than 72 bytes, so every byte of a password counts.

use std::sync::Arc;

use prometheus::Histogram;
use rocket::tokio::sync::Semaphore;

use crate::error::ApiError;

/// bcrypt's input limit.
pub const MAX_PASSWORD_BYTES: usize = 72;
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Checks a new password; the error says what is wrong.
pub fn validate_new_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::Unprocessable(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (bcrypt ignores \
             anything longer, so longer passwords are refused rather than truncated)"
        )));
    }
    if password.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(
            "password must not contain control characters (RFC 7617)".into(),
        ));
    }
    Ok(())
}

/// Hashes and verifies passwords on the blocking pool, at most one per core
/// at a time, so a flood of signins cannot starve other requests.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash of a random password at the configured cost: unknown users are
    /// verified against it so that they cost the same time as known ones.
    dummy_hash: Arc<str>,
    /// Seconds spent waiting for a slot.
    wait: Histogram,
}

impl PasswordHasher {
    pub fn new(cost: u32, wait: Histogram) -> Result<Self, bcrypt::BcryptError> {
        let dummy = crate::tokens::random_id();
        let dummy_hash = bcrypt::hash(dummy, cost)?;
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            cost,
            permits: Arc::new(Semaphore::new(slots)),
            dummy_hash: dummy_hash.into(),
            wait,
        })
    }

    /// Whether `hash` was made at another cost than the configured one (or
    /// cannot be read): it is then hashed anew at the next good signin, so
    /// that a change of `bcrypt_cost` reaches every account, and known and
    /// unknown users keep costing the same time.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        hash.parse::<bcrypt::HashParts>()
            .map_or(true, |parts| parts.get_cost() != self.cost)
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::internal(
                "bcrypt hash",
                "password longer than 72 bytes",
            ));
        }
        let cost = self.cost;
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| ApiError::internal("bcrypt hash", e))
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is no user: the answer is then always `false`, after the same
    /// work.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matched = self
            .run(move || {
                if password.len() > MAX_PASSWORD_BYTES {
                    // Can never match (signup refuses it); spend the same time.
                    let _ = bcrypt::verify(&password.as_bytes()[..MAX_PASSWORD_BYTES], &hash);
                    return Ok(false);
                }
                bcrypt::verify(password, &hash)
            })
            .await?
            .map_err(|e| ApiError::internal("bcrypt verify", e))?;
        Ok(known && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let waiting = self.wait.start_timer();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("hashing semaphore", e))?;
        waiting.observe_duration();
        rocket::tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::internal("hashing task", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[rocket::async_test]
    async fn at_most_one_hash_per_core_at_a_time() {
        let wait = crate::metrics::Metrics::new().expect("metrics").hash_wait;
        let hasher = PasswordHasher::new(4, wait).expect("hasher");
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..slots * 4).map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            let hasher = hasher.clone();
            async move {
                hasher
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }
        });
        let results = futures::future::join_all(jobs).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(peak.load(Ordering::SeqCst), slots);
    }

    #[test]
    fn password_rules() {
        assert!(validate_new_password("short").is_err());
        assert!(validate_new_password("long enough").is_ok());
        assert!(validate_new_password(&"x".repeat(72)).is_ok());
        assert!(validate_new_password(&"x".repeat(73)).is_err());
        // 8 characters, 16 bytes.
        assert!(validate_new_password("éééééééé").is_ok());
        assert!(validate_new_password("tab\there!").is_err());
    }
}

//! A short-lived, per-instance cache of the rows the bearer guard reads: the
//! user of a signed token, and the session (with its user) of a session
//! token. It saves the database read (and the hop to the blocking pool) on
//! repeated requests within `auth_cache_ttl_ms`.
//!
//! What it changes: this instance forgets an entry at once when it deletes
//! the user or ends the session; another instance sharing the database sees
//! a deletion or a log-out at most `auth_cache_ttl_ms` later. Timeouts are
//! still checked on every request against the cached times. `0` turns the
//! cache off: every request reads the database. Single-use tokens never use
//! it (spending a token is a write).
//!
//! On PostgreSQL the instances also tell each other: the transaction that
//! deletes a user or ends sessions sends a `NOTIFY` on [`CHANNEL`], and every
//! instance listens (see [`listen`]) and forgets those entries within about
//! [`POLL`], well before the TTL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::db::models::{Session, User};
use crate::App;

/// The PostgreSQL channel of revocations.
pub const CHANNEL: &str = "bearer_auth_revoked";
/// How often the listener looks for notifications.
pub const POLL: Duration = Duration::from_millis(50);
/// How often the listener checks that its connection still answers.
pub const KEEPALIVE: Duration = Duration::from_secs(5);

/// What another instance must forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// A deleted user (and all their sessions).
    User(i64),
    /// One ended session.
    Session(String),
    /// Every session of a user.
    SessionsOf(i64),
}

impl Revoked {
    pub fn payload(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Session(id) => format!("session:{id}"),
            Self::SessionsOf(id) => format!("sessions-of:{id}"),
        }
    }

    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, value) = payload.split_once(':')?;
        match kind {
            "user" => value.parse().ok().map(Self::User),
            "session" => Some(Self::Session(value.to_owned())),
            "sessions-of" => value.parse().ok().map(Self::SessionsOf),
            _ => None,
        }
    }
}

/// Entries kept at most per map; past that the map is emptied.
const CAPACITY: usize = 10_000;

type Entry<T> = (Instant, T);

pub struct AuthCache {
    ttl: Duration,
    users: Mutex<HashMap<i64, Entry<User>>>,
    sessions: Mutex<HashMap<String, Entry<(Session, User)>>>,
    /// Counts the forgets. A row read before a forget must not be put back
    /// after it (a request that read the user just before `DELETE /me`).
    forgets: AtomicU64,
}

fn fresh<T: Clone>(entry: Option<&Entry<T>>, ttl: Duration) -> Option<T> {
    entry
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, value)| value.clone())
}

fn insert<K: std::hash::Hash + Eq, T>(map: &mut HashMap<K, Entry<T>>, key: K, value: T) {
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(key, (Instant::now(), value));
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            users: Mutex::default(),
            sessions: Mutex::default(),
            forgets: AtomicU64::new(0),
        }
    }

    /// Read before reading the database; hand it to `put_*`, which then
    /// keeps nothing if anything was forgotten in between.
    pub fn epoch(&self) -> u64 {
        self.forgets.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.forgets.fetch_add(1, Ordering::SeqCst);
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub fn user(&self, id: i64) -> Option<User> {
        if !self.enabled() {
            return None;
        }
        let users = self.users.lock().ok()?;
        fresh(users.get(&id), self.ttl)
    }

    /// Keeps `user`, read from the database after [`AuthCache::epoch`] gave
    /// `epoch`.
    pub fn put_user(&self, user: &User, epoch: u64) {
        if let (true, Ok(mut users)) = (self.enabled(), self.users.lock()) {
            if self.epoch() == epoch {
                insert(&mut users, user.id, user.clone());
            }
        }
    }

    pub fn session(&self, id: &str) -> Option<(Session, User)> {
        if !self.enabled() {
            return None;
        }
        let sessions = self.sessions.lock().ok()?;
        fresh(sessions.get(id), self.ttl)
    }

    /// Keeps `session` and its user, read after `epoch` (see
    /// [`AuthCache::put_user`]).
    pub fn put_session(&self, session: &Session, user: &User, epoch: u64) {
        if let (true, Ok(mut sessions)) = (self.enabled(), self.sessions.lock()) {
            if self.epoch() != epoch {
                return;
            }
            insert(
                &mut sessions,
                session.id.clone(),
                (session.clone(), user.clone()),
            );
        }
    }

    /// Forgets one session.
    pub fn forget_session(&self, id: &str) {
        self.bump();
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(id);
        }
    }

    /// Forgets every session of a user.
    pub fn forget_sessions_of(&self, user_id: i64) {
        self.bump();
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|_, (_, (session, _))| session.user_id != user_id);
        }
    }

    /// Forgets a user and all their sessions.
    pub fn forget_user(&self, user_id: i64) {
        self.bump();
        if let Ok(mut users) = self.users.lock() {
            users.remove(&user_id);
        }
        self.forget_sessions_of(user_id);
    }

    /// Forgets what a revocation names.
    pub fn forget(&self, revoked: &Revoked) {
        match revoked {
            Revoked::User(id) => self.forget_user(*id),
            Revoked::Session(id) => self.forget_session(id),
            Revoked::SessionsOf(id) => self.forget_sessions_of(*id),
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.bump();
        if let Ok(mut users) = self.users.lock() {
            users.clear();
        }
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.clear();
        }
    }
}

/// Listens for revocations from every instance on a PostgreSQL database and
/// applies them to this instance's cache, until `stop` is set (the server
/// shuts down) or the server is gone. Runs on its own thread with its own
/// connection. Each time it starts listening (again) it empties the cache,
/// since notifications may have been missed before; a query every
/// [`KEEPALIVE`] finds a connection that died without a word.
pub fn listen(url: String, app: Weak<App>, stop: &AtomicBool) {
    let stopped = || {
        let done = stop.load(Ordering::SeqCst) || app.strong_count() == 0;
        if done {
            log::info!("revocation listener stopped");
        }
        done
    };
    loop {
        let mut conn = match PgConnection::establish(&url) {
            Ok(conn) => conn,
            Err(error) => {
                log::warn!("revocation listener cannot connect: {error}");
                if stopped() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(error) = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn) {
            log::warn!("revocation listener cannot listen: {error}");
            if stopped() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        // Rows read before this point were not covered by any notification.
        match app.upgrade() {
            Some(app) => app.cache.clear(),
            None => return,
        }
        let mut last_check = Instant::now();
        loop {
            if stopped() {
                return;
            }
            let Some(app) = app.upgrade() else {
                return;
            };
            let mut lost = false;
            if last_check.elapsed() >= KEEPALIVE {
                last_check = Instant::now();
                lost = diesel::sql_query("SELECT 1").execute(&mut conn).is_err();
            }
            if !lost {
                for notification in conn.notifications_iter() {
                    match notification {
                        Ok(n) => {
                            if let Some(revoked) = Revoked::parse(&n.payload) {
                                app.cache.forget(&revoked);
                            }
                        }
                        Err(_) => {
                            lost = true;
                            break;
                        }
                    }
                }
            }
            if lost {
                log::warn!("revocation listener lost its connection; reconnecting");
                app.cache.clear();
                break;
            }
            drop(app);
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> User {
        User {
            id: 7,
            username: "alice".into(),
            password_hash: String::new(),
            created_at: 0,
        }
    }

    #[test]
    fn a_row_read_before_a_forget_is_not_kept() {
        let cache = AuthCache::new(Duration::from_secs(60));
        let epoch = cache.epoch();
        // The user is deleted (and forgotten) while the row is in flight.
        cache.forget_user(7);
        cache.put_user(&alice(), epoch);
        assert!(cache.user(7).is_none());
        // Read afresh, it is kept.
        cache.put_user(&alice(), cache.epoch());
        assert!(cache.user(7).is_some());
    }
}

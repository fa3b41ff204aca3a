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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::models::{Session, User};

/// Entries kept at most per map; past that the map is emptied.
const CAPACITY: usize = 10_000;

type Entry<T> = (Instant, T);

pub struct AuthCache {
    ttl: Duration,
    users: Mutex<HashMap<i64, Entry<User>>>,
    sessions: Mutex<HashMap<String, Entry<(Session, User)>>>,
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
        }
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

    pub fn put_user(&self, user: &User) {
        if let (true, Ok(mut users)) = (self.enabled(), self.users.lock()) {
            insert(&mut users, user.id, user.clone());
        }
    }

    pub fn session(&self, id: &str) -> Option<(Session, User)> {
        if !self.enabled() {
            return None;
        }
        let sessions = self.sessions.lock().ok()?;
        fresh(sessions.get(id), self.ttl)
    }

    pub fn put_session(&self, session: &Session, user: &User) {
        if let (true, Ok(mut sessions)) = (self.enabled(), self.sessions.lock()) {
            insert(
                &mut sessions,
                session.id.clone(),
                (session.clone(), user.clone()),
            );
        }
    }

    /// Forgets one session.
    pub fn forget_session(&self, id: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(id);
        }
    }

    /// Forgets every session of a user.
    pub fn forget_sessions_of(&self, user_id: i64) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|_, (_, (session, _))| session.user_id != user_id);
        }
    }

    /// Forgets a user and all their sessions.
    pub fn forget_user(&self, user_id: i64) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(&user_id);
        }
        self.forget_sessions_of(user_id);
    }
}

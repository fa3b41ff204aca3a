//! Rows and the queries on them. Every function takes a connection and runs on
//! the blocking pool through [`super::Db::run`].

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

use super::schema::{sessions, single_use_tokens, users};
use super::DbConn;
use crate::auth_cache::Revoked;
use crate::clock::rfc3339;
use crate::error::{ApiError, Challenge};

/// An account.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
}

impl std::fmt::Debug for User {
    // Never the hash, not even in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What the API shows of a user: never the hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            created_at: rfc3339(user.created_at),
        }
    }
}

impl User {
    /// Inserts a user; a taken username is a 409.
    pub fn create(
        conn: &mut DbConn,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<User, ApiError> {
        let inserted = diesel::insert_into(users::table)
            .values((
                users::username.eq(username),
                users::password_hash.eq(password_hash),
                users::created_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(ApiError::Conflict("username is taken".into()))
            }
            Err(e) => return Err(e.into()),
        }
        User::find_by_username(conn, username)?
            .ok_or_else(|| ApiError::internal("signup", "inserted user not found"))
    }

    /// Replaces the password hash, if it is still `old` (a concurrent
    /// change wins).
    pub fn replace_hash(conn: &mut DbConn, id: i64, old: &str, new: &str) -> Result<(), ApiError> {
        diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(users::password_hash.eq(old)),
        )
        .set(users::password_hash.eq(new))
        .execute(conn)?;
        Ok(())
    }

    pub fn find_by_username(conn: &mut DbConn, username: &str) -> Result<Option<User>, ApiError> {
        Ok(users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn find(conn: &mut DbConn, id: i64) -> Result<Option<User>, ApiError> {
        Ok(users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()?)
    }

    /// Every username, oldest account first.
    pub fn usernames(conn: &mut DbConn) -> Result<Vec<String>, ApiError> {
        Ok(users::table
            .select(users::username)
            .order(users::id)
            .load(conn)?)
    }

    /// Deletes a user; sessions and unspent tokens go with it (foreign keys
    /// with `ON DELETE CASCADE`, deleted explicitly too for clarity).
    pub fn delete(conn: &mut DbConn, id: i64) -> Result<bool, ApiError> {
        conn.transaction(|conn| {
            diesel::delete(single_use_tokens::table.filter(single_use_tokens::user_id.eq(id)))
                .execute(conn)?;
            diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
            let deleted = diesel::delete(users::table.find(id)).execute(conn)?;
            super::announce(conn, &Revoked::User(id))?;
            Ok::<_, ApiError>(deleted)
        })
        .map(|n| n == 1)
    }
}

/// A server-side session.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The absolute end: `created_at + session_absolute_timeout`.
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
}

/// Where and what a session was opened from.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub ip: Option<std::net::IpAddr>,
}

impl Session {
    /// Opens a session with a fresh 128-bit random id.
    pub fn open(
        conn: &mut DbConn,
        user_id: i64,
        now: i64,
        absolute_timeout: i64,
        client: &ClientInfo,
    ) -> Result<Session, ApiError> {
        let session = Session {
            id: crate::tokens::random_id(),
            user_id,
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(absolute_timeout),
            user_agent: client.user_agent.clone(),
            client_addr: client.address.clone(),
        };
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(&session.id),
                sessions::user_id.eq(session.user_id),
                sessions::created_at.eq(session.created_at),
                sessions::last_seen_at.eq(session.last_seen_at),
                sessions::expires_at.eq(session.expires_at),
                sessions::user_agent.eq(&session.user_agent),
                sessions::client_addr.eq(&session.client_addr),
            ))
            .execute(conn)?;
        Ok(session)
    }

    /// The session and its user, if the session exists.
    pub fn find_with_user(
        conn: &mut DbConn,
        id: &str,
    ) -> Result<Option<(Session, User)>, ApiError> {
        Ok(sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(id))
            .select((Session::as_select(), User::as_select()))
            .first(conn)
            .optional()?)
    }

    /// Whether the session is alive at `now`.
    pub fn is_live(&self, now: i64, idle_timeout: i64) -> bool {
        now < self.expires_at && now < self.last_seen_at.saturating_add(idle_timeout)
    }

    /// When the session dies if it is not used again.
    pub fn ends_at(&self, idle_timeout: i64) -> i64 {
        self.expires_at
            .min(self.last_seen_at.saturating_add(idle_timeout))
    }

    /// Records use at `now`, writing only when the stored value is at least
    /// `interval` seconds old.
    pub fn touch(conn: &mut DbConn, id: &str, now: i64, interval: i64) -> Result<(), ApiError> {
        diesel::update(
            sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::last_seen_at.le(now - interval)),
        )
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
        Ok(())
    }

    /// The user's live sessions, newest first.
    pub fn list_live(
        conn: &mut DbConn,
        user_id: i64,
        now: i64,
        idle_timeout: i64,
    ) -> Result<Vec<Session>, ApiError> {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_seen_at.gt(now - idle_timeout))
            .order((sessions::created_at.desc(), sessions::id))
            .select(Session::as_select())
            .load(conn)?)
    }

    /// Ends one of the user's sessions; `false` when it is not theirs.
    pub fn end(conn: &mut DbConn, id: &str, user_id: i64) -> Result<bool, ApiError> {
        conn.transaction(|conn| {
            // The user's own tokens only: an id of someone else's session
            // must change nothing.
            diesel::delete(
                single_use_tokens::table
                    .filter(single_use_tokens::session_id.eq(id))
                    .filter(single_use_tokens::user_id.eq(user_id)),
            )
            .execute(conn)?;
            let ended = diesel::delete(
                sessions::table
                    .filter(sessions::id.eq(id))
                    .filter(sessions::user_id.eq(user_id)),
            )
            .execute(conn)?;
            // Only a session that really ended is worth telling the others.
            if ended == 1 {
                super::announce(conn, &Revoked::Session(id.to_owned()))?;
            }
            Ok::<_, ApiError>(ended)
        })
        .map(|n| n == 1)
    }

    /// Ends every session of the user.
    pub fn end_all(conn: &mut DbConn, user_id: i64) -> Result<usize, ApiError> {
        conn.transaction(|conn| {
            diesel::delete(
                single_use_tokens::table
                    .filter(single_use_tokens::user_id.eq(user_id))
                    .filter(single_use_tokens::session_id.is_not_null()),
            )
            .execute(conn)?;
            let ended = diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
                .execute(conn)?;
            super::announce(conn, &Revoked::SessionsOf(user_id))?;
            Ok::<_, ApiError>(ended)
        })
    }

    /// How many sessions are alive at `now`, across all users.
    pub fn count_live(conn: &mut DbConn, now: i64, idle_timeout: i64) -> Result<i64, ApiError> {
        Ok(sessions::table
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_seen_at.gt(now - idle_timeout))
            .count()
            .get_result(conn)?)
    }

    /// Deletes every dead session; returns how many.
    pub fn sweep(conn: &mut DbConn, now: i64, idle_timeout: i64) -> Result<usize, ApiError> {
        Ok(diesel::delete(
            sessions::table.filter(
                sessions::expires_at
                    .le(now)
                    .or(sessions::last_seen_at.le(now - idle_timeout)),
            ),
        )
        .execute(conn)?)
    }
}

/// The server-side record of an unspent single-use token.
pub struct SingleUseToken;

impl SingleUseToken {
    /// Records a freshly issued token as spendable once. If its session or
    /// user is gone (ended or deleted by a request racing this one), the
    /// token has nothing to speak for: `invalid_token`, not a fault.
    pub fn record(
        conn: &mut DbConn,
        jti: &str,
        user_id: i64,
        session_id: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<(), ApiError> {
        diesel::insert_into(single_use_tokens::table)
            .values((
                single_use_tokens::jti.eq(jti),
                single_use_tokens::user_id.eq(user_id),
                single_use_tokens::session_id.eq(session_id),
                single_use_tokens::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .map_err(|e| match e {
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                    ApiError::Unauthenticated(Challenge::InvalidToken)
                }
                e => e.into(),
            })?;
        Ok(())
    }

    /// Spends the token: one atomic delete, whose row count decides. Exactly
    /// one caller ever sees `true`, whatever the number of racing requests or
    /// server instances.
    pub fn consume(conn: &mut DbConn, jti: &str) -> Result<bool, ApiError> {
        let deleted =
            diesel::delete(single_use_tokens::table.filter(single_use_tokens::jti.eq(jti)))
                .execute(conn)?;
        Ok(deleted == 1)
    }

    /// Deletes records of tokens that expired before `cutoff`.
    pub fn sweep(conn: &mut DbConn, cutoff: i64) -> Result<usize, ApiError> {
        Ok(diesel::delete(
            single_use_tokens::table.filter(single_use_tokens::expires_at.lt(cutoff)),
        )
        .execute(conn)?)
    }
}

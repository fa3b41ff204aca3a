//! `BearerUser`: a request carrying a valid `Authorization: Bearer <token>`
//! (RFC 6750), whose user (and session, when sessions are on) still exists.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocket::request::{FromRequest, Outcome, Request};

use diesel::Connection;

use super::Authorization;
use crate::db::models::{Session, SingleUseToken, User};
use crate::db::DbConn;
use crate::error::{ApiError, Challenge};
use crate::tokens::{Refusal, Subject, MAX_TOKEN_BYTES};
use crate::App;

/// Seconds between two writes of a session's `last_seen_at`, at most.
pub const TOUCH_INTERVAL: i64 = 5;

/// Seconds between two writes of `last_seen_at` with this idle timeout: at
/// most [`TOUCH_INTERVAL`], and at most half the timeout, so that a session
/// in use never dies of a `last_seen_at` written too rarely.
pub fn touch_interval(idle_timeout: i64) -> i64 {
    TOUCH_INTERVAL.min(idle_timeout / 2)
}

/// An authenticated bearer request.
#[derive(Debug, Clone)]
pub struct BearerUser {
    pub user: User,
    /// The session the token belongs to, when sessions are on.
    pub session: Option<Session>,
    /// Set when the request ended its own credentials (log-out, account
    /// deletion): no fresh token may follow.
    ended: Arc<AtomicBool>,
}

impl BearerUser {
    /// Marks the credentials of this request as gone.
    pub fn mark_ended(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }

    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    /// The subject a fresh token for this request would carry.
    pub fn subject(&self) -> Subject {
        match &self.session {
            Some(session) => Subject::Session(session.id.clone()),
            None => Subject::User(self.user.id),
        }
    }
}

/// Extracts the token of `Bearer <token>`: scheme case-insensitive, one or
/// more spaces, then a `token68` (RFC 7235 section 2.1).
pub fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ').trim_end_matches(' ');
    let body = token.trim_end_matches('=');
    let token68 = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    (!body.is_empty() && body.chars().all(token68)).then_some(token)
}

/// The guard's answer, computed once per request; the rotation fairing reads
/// it too.
pub struct BearerOutcome(pub Result<BearerUser, ApiError>);

impl BearerOutcome {
    /// The outcome of this request, or a refusal if the guard never ran.
    pub fn of<'r>(request: &'r Request<'_>) -> &'r BearerOutcome {
        request.local_cache(|| BearerOutcome(Err(ApiError::Unauthenticated(Challenge::Bearer))))
    }
}

async fn authenticate(request: &Request<'_>) -> Result<BearerUser, ApiError> {
    let app = App::from_request_state(request)?;
    let header = match super::authorization(request) {
        Authorization::Missing => return Err(reject(request, app, "missing", Challenge::Bearer)),
        Authorization::One(header) => header,
        Authorization::Several => {
            return Err(reject(
                request,
                app,
                "invalid_request",
                Challenge::InvalidRequest,
            ))
        }
    };
    if header.len() > MAX_TOKEN_BYTES + 64 {
        return Err(refuse(request, Refusal::TooLong));
    }
    let Some(token) = parse_bearer(header) else {
        return Err(reject(
            request,
            app,
            "invalid_request",
            Challenge::InvalidRequest,
        ));
    };
    let now = app.clock.now();
    let (claims, subject) = app
        .tokens
        .verify(token, now)
        .map_err(|refusal| refuse(request, refusal))?;

    let single_use = app.config.single_use_tokens;
    let idle = app.config.session_idle_timeout as i64;
    let touch = touch_interval(idle);
    let authenticated = |user, session| BearerUser {
        user,
        session,
        ended: Arc::default(),
    };
    // Recently read rows, unless the token must be spent (a write) or the
    // session's `last_seen_at` is due for a write.
    if !single_use {
        match &subject {
            Subject::User(id) => {
                if let Some(user) = app.cache.user(*id) {
                    return Ok(authenticated(user, None));
                }
            }
            Subject::Session(sid) => {
                if let Some((session, user)) = app.cache.session(sid) {
                    if !session.is_live(now, idle) {
                        return Err(refuse(request, Refusal::SessionEnded));
                    }
                    if now - session.last_seen_at < touch {
                        return Ok(authenticated(user, Some(session)));
                    }
                }
            }
        }
    }
    let jti = claims.jti.clone();
    let epoch = app.cache.epoch();
    // A single-use token is spent in one transaction with the reads: a
    // database failure after the spending rolls it back, so the client can
    // try again with the same token.
    let found = app
        .db
        .run(move |conn| {
            if single_use {
                conn.transaction(|conn| lookup(conn, Some(&jti), subject, now, idle, touch))
            } else {
                lookup(conn, None, subject, now, idle, touch)
            }
        })
        .await?;
    let (user, session) = found.map_err(|refusal| refuse(request, refusal))?;
    if !single_use {
        match &session {
            Some(session) => app.cache.put_session(session, &user, epoch),
            None => app.cache.put_user(&user, epoch),
        }
    }
    Ok(authenticated(user, session))
}

/// The rows a verified token speaks for, spending it first when `spend`
/// holds its `jti`. `Ok(Err(_))` is a refused token, not a fault.
fn lookup(
    conn: &mut DbConn,
    spend: Option<&str>,
    subject: Subject,
    now: i64,
    idle: i64,
    touch: i64,
) -> Result<Result<(User, Option<Session>), Refusal>, ApiError> {
    if let Some(jti) = spend {
        if !SingleUseToken::consume(conn, jti)? {
            return Ok(Err(Refusal::Spent));
        }
    }
    match subject {
        Subject::User(id) => Ok(User::find(conn, id)?
            .map(|user| (user, None))
            .ok_or(Refusal::UnknownUser)),
        Subject::Session(sid) => match Session::find_with_user(conn, &sid)? {
            Some((mut session, user)) if session.is_live(now, idle) => {
                // No statement at all while `last_seen_at` is fresh.
                if now - session.last_seen_at >= touch {
                    Session::touch(conn, &sid, now, touch)?;
                    session.last_seen_at = now;
                }
                Ok(Ok((user, Some(session))))
            }
            _ => Ok(Err(Refusal::SessionEnded)),
        },
    }
}

/// Refuses a bad token, with the reason kept server-side.
fn refuse(request: &Request<'_>, refusal: Refusal) -> ApiError {
    match App::from_request_state(request) {
        Ok(app) => reject(request, app, refusal.as_str(), Challenge::InvalidToken),
        Err(error) => error,
    }
}

/// Counts and logs a refused bearer request.
fn reject(request: &Request<'_>, app: &App, reason: &str, challenge: Challenge) -> ApiError {
    app.metrics
        .tokens_refused
        .with_label_values(&[reason])
        .inc();
    app.audit(
        "token_refused",
        None,
        super::client::client_ip(request),
        serde_json::json!({ "reason": reason }),
    );
    ApiError::Unauthenticated(challenge)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BearerUser {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ApiError> {
        let outcome = request
            .local_cache_async(async { BearerOutcome(authenticate(request).await) })
            .await;
        super::outcome(request, &outcome.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc6750() {
        assert_eq!(parse_bearer("Bearer abc.def-_~+/="), Some("abc.def-_~+/="));
        assert_eq!(parse_bearer("bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("BEARER  abc"), Some("abc"));
        assert_eq!(parse_bearer("Bearer"), None);
        assert_eq!(parse_bearer("Bearer "), None);
        assert_eq!(parse_bearer("Bearer a b"), None);
        assert_eq!(parse_bearer("Bearer a=b"), None);
        assert_eq!(parse_bearer("Basic abc"), None);
        assert_eq!(parse_bearer("Bearer ==="), None);
    }
}

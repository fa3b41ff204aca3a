//! `BasicCredentials`: HTTP Basic authentication (RFC 7617) against the
//! users table.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use rocket::request::{FromRequest, Outcome, Request};

use super::Authorization;
use crate::db::models::User;
use crate::error::{ApiError, Challenge};
use crate::throttle::{self, Verdict};
use crate::App;

/// Longest `Authorization` header read for Basic.
const MAX_HEADER_BYTES: usize = 1024;

/// A user who proved their password with HTTP Basic.
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    pub user: User,
}

/// Parses `Basic base64(user-id ":" password)`: scheme case-insensitive,
/// UTF-8, split at the first colon, neither part empty, no control
/// characters. Returns `None` for anything else.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    if header.len() > MAX_HEADER_BYTES {
        return None;
    }
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = rest.trim_matches(' ');
    if encoded.is_empty() || encoded.contains(' ') {
        return None;
    }
    let decoded = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (username, password) = decoded.split_once(':')?;
    if username.is_empty() || password.is_empty() {
        return None;
    }
    if decoded.chars().any(char::is_control) {
        return None;
    }
    Some((username.to_owned(), password.to_owned()))
}

/// The guard's answer, computed once per request.
struct BasicOutcome(Result<BasicCredentials, ApiError>);

async fn authenticate(request: &Request<'_>) -> Result<BasicCredentials, ApiError> {
    let app = App::from_request_state(request)?;
    let client = super::client::client_ip(request);
    // The username is logged only when it names an account: what was typed
    // for an unknown one may well be a password.
    let fail = |reason: &str, account: Option<(i64, &str)>| {
        app.metrics.signins.with_label_values(&["failure"]).inc();
        app.audit(
            "signin_failed",
            account.map(|(id, _)| id),
            client,
            serde_json::json!({ "reason": reason, "username": account.map(|(_, name)| name) }),
        );
        ApiError::Unauthenticated(Challenge::Basic)
    };
    let header = match super::authorization(request) {
        Authorization::One(header) => header,
        Authorization::Missing => return Err(fail("missing_header", None)),
        Authorization::Several => return Err(fail("malformed_header", None)),
    };
    let Some((username, password)) = parse_basic(header) else {
        return Err(fail("malformed_header", None));
    };
    let address = throttle::address_key(client);
    let throttled = app.config.signin_throttle;
    let now = app.clock.now();
    let (verdict, user) = {
        let (username, address) = (username.clone(), address.clone());
        app.db
            .run(move |conn| {
                let verdict = if throttled {
                    throttle::admit(conn, &username, &address, now)?
                } else {
                    Verdict::Allow
                };
                let user = match verdict {
                    Verdict::Allow => User::find_by_username(conn, &username)?,
                    Verdict::Wait(_) => None,
                };
                Ok((verdict, user))
            })
            .await?
    };
    if let Verdict::Wait(retry_after) = verdict {
        app.metrics.signins.with_label_values(&["throttled"]).inc();
        app.audit(
            "signin_throttled",
            None,
            client,
            serde_json::json!({ "retry_after": retry_after }),
        );
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let rehash = hash
        .as_deref()
        .is_some_and(|h| app.hasher.needs_rehash(h))
        .then(|| password.clone());
    // Unknown users are verified against a dummy hash: same time, same answer.
    let matched = app.hasher.verify(password, hash).await?;
    if let (Some(password), Some(user), true) = (rehash, &user, matched) {
        rehash_password(app, user, password).await;
    }
    // `admit` already counted the attempt as a failure; a success clears it.
    if let (true, Some(user), true) = (throttled, &user, matched) {
        let (user_id, name) = (user.id, username.clone());
        app.db
            .run(move |conn| throttle::record_success(conn, user_id, &name, &address, now))
            .await?;
    }
    match user {
        Some(user) if matched => {
            app.metrics.signins.with_label_values(&["success"]).inc();
            app.audit(
                "signin_succeeded",
                Some(user.id),
                client,
                serde_json::json!({}),
            );
            Ok(BasicCredentials { user })
        }
        Some(user) => Err(fail("wrong_password", Some((user.id, &user.username)))),
        None => Err(fail("unknown_user", None)),
    }
}

/// Stores a hash of `password` at the configured cost in place of the
/// user's old one. A failure leaves the old hash, which still works: it is
/// logged, and the signin goes on.
async fn rehash_password(app: &App, user: &User, password: String) {
    let (id, old) = (user.id, user.password_hash.clone());
    let result = async {
        let new = app.hasher.hash(password).await?;
        app.db
            .run(move |conn| User::replace_hash(conn, id, &old, &new))
            .await
    }
    .await;
    if let Err(error) = result {
        log::warn!("password hash of user {id} not upgraded: {error}");
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BasicCredentials {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ApiError> {
        let outcome = request
            .local_cache_async(async { BasicOutcome(authenticate(request).await) })
            .await;
        super::outcome(request, &outcome.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn parses_rfc7617() {
        assert_eq!(
            parse_basic(&basic("alice:pa:ss")),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            parse_basic(&basic("alice:pass").replace("Basic", "bAsIc")),
            Some(("alice".into(), "pass".into()))
        );
        assert_eq!(parse_basic(&basic("alice")), None);
        assert_eq!(parse_basic(&basic(":pass")), None);
        assert_eq!(parse_basic(&basic("alice:")), None);
        assert_eq!(parse_basic(&basic("al\u{7}ice:pass")), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic"), None);
    }
}

//! `BasicCredentials`: HTTP Basic authentication (RFC 7617) against the
//! users table.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use rocket::request::{FromRequest, Outcome, Request};

use crate::db::models::User;
use crate::error::{ApiError, Challenge, GuardFailure};
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
    let invalid = ApiError::Unauthenticated(Challenge::Basic);
    let mut headers = request.headers().get("Authorization");
    let (Some(header), None) = (headers.next(), headers.next()) else {
        return Err(invalid);
    };
    let Some((username, password)) = parse_basic(header) else {
        return Err(invalid);
    };
    let user = {
        let username = username.clone();
        app.db
            .run(move |conn| User::find_by_username(conn, &username))
            .await?
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // Unknown users are verified against a dummy hash: same time, same answer.
    let matched = app.hasher.verify(password, hash).await?;
    match user {
        Some(user) if matched => Ok(BasicCredentials { user }),
        _ => Err(invalid),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BasicCredentials {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ApiError> {
        let outcome = request
            .local_cache_async(async { BasicOutcome(authenticate(request).await) })
            .await;
        match &outcome.0 {
            Ok(credentials) => Outcome::Success(credentials.clone()),
            Err(error) => {
                GuardFailure::record(request, error);
                Outcome::Error((error.status(), error.clone()))
            }
        }
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

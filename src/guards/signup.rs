//! `SignupRequest`: the body of `POST /signup`, as JSON or as a URL-encoded
//! form, size-limited, with errors that name the field.

use rocket::data::{Data, FromData, Outcome, ToByteUnit};
use rocket::http::RawStr;
use rocket::Request;
use serde_json::Value;

use crate::error::ApiError;

/// Largest body read, in bytes: far more than two short fields need.
pub const MAX_BODY_BYTES: u64 = 4096;
/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A signup's fields, not yet validated.
#[derive(Clone)]
pub struct SignupRequest {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SignupRequest {
    // Never the password, not even in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Checks a new username: 1 to 64 characters, no `:` (it would break Basic),
/// no control characters.
pub fn validate_username(username: &str) -> Result<(), ApiError> {
    let chars = username.chars().count();
    if chars == 0 {
        return Err(ApiError::Unprocessable("username must not be empty".into()));
    }
    if chars > MAX_USERNAME_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "username must be at most {MAX_USERNAME_CHARS} characters"
        )));
    }
    if username.contains(':') {
        return Err(ApiError::Unprocessable(
            "username must not contain ':'".into(),
        ));
    }
    if username.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(
            "username must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// The two fields of a JSON body, as given. Unlike a map, a struct refuses
/// a field given twice instead of keeping the last value.
#[derive(serde::Deserialize)]
struct JsonFields {
    #[serde(default)]
    username: Option<Value>,
    #[serde(default)]
    password: Option<Value>,
}

fn from_json(body: &str) -> Result<SignupRequest, ApiError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "body must be a JSON object with `username` and `password`".into(),
        ));
    }
    // The body is a valid JSON object: the one way left to fail is a
    // duplicate field.
    let fields: JsonFields = serde_json::from_str(body).map_err(|e| {
        let name = if e.to_string().contains("`username`") {
            "username"
        } else {
            "password"
        };
        ApiError::Unprocessable(format!("field `{name}` is given more than once"))
    })?;
    let field = |name: &str, value: Option<Value>| match value {
        None | Some(Value::Null) => Err(ApiError::Unprocessable(format!(
            "field `{name}` is missing"
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::Unprocessable(format!(
            "field `{name}` must be a string"
        ))),
    };
    Ok(SignupRequest {
        username: field("username", fields.username)?,
        password: field("password", fields.password)?,
    })
}

/// Parses `application/x-www-form-urlencoded`. Stricter than a lenient
/// form parser: a field whose decoded bytes are not UTF-8 is refused rather
/// than changed into replacement characters, and a field given twice is
/// refused rather than one of the values silently winning.
fn from_form(body: &str) -> Result<SignupRequest, ApiError> {
    let (mut username, mut password) = (None, None);
    for pair in body.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = RawStr::new(key).url_decode_lossy();
        let (name, slot) = match key.as_ref() {
            "username" => ("username", &mut username),
            "password" => ("password", &mut password),
            _ => continue,
        };
        let value = RawStr::new(value)
            .url_decode()
            .map_err(|_| ApiError::Unprocessable(format!("field `{name}` is not valid UTF-8")))?;
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::Unprocessable(format!(
                "field `{name}` is given more than once"
            )));
        }
    }
    let missing = |name: &str| ApiError::Unprocessable(format!("field `{name}` is missing"));
    Ok(SignupRequest {
        username: username.ok_or_else(|| missing("username"))?,
        password: password.ok_or_else(|| missing("password"))?,
    })
}

#[rocket::async_trait]
impl<'r> FromData<'r> for SignupRequest {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        let form = request.content_type().is_some_and(|ct| ct.is_form());
        let json = match request.content_type() {
            None => true,
            Some(ct) => ct.is_json() || ct.sub().as_str().ends_with("+json"),
        };
        if !form && !json {
            let error = ApiError::UnsupportedMediaType;
            return Outcome::Error((error.status(), error));
        }
        let body = match data.open(MAX_BODY_BYTES.bytes()).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => {
                return Outcome::Error((
                    ApiError::PayloadTooLarge.status(),
                    ApiError::PayloadTooLarge,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                let error = ApiError::BadRequest("body is not valid UTF-8".into());
                return Outcome::Error((error.status(), error));
            }
            Err(e) => {
                log::warn!("signup body could not be read: {e}");
                let error = ApiError::BadRequest("body could not be read".into());
                return Outcome::Error((error.status(), error));
            }
        };
        let parsed = if form {
            from_form(&body)
        } else {
            from_json(&body)
        };
        match parsed {
            Ok(request) => Outcome::Success(request),
            Err(error) => Outcome::Error((error.status(), error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a:b").is_err());
        assert!(validate_username("a\nb").is_err());
        assert!(validate_username(&"é".repeat(64)).is_ok());
        assert!(validate_username(&"é".repeat(65)).is_err());
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = from_json(r#"{"username": 5, "password": "x"}"#).err();
        assert!(e.is_some_and(|e| e.message().contains("username")));
        let e = from_json(r#"{"username": "a"}"#).err();
        assert!(e.is_some_and(|e| e.message().contains("password")));
        assert!(from_json("[1]").is_err());
        assert!(from_json("{").is_err());
        let e = from_json(r#"{"username": "a", "username": "b", "password": "correcthorse"}"#);
        assert!(e.is_err_and(|e| e.message() == "field `username` is given more than once"));
        let e = from_json(r#"{"username": "a", "password": "x", "password": "correcthorse"}"#);
        assert!(e.is_err_and(|e| e.message() == "field `password` is given more than once"));
    }

    #[test]
    fn debug_prints_leave_out_the_password() {
        let request = SignupRequest {
            username: "alice".into(),
            password: "correct horse".into(),
        };
        let printed = format!("{request:?}");
        assert!(
            printed.contains("alice") && !printed.contains("horse"),
            "{printed}"
        );
        let user = crate::db::models::User {
            id: 1,
            username: "alice".into(),
            password_hash: "$2b$04$secrethash".into(),
            created_at: 0,
        };
        assert!(!format!("{user:?}").contains("secrethash"));
        let issued = crate::tokens::Issued {
            token: "header.claims.signature".into(),
            jti: "j".into(),
            expires_at: None,
        };
        assert!(!format!("{issued:?}").contains("signature"));
    }

    #[test]
    fn forms_decode_strictly() {
        let ok = from_form("username=al+ice%21&password=p%C3%A9%3Ass&extra=1").ok();
        assert_eq!(
            ok.map(|r| (r.username, r.password)),
            Some(("al ice!".into(), "pé:ss".into()))
        );
        let e = from_form("username=%ff%fe&password=correcthorse").err();
        assert!(e.is_some_and(|e| e.message() == "field `username` is not valid UTF-8"));
        let e = from_form("username=a&username=b&password=correcthorse").err();
        assert!(e.is_some_and(|e| e.message().contains("more than once")));
        let e = from_form("username=a").err();
        assert!(e.is_some_and(|e| e.message() == "field `password` is missing"));
    }
}

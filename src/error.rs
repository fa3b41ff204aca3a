//! One error type for every failure, mapped to a status and a JSON body.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, Request};

/// The realm named in every challenge.
pub const REALM: &str = "bearer-auth";

/// The message of every failed authentication.
pub const INVALID_LOGIN: &str = "Invalid Login";

/// Which `WWW-Authenticate` challenge a 401 (or a 400 from the Bearer guard)
/// carries (RFC 7617, RFC 6750 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// Basic: a signin failed.
    Basic,
    /// Bearer with no error code: no credentials were sent.
    Bearer,
    /// Bearer `invalid_token`: the token is bad in some way.
    InvalidToken,
    /// Bearer `invalid_request`: the `Authorization` header is malformed.
    InvalidRequest,
}

impl Challenge {
    fn header_value(self) -> String {
        match self {
            Self::Basic => format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
            Self::Bearer => format!("Bearer realm=\"{REALM}\""),
            Self::InvalidToken => format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
            Self::InvalidRequest => format!("Bearer realm=\"{REALM}\", error=\"invalid_request\""),
        }
    }

    fn status(self) -> Status {
        match self {
            Self::InvalidRequest => Status::BadRequest,
            _ => Status::Unauthorized,
        }
    }
}

/// Every way a request can fail.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// 401 (or 400 for a malformed header), `Invalid Login`, with a challenge.
    Unauthenticated(Challenge),
    /// 400 with a message naming what is wrong.
    BadRequest(String),
    /// 422 with a message naming the field.
    Unprocessable(String),
    /// 404.
    NotFound,
    /// 409 with a message.
    Conflict(String),
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 429 with `Retry-After` in seconds.
    TooManyRequests { retry_after: u64 },
    /// 503: the database did not answer in time.
    Unavailable,
    /// 500: a real internal fault. The detail is logged, never sent.
    Internal,
    /// Any other status Rocket produced itself (405, 431, ...).
    Other(Status),
}

impl ApiError {
    /// Logs an internal fault and returns the opaque 500.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        log::error!("internal error: {context}: {error}");
        Self::Internal
    }

    pub fn status(&self) -> Status {
        match self {
            Self::Unauthenticated(challenge) => challenge.status(),
            Self::BadRequest(_) => Status::BadRequest,
            Self::Unprocessable(_) => Status::UnprocessableEntity,
            Self::NotFound => Status::NotFound,
            Self::Conflict(_) => Status::Conflict,
            Self::PayloadTooLarge => Status::PayloadTooLarge,
            Self::UnsupportedMediaType => Status::UnsupportedMediaType,
            Self::TooManyRequests { .. } => Status::TooManyRequests,
            Self::Unavailable => Status::ServiceUnavailable,
            Self::Internal => Status::InternalServerError,
            Self::Other(status) => *status,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(_) => INVALID_LOGIN.into(),
            Self::BadRequest(m) | Self::Unprocessable(m) | Self::Conflict(m) => m.clone(),
            Self::NotFound => "not found".into(),
            Self::PayloadTooLarge => "request body too large".into(),
            Self::UnsupportedMediaType => "unsupported content type: send application/json or \
                 application/x-www-form-urlencoded"
                .into(),
            Self::TooManyRequests { .. } => "too many failed attempts; try again later".into(),
            Self::Unavailable => "service unavailable".into(),
            Self::Internal => "internal server error".into(),
            Self::Other(status) => status.reason_lossy().to_ascii_lowercase(),
        }
    }

    /// The error answering a bare status, for catchers.
    pub fn from_status(status: Status) -> Self {
        match status.code {
            400 => Self::BadRequest("bad request".into()),
            401 => Self::Unauthenticated(Challenge::Bearer),
            404 => Self::NotFound,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::Unprocessable("unprocessable request".into()),
            503 => Self::Unavailable,
            500 => Self::Internal,
            _ => Self::Other(status),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().code, self.message())
    }
}

impl std::error::Error for ApiError {}

/// Builds the JSON body `{"error": message}` with the given status.
fn json_error<'o>(status: Status, message: &str) -> Response<'o> {
    let body = serde_json::json!({ "error": message }).to_string();
    Response::build()
        .status(status)
        .header(ContentType::JSON)
        .header(Header::new("Cache-Control", "no-store"))
        .sized_body(body.len(), Cursor::new(body))
        .finalize()
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = json_error(self.status(), &self.message());
        match &self {
            Self::Unauthenticated(challenge) => {
                response.set_header(Header::new("WWW-Authenticate", challenge.header_value()));
            }
            Self::TooManyRequests { retry_after } => {
                response.set_header(Header::new("Retry-After", retry_after.to_string()));
            }
            _ => {}
        }
        Ok(response)
    }
}

/// The authentication failure a guard left for the catcher of its status.
#[derive(Debug, Clone, Default)]
pub struct GuardFailure(pub Option<ApiError>);

impl GuardFailure {
    /// Records `error` for this request; the first record wins.
    pub fn record(request: &Request<'_>, error: &ApiError) {
        request.local_cache(|| GuardFailure(Some(error.clone())));
    }
}

#[rocket::catch(default)]
fn default_catcher(status: Status, request: &Request<'_>) -> ApiError {
    match &request.local_cache(GuardFailure::default).0 {
        Some(error) if error.status() == status => error.clone(),
        _ => ApiError::from_status(status),
    }
}

/// Catchers that answer every status with a JSON body.
pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![default_catcher]
}

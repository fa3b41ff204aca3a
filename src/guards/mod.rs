//! Request guards: all authentication happens here. Routes only declare them.

pub mod basic;
pub mod bearer;
pub mod client;
pub mod signup;

use rocket::request::{Outcome, Request};

use crate::error::{ApiError, GuardFailure};

pub use basic::BasicCredentials;
pub use bearer::BearerUser;
pub use client::ClientInfo;
pub use signup::SignupRequest;

/// The `Authorization` header of a request, as the guards see it.
enum Authorization<'r> {
    Missing,
    One(&'r str),
    /// Given more than once: malformed, whatever the values.
    Several,
}

fn authorization<'r>(request: &'r Request<'_>) -> Authorization<'r> {
    let mut headers = request.headers().get("Authorization");
    match (headers.next(), headers.next()) {
        (None, _) => Authorization::Missing,
        (Some(header), None) => Authorization::One(header),
        (Some(_), Some(_)) => Authorization::Several,
    }
}

/// A guard's answer (computed once per request and cached) as an outcome. A
/// failure is recorded for the catcher, which answers with its challenge.
fn outcome<T: Clone>(request: &Request<'_>, answer: &Result<T, ApiError>) -> Outcome<T, ApiError> {
    match answer {
        Ok(value) => Outcome::Success(value.clone()),
        Err(error) => {
            GuardFailure::record(request, error);
            Outcome::Error((error.status(), error.clone()))
        }
    }
}

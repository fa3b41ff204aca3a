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

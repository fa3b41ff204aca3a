//! What the client says about itself: user agent and address.

use rocket::request::{FromRequest, Outcome, Request};

pub use crate::db::models::ClientInfo;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 256;

impl ClientInfo {
    pub fn of(request: &Request<'_>) -> Self {
        let user_agent = request.headers().get_one("User-Agent").map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT)
                .collect()
        });
        Self {
            user_agent,
            address: request.client_ip().map(|ip| ip.to_string()),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo::of(request))
    }
}

//! What the client says about itself: user agent and address.

use std::net::IpAddr;

use rocket::request::{FromRequest, Outcome, Request};

use crate::App;

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
        let ip = client_ip(request);
        Self {
            user_agent,
            address: ip.map(|ip| ip.to_string()),
            ip,
        }
    }
}

/// The client's address: the TCP peer, unless the peer is one of
/// `trusted_proxies`; then the rightmost `X-Forwarded-For` entry that is not
/// a trusted proxy itself. An IPv4-mapped IPv6 address (a server bound to
/// `::`) is taken as the IPv4 address it maps.
pub fn client_ip(request: &Request<'_>) -> Option<IpAddr> {
    let peer = request.remote().map(|addr| addr.ip().to_canonical());
    let trusted = match App::from_request_state(request) {
        Ok(app) => &app.config.trusted_proxies,
        Err(_) => return peer,
    };
    let Some(peer) = peer.filter(|ip| trusted.contains(ip)) else {
        return peer;
    };
    let hops: Vec<&str> = request
        .headers()
        .get("X-Forwarded-For")
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            // A hop that is not an address cannot be believed, nor anything
            // to its left.
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo::of(request))
    }
}

//! Brute-force throttling of `POST /signin`.

use std::net::SocketAddr;

use rocket::http::{Header, Status};
use rocket::local::blocking::LocalResponse;

use crate::common::*;

fn from<'c>(s: &'c TestServer, ip: &str, username: &str, password: &str) -> LocalResponse<'c> {
    s.client
        .post("/signin")
        .header(basic(username, password))
        .remote(SocketAddr::new(ip.parse().expect("ip"), 50000))
        .dispatch()
}

fn retry_after(response: &LocalResponse<'_>) -> Option<u64> {
    response
        .headers()
        .get_one("Retry-After")
        .and_then(|v| v.parse().ok())
}

/// Throttle delays count whole seconds: a stopped clock keeps the tests
/// from straddling a second boundary.
fn stopped_server(tweak: impl FnOnce(&mut bearer_auth::Config)) -> TestServer {
    server_with_clock(bearer_auth::Clock::stopped(), tweak)
}

const A: &str = "203.0.113.1";
const B: &str = "203.0.113.2";
const C: &str = "203.0.113.3";

#[test]
fn delays_grow_with_failures_and_decay_with_time() {
    let s = stopped_server(|_| {});
    s.signup("alice");
    for _ in 0..5 {
        assert_eq!(from(&s, A, "alice", "wrong").status(), Status::Unauthorized);
    }
    let response = from(&s, A, "alice", "wrong");
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(retry_after(&response), Some(1));
    assert!(json(response).1["error"].is_string());
    let mut waits = Vec::new();
    for _ in 0..4 {
        let response = from(&s, A, "alice", "wrong");
        let wait = retry_after(&response).expect("Retry-After");
        waits.push(wait);
        s.clock.advance(wait as i64);
        assert_eq!(from(&s, A, "alice", "wrong").status(), Status::Unauthorized);
    }
    assert_eq!(waits, [1, 2, 4, 8]);
    // Even the right password waits its turn from this address...
    assert_eq!(
        from(&s, A, "alice", PASSWORD).status(),
        Status::TooManyRequests
    );
    // ...and an hour later the failures are forgotten.
    s.clock.advance(3601);
    assert_eq!(from(&s, A, "alice", PASSWORD).status(), Status::Ok);
}

#[test]
fn nobody_can_lock_a_user_out_from_elsewhere() {
    let s = stopped_server(|_| {});
    s.signup("alice");
    for _ in 0..12 {
        from(&s, A, "alice", "wrong");
    }
    assert_eq!(
        from(&s, A, "alice", "wrong").status(),
        Status::TooManyRequests
    );
    assert_eq!(from(&s, B, "alice", PASSWORD).status(), Status::Ok);
}

#[test]
fn success_clears_the_failures_of_that_address() {
    let s = stopped_server(|_| {});
    s.signup("alice");
    for _ in 0..4 {
        from(&s, A, "alice", "wrong");
    }
    assert_eq!(from(&s, A, "alice", PASSWORD).status(), Status::Ok);
    for _ in 0..5 {
        assert_eq!(from(&s, A, "alice", "wrong").status(), Status::Unauthorized);
    }
}

#[test]
fn one_address_is_limited_across_usernames() {
    let s = stopped_server(|_| {});
    s.signup("alice");
    for i in 0..50 {
        let status = from(&s, A, &format!("user{i}"), "wrong").status();
        assert_eq!(status, Status::Unauthorized, "attempt {i}");
    }
    assert_eq!(
        from(&s, A, "someone", "wrong").status(),
        Status::TooManyRequests
    );
    assert_eq!(
        from(&s, A, "alice", PASSWORD).status(),
        Status::TooManyRequests
    );
    assert_eq!(from(&s, B, "alice", PASSWORD).status(), Status::Ok);
}

/// An IPv6 client cannot escape the per-address limit by taking a fresh
/// address of its /64 for every attempt; the next /64 is someone else.
#[test]
fn an_ipv6_client_is_counted_by_its_64() {
    let s = stopped_server(|_| {});
    s.signup("alice");
    for i in 0..50 {
        let ip = format!("2001:db8:1:2::{:x}", i + 1);
        let status = from(&s, &ip, &format!("user{i}"), "wrong").status();
        assert_eq!(status, Status::Unauthorized, "attempt {i}");
    }
    assert_eq!(
        from(&s, "2001:db8:1:2:ffff::1", "someone", "wrong").status(),
        Status::TooManyRequests
    );
    assert_eq!(
        from(&s, "2001:db8:1:3::1", "alice", PASSWORD).status(),
        Status::Ok
    );
}

/// How many passwords bcrypt has hashed or verified on this server.
fn bcrypt_runs(s: &TestServer) -> u64 {
    app_of(&s.client).metrics.hash_wait.get_sample_count()
}

#[test]
fn at_most_100_failures_an_hour_reach_bcrypt_per_account() {
    let s = stopped_server(|_| {});
    s.signup("alice");
    // Alice has signed in from B and C before.
    for known in [B, C] {
        assert_eq!(from(&s, known, "alice", PASSWORD).status(), Status::Ok);
    }
    let before = bcrypt_runs(&s);
    // Addresses she never used get 90 failures...
    for i in 0..90 {
        let ip = format!("198.51.100.{}", i + 1);
        assert_eq!(
            from(&s, &ip, "alice", "wrong").status(),
            Status::Unauthorized,
            "attempt {i}"
        );
    }
    // ...then nothing, not even the right password.
    let response = from(&s, "198.51.100.200", "alice", PASSWORD);
    assert_eq!(response.status(), Status::TooManyRequests);
    assert!(retry_after(&response).is_some_and(|w| w > 0 && w <= 3600));
    // Her own addresses still get in with the right password.
    assert_eq!(from(&s, B, "alice", PASSWORD).status(), Status::Ok);
    // Failures from her addresses use the last 10, and then the cap holds
    // for every address.
    for _ in 0..5 {
        assert_eq!(from(&s, B, "alice", "wrong").status(), Status::Unauthorized);
        assert_eq!(from(&s, C, "alice", "wrong").status(), Status::Unauthorized);
        s.clock.advance(60);
    }
    for ip in [B, C, "198.51.100.201"] {
        assert_eq!(
            from(&s, ip, "alice", "wrong").status(),
            Status::TooManyRequests
        );
    }
    // Exactly 100 failed verifies and one good one reached bcrypt.
    assert_eq!(bcrypt_runs(&s) - before, 101);
    // Unknown users are throttled the same way (nothing to enumerate).
    for i in 0..90 {
        let ip = format!("198.51.100.{}", i + 1);
        from(&s, &ip, "ghost", "wrong");
    }
    assert_eq!(
        from(&s, "198.51.100.200", "ghost", "wrong").status(),
        Status::TooManyRequests
    );
}

#[rocket::async_test]
async fn parallel_attempts_cannot_slip_past_the_limit() {
    let s = async_server_with_clock(bearer_auth::Clock::stopped(), |_| {}).await;
    s.token("alice").await;
    let attempts = (0..24).map(|_| {
        s.client
            .post("/signin")
            .header(basic("alice", "wrong"))
            .remote(SocketAddr::new(A.parse().expect("ip"), 50000))
            .dispatch()
    });
    let statuses: Vec<Status> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let through = statuses
        .iter()
        .filter(|s| **s == Status::Unauthorized)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == Status::TooManyRequests)
        .count();
    assert_eq!((through, throttled), (5, 19), "{statuses:?}");
}

#[test]
fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
    let attempt = |s: &TestServer, forwarded: &str| {
        s.client
            .post("/signin")
            .header(basic("alice", "wrong"))
            .header(Header::new("X-Forwarded-For", forwarded.to_owned()))
            .remote(SocketAddr::new("127.0.0.1".parse().expect("ip"), 50000))
            .dispatch()
            .status()
    };
    // Untrusted: every attempt is the peer's, whatever the header says.
    let s = stopped_server(|_| {});
    s.signup("alice");
    for i in 0..5 {
        attempt(&s, &format!("192.0.2.{i}"));
    }
    assert_eq!(attempt(&s, "192.0.2.99"), Status::TooManyRequests);

    // Trusted proxy: the header tells the clients apart.
    let s = stopped_server(|c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]);
    s.signup("alice");
    for i in 0..5 {
        attempt(&s, &format!("192.0.2.{i}"));
    }
    assert_eq!(attempt(&s, "192.0.2.99"), Status::Unauthorized);
    // The rightmost untrusted hop counts, not what the client prepends.
    for _ in 0..5 {
        attempt(&s, "198.51.100.9, 192.0.2.50");
    }
    assert_eq!(attempt(&s, "192.0.2.50"), Status::TooManyRequests);
}

#[test]
fn throttling_can_be_switched_off() {
    let s = stopped_server(|c| c.signin_throttle = false);
    s.signup("alice");
    for _ in 0..20 {
        assert_eq!(from(&s, A, "alice", "wrong").status(), Status::Unauthorized);
    }
}

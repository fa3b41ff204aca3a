use rocket::http::Status;

use crate::common::*;

#[test]
fn tokens_expire_after_token_ttl() {
    let s = server();
    let token = s.token("alice");
    s.clock.advance(899);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    // Past exp plus the leeway (2 s; at most 5 s by contract).
    s.clock.advance(1 + 5);
    assert_invalid_token(s.get("/secret", &token));
    // A new signin gives a working token again.
    let fresh = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(s.get("/secret", &fresh).status(), Status::Ok);
}

#[test]
fn a_short_ttl_is_honoured() {
    let s = server_with_clock(bearer_auth::Clock::stopped(), |c| c.token_ttl = 1);
    let token = s.token("alice");
    let claims = segment(&token, 1);
    assert_eq!(
        claims["exp"].as_i64(),
        claims["iat"].as_i64().map(|t| t + 1)
    );
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    s.clock.advance(7);
    assert_invalid_token(s.get("/secret", &token));
}

#[test]
fn tokens_without_exp_are_refused_while_ttl_is_set() {
    let never = server_with(|c| c.token_ttl = 0);
    let token = never.token("alice");
    drop(never);
    // The same secret, now with 15-minute tokens: a token with no exp is out.
    let s = server();
    s.signup("alice");
    assert_invalid_token(s.get("/secret", &token));
}

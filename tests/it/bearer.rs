use jsonwebtoken::{Algorithm, EncodingKey, Header as JwtHeader};
use rocket::http::{Header, Status};
use serde_json::json;

use crate::common::*;

const TEST_SECRET: &str = "test secret, at least thirty-two bytes long";

fn forge(alg: Algorithm, secret: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &JwtHeader::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

fn claims_for(sub: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iss": "bearer-auth", "aud": "bearer-auth", "iat": now, "jti": "j1", "exp": now + 600})
}

#[test]
fn protected_routes_answer_with_a_valid_token() {
    let s = server();
    let signup = s.signup("alice");
    let token = token_of(&signup);
    s.signup("bob");
    for path in ["/secret", "/secretstuff"] {
        let (status, body) = json(s.get(path, &token));
        assert_eq!(status, Status::Ok, "{path}");
        assert_eq!(
            body,
            json!({"message": "Welcome to the secret area!", "username": "alice"})
        );
    }
    let (status, body) = json(s.get("/users", &token));
    assert_eq!(status, Status::Ok);
    assert_eq!(body, json!(["alice", "bob"]));
    let (status, body) = json(s.get("/me", &token));
    assert_eq!(status, Status::Ok);
    // The same user object as at signup, and nothing more.
    assert_eq!(body, signup["user"]);
    assert_eq!(keys(&body), ["created_at", "id", "username"]);
}

#[test]
fn missing_header_is_401_without_error_code() {
    let s = server();
    for path in ["/secret", "/secretstuff", "/users", "/me"] {
        let response = s.client.get(path).dispatch();
        assert_eq!(challenge(&response).as_deref(), Some(BEARER), "{path}");
        assert_error(response, Status::Unauthorized, "Invalid Login");
    }
    let response = s.client.delete("/me").dispatch();
    assert_eq!(challenge(&response).as_deref(), Some(BEARER));
    assert_error(response, Status::Unauthorized, "Invalid Login");
}

#[test]
fn bad_token_is_invalid_login_in_any_scheme_case() {
    let s = server();
    s.signup("alice");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = s
            .client
            .get("/users")
            .header(Header::new(
                "Authorization",
                format!("{scheme} not.a.token"),
            ))
            .dispatch();
        assert_invalid_token(response);
    }
}

#[test]
fn scheme_is_case_insensitive_for_good_tokens() {
    let s = server();
    let token = s.token("alice");
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let response = s
            .client
            .get("/secret")
            .header(Header::new("Authorization", format!("{scheme} {token}")))
            .dispatch();
        assert_eq!(response.status(), Status::Ok, "{scheme}");
    }
}

#[test]
fn malformed_authorization_is_invalid_request() {
    let s = server();
    let token = s.token("alice");
    for header in [
        "Bearer".to_owned(),
        "Bearer a b".to_owned(),
        "Bearer tok=en".to_owned(),
        format!("Token {token}"),
        format!("Basic {token}"),
        "Bearer ${}".to_owned(),
        token.clone(),
    ] {
        let response = s
            .client
            .get("/secret")
            .header(Header::new("Authorization", header.clone()))
            .dispatch();
        assert_eq!(
            challenge(&response).as_deref(),
            Some(INVALID_REQUEST),
            "{header}"
        );
        let status = response.status();
        assert!(status == Status::BadRequest || status == Status::Unauthorized);
        assert_eq!(json(response).1["error"], "Invalid Login");
    }
    // Two Authorization headers.
    let response = s
        .client
        .get("/secret")
        .header(bearer(&token))
        .header(bearer(&token))
        .dispatch();
    assert_eq!(challenge(&response).as_deref(), Some(INVALID_REQUEST));
}

#[test]
fn tokens_have_the_documented_claims() {
    let s = server();
    let body = s.signup("alice");
    let token = token_of(&body);
    let header = segment(&token, 0);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "JWT");
    let claims = segment(&token, 1);
    assert_eq!(claims["sub"], body["user"]["id"].to_string());
    assert_eq!(claims["iss"], "bearer-auth");
    assert_eq!(claims["aud"], "bearer-auth");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let iat = claims["iat"].as_i64().unwrap_or_default();
    assert_eq!(claims["exp"].as_i64(), Some(iat + 900));
    assert!(claims.get("sid").is_none());
    // jti is unique per token.
    let again = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_ne!(segment(&again, 1)["jti"], claims["jti"]);
}

#[test]
fn token_ttl_zero_means_no_exp() {
    let s = server_with(|c| c.token_ttl = 0);
    let token = s.token("alice");
    assert!(segment(&token, 1).get("exp").is_none());
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    s.clock.advance(10 * 365 * 24 * 3600);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
}

#[test]
fn forged_tokens_are_refused() {
    let s = server();
    let id = s.signup("alice")["user"]["id"].to_string();
    // Sanity: the same claims signed with the right key and HS256 work.
    let good = forge(Algorithm::HS256, TEST_SECRET, claims_for(&id));
    assert_eq!(s.get("/secret", &good).status(), Status::Ok);

    let other_key = forge(
        Algorithm::HS256,
        "another secret, also thirty-two bytes or more",
        claims_for(&id),
    );
    assert_invalid_token(s.get("/secret", &other_key));
    let hs512 = forge(Algorithm::HS512, TEST_SECRET, claims_for(&id));
    assert_invalid_token(s.get("/secret", &hs512));

    use base64::Engine;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims_for(&id))
    );
    assert_invalid_token(s.get("/secret", &none));
}

#[test]
fn deleted_users_tokens_stop_working() {
    let s = server();
    let token = s.token("alice");
    let other = token_of(&json(s.signin("alice", PASSWORD)).1);
    let response = s.delete("/me", &token);
    assert_eq!(response.status(), Status::NoContent);
    assert_invalid_token(s.get("/me", &token));
    assert_invalid_token(s.get("/secret", &other));
    assert_error(
        s.signin("alice", PASSWORD),
        Status::Unauthorized,
        "Invalid Login",
    );
    // A new account with the same name does not revive the old tokens.
    s.signup("alice");
    assert_invalid_token(s.get("/secret", &token));
}

#[test]
fn oversized_tokens_are_refused() {
    let s = server();
    s.signup("alice");
    let huge = "a".repeat(8000);
    assert_invalid_token(s.get("/secret", &huge));
}

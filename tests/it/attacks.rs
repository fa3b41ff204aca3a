//! Forged, altered and replayed tokens: each answers 401 with
//! `error="invalid_token"` (or `invalid_request` for a malformed header).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header as JwtHeader};
use rocket::http::{Header, Status};
use serde_json::{json, Value};

use crate::common::*;

const SECRET: &str = "test secret, at least thirty-two bytes long";

fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &JwtHeader::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn claims(s: &TestServer, sub: &str) -> Value {
    let now = s.clock.now();
    json!({"sub": sub, "iss": "bearer-auth", "aud": "bearer-auth", "iat": now, "jti": "attack", "exp": now + 600})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().map(|o| o.remove(key));
    claims
}

#[test]
fn forged_and_altered_signed_tokens() {
    let s = server();
    let id = s.signup("alice")["user"]["id"].to_string();
    let good = claims(&s, &id);
    assert_eq!(
        s.get("/secret", &sign(Algorithm::HS256, SECRET, &good))
            .status(),
        Status::Ok
    );

    let mut attacks: Vec<(&str, String)> = vec![
        (
            "HS384 with the right key",
            sign(Algorithm::HS384, SECRET, &good),
        ),
        (
            "HS512 with the right key",
            sign(Algorithm::HS512, SECRET, &good),
        ),
        (
            "a wrong key",
            sign(
                Algorithm::HS256,
                "a different secret of thirty-two bytes!",
                &good,
            ),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(good.clone(), "exp", json!(s.clock.now() - 60)),
            ),
        ),
        (
            "wrong iss",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(good.clone(), "iss", json!("evil")),
            ),
        ),
        (
            "wrong aud",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(good.clone(), "aud", json!("other-app")),
            ),
        ),
        (
            "no iss",
            sign(Algorithm::HS256, SECRET, &without(good.clone(), "iss")),
        ),
        (
            "no aud",
            sign(Algorithm::HS256, SECRET, &without(good.clone(), "aud")),
        ),
        (
            "no exp while token_ttl > 0",
            sign(Algorithm::HS256, SECRET, &without(good.clone(), "exp")),
        ),
        (
            "a user that does not exist",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(good.clone(), "sub", json!("999999")),
            ),
        ),
        (
            "a sub that is no id",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(good.clone(), "sub", json!("alice")),
            ),
        ),
        (
            "a sid while sessions are off",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(without(good.clone(), "sub"), "sid", json!("abc")),
            ),
        ),
        (
            "issued in the future",
            sign(
                Algorithm::HS256,
                SECRET,
                &with(good.clone(), "iat", json!(s.clock.now() + 3600)),
            ),
        ),
    ];
    // alg "none" in any case, unsigned.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let token = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&good)
        );
        attacks.push(("alg none", token));
    }
    // A tampered payload under the original signature.
    let real = s.token("bob");
    let parts: Vec<&str> = real.split('.').collect();
    let mut payload = segment(&real, 1);
    payload["sub"] = json!(id);
    attacks.push((
        "tampered payload",
        format!("{}.{}.{}", parts[0], b64(&payload), parts[2]),
    ));
    attacks.push(("no signature", format!("{}.{}.", parts[0], parts[1])));
    attacks.push(("truncated", real[..real.len() - 5].to_owned()));

    for (what, token) in attacks {
        let response = s.get("/secret", &token);
        assert_eq!(
            challenge(&response).as_deref(),
            Some(INVALID_TOKEN),
            "{what}"
        );
        assert_error(response, Status::Unauthorized, "Invalid Login");
    }
}

#[test]
fn oversized_tokens_and_headers() {
    let s = server();
    s.signup("alice");
    let huge = format!("a.{}.b", "A".repeat(10_000));
    assert_invalid_token(s.get("/secret", &huge));
    let response = s
        .client
        .get("/secret")
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", "x".repeat(100_000)),
        ))
        .dispatch();
    assert_eq!(response.status(), Status::Unauthorized);
}

#[test]
fn sessions_of_others_and_dead_sessions() {
    let s = server_with(|c| c.sessions = true);
    let alice = s.token("alice");
    let bob = s.token("bob");
    let bob_sid = segment(&bob, 1)["sid"].clone();
    // Alice cannot aim her token at Bob's session without the key.
    let now = s.clock.now();
    let forged = sign(
        Algorithm::HS256,
        "a different secret of thirty-two bytes!",
        &json!({"sid": bob_sid, "iss": "bearer-auth", "aud": "bearer-auth", "iat": now, "jti": "x", "exp": now + 600}),
    );
    assert_invalid_token(s.get("/secret", &forged));
    // Nor end it.
    let path = format!("/sessions/{}", bob_sid.as_str().unwrap_or_default());
    assert_eq!(s.delete(&path, &alice).status(), Status::NotFound);
    // A session that does not exist, signed with the right key.
    let ghost = sign(
        Algorithm::HS256,
        SECRET,
        &json!({"sid": "no-such-session", "iss": "bearer-auth", "aud": "bearer-auth", "iat": now, "jti": "y", "exp": now + 600}),
    );
    assert_invalid_token(s.get("/secret", &ghost));
    // A session that ended.
    assert_eq!(
        s.delete("/sessions/current", &bob).status(),
        Status::NoContent
    );
    assert_invalid_token(s.get("/secret", &bob));
    // A sub where a sid is expected.
    let sub = sign(
        Algorithm::HS256,
        SECRET,
        &json!({"sub": "1", "iss": "bearer-auth", "aud": "bearer-auth", "iat": now, "jti": "z", "exp": now + 600}),
    );
    assert_invalid_token(s.get("/secret", &sub));
}

#[test]
fn encrypted_token_attacks() {
    let s = server_with(|c| c.token_encryption_key = Some(encryption_key()));
    let id = s.signup("alice")["user"]["id"].to_string();
    let token = s.token("bob");
    let parts: Vec<&str> = token.split('.').collect();
    let mut attacks = vec![
        (
            "signed only",
            sign(Algorithm::HS256, SECRET, &claims(&s, &id)),
        ),
        ("truncated", token[..token.len() - 3].to_owned()),
        (
            "tag cut",
            format!("{}.{}.{}.{}.", parts[0], parts[1], parts[2], parts[3]),
        ),
        (
            "an encrypted key",
            format!("{}.AAAA.{}.{}.{}", parts[0], parts[2], parts[3], parts[4]),
        ),
        (
            "alg none header",
            format!(
                "{}..{}.{}.{}",
                b64(&json!({"alg": "none", "enc": "A256GCM"})),
                parts[2],
                parts[3],
                parts[4]
            ),
        ),
        (
            "zip header",
            format!(
                "{}..{}.{}.{}",
                b64(&json!({"alg": "dir", "enc": "A256GCM", "zip": "DEF"})),
                parts[2],
                parts[3],
                parts[4]
            ),
        ),
    ];
    let mut ciphertext = URL_SAFE_NO_PAD.decode(parts[3]).expect("b64");
    ciphertext[3] ^= 0x40;
    attacks.push((
        "flipped ciphertext bit",
        format!(
            "{}..{}.{}.{}",
            parts[0],
            parts[2],
            URL_SAFE_NO_PAD.encode(ciphertext),
            parts[4]
        ),
    ));
    for (what, attack) in attacks {
        let response = s.get("/secret", &attack);
        assert_eq!(
            challenge(&response).as_deref(),
            Some(INVALID_TOKEN),
            "{what}"
        );
        assert_error(response, Status::Unauthorized, "Invalid Login");
    }
}

#[rocket::async_test]
async fn many_requests_racing_one_signup_name() {
    let s = async_server_with(|_| {}).await;
    let requests = (0..24).map(|_| {
        s.client
            .post("/signup")
            .header(rocket::http::ContentType::JSON)
            .body(json!({"username": "racer", "password": PASSWORD}).to_string())
            .dispatch()
    });
    let statuses: Vec<Status> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_one_winner(&statuses, Status::Created, Status::Conflict);
}

use rocket::http::{Header, Status};

use crate::common::*;

#[test]
fn signin_gives_200_user_and_a_working_token() {
    let s = server();
    let id = s.signup("alice")["user"]["id"].clone();
    let (status, body) = json(s.signin("alice", PASSWORD));
    assert_eq!(status, Status::Ok);
    assert_eq!(keys(&body), ["token", "user"]);
    assert_eq!(body["user"]["id"], id);
    assert_eq!(body["user"]["username"], "alice");
    let token = token_of(&body);
    let (status, users) = json(s.get("/users", &token));
    assert_eq!(status, Status::Ok);
    assert_eq!(users, serde_json::json!(["alice"]));
}

#[test]
fn wrong_password_gives_invalid_login_and_no_token() {
    let s = server();
    s.signup("alice");
    let response = s.signin("alice", "wrong password");
    assert_eq!(challenge(&response).as_deref(), Some(BASIC));
    let (status, body) = json(response);
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(body, serde_json::json!({"error": "Invalid Login"}));
    assert!(body.get("token").is_none());
}

#[test]
fn unknown_user_is_indistinguishable_from_wrong_password() {
    let s = server();
    s.signup("alice");
    let describe = |response: rocket::local::blocking::LocalResponse<'_>| {
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|h| !h.name().as_str().eq_ignore_ascii_case("date"))
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect();
        headers.sort();
        (response.status(), headers, response.into_string())
    };
    let bcrypt_runs = || app_of(&s.client).metrics.hash_wait.get_sample_count();
    let before = bcrypt_runs();
    let wrong = describe(s.signin("alice", "wrong password"));
    let unknown = describe(s.signin("mallory", "wrong password"));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.0, Status::Unauthorized);
    // Both cost one bcrypt verify: the unknown user's against a dummy hash.
    assert_eq!(bcrypt_runs() - before, 2);
}

#[rocket::async_test]
async fn a_flood_of_signins_does_not_hold_up_bearer_requests() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let s = async_server_with(|c| {
        c.bcrypt_cost = 10;
        c.signin_throttle = false;
    })
    .await;
    let token = s.token("alice").await;
    let finished = AtomicUsize::new(0);
    let signins = futures::future::join_all((0..8).map(|_| async {
        let response = s
            .client
            .post("/signin")
            .header(basic("alice", PASSWORD))
            .dispatch()
            .await;
        finished.fetch_add(1, Ordering::SeqCst);
        response.status()
    }));
    let bearer = async {
        let response = s
            .client
            .get("/secret")
            .header(bearer(&token))
            .dispatch()
            .await;
        (response.status(), finished.load(Ordering::SeqCst))
    };
    let (signins, (status, signins_done_before)) = futures::join!(signins, bearer);
    assert_eq!(status, Status::Ok);
    assert!(signins.iter().all(|s| *s == Status::Ok), "{signins:?}");
    // bcrypt runs on the blocking pool, two at a time: the bearer request
    // is answered while the signins still wait for it.
    assert!(signins_done_before < 8, "{signins_done_before}");
}

#[test]
fn password_is_split_at_the_first_colon() {
    let s = server();
    let body = serde_json::json!({"username": "carol", "password": "pass:word:1"}).to_string();
    let response = s
        .client
        .post("/signup")
        .header(rocket::http::ContentType::JSON)
        .body(body)
        .dispatch();
    assert_eq!(response.status(), Status::Created);
    assert_eq!(s.signin("carol", "pass:word:1").status(), Status::Ok);
}

#[test]
fn basic_scheme_is_case_insensitive_and_utf8() {
    let s = server();
    let body = serde_json::json!({"username": "zoë", "password": "pässwörd€"}).to_string();
    let response = s
        .client
        .post("/signup")
        .header(rocket::http::ContentType::JSON)
        .body(body)
        .dispatch();
    assert_eq!(response.status(), Status::Created);
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode("zoë:pässwörd€");
    for scheme in ["Basic", "basic", "BASIC"] {
        let response = s
            .client
            .post("/signin")
            .header(Header::new("Authorization", format!("{scheme} {encoded}")))
            .dispatch();
        assert_eq!(response.status(), Status::Ok, "{scheme}");
    }
}

#[test]
fn malformed_basic_headers_are_invalid_login() {
    use base64::Engine;
    let b64 = |raw: &[u8]| base64::engine::general_purpose::STANDARD.encode(raw);
    let s = server();
    s.signup("alice");
    let cases: Vec<String> = vec![
        "Basic !!!not-base64!!!".into(),
        format!("Basic {}", b64(b"alice")),
        format!("Basic {}", b64(b":correct horse")),
        format!("Basic {}", b64(b"alice:")),
        format!("Basic {}", b64(b"al\x01ice:correct horse")),
        format!("Basic {}", b64(b"alice:correct\x7fhorse")),
        format!("Basic {}", b64(b"\xff\xfe:\xfd")),
        format!("Bearer {}", b64(b"alice:correct horse")),
        format!("Digest {}", b64(b"alice:correct horse")),
        "Basic".into(),
        "Basic ".into(),
        "".into(),
        format!("Basic {}", "A".repeat(20_000)),
    ];
    for header in cases {
        let response = s
            .client
            .post("/signin")
            .header(Header::new("Authorization", header.clone()))
            .dispatch();
        assert_eq!(challenge(&response).as_deref(), Some(BASIC), "{header}");
        assert_error(response, Status::Unauthorized, "Invalid Login");
    }
    // No header at all.
    let response = s.client.post("/signin").dispatch();
    assert_eq!(challenge(&response).as_deref(), Some(BASIC));
    assert_error(response, Status::Unauthorized, "Invalid Login");
}

#[test]
fn two_authorization_headers_are_refused() {
    let s = server();
    s.signup("alice");
    let response = s
        .client
        .post("/signin")
        .header(basic("alice", PASSWORD))
        .header(basic("alice", PASSWORD))
        .dispatch();
    assert_error(response, Status::Unauthorized, "Invalid Login");
}

#[test]
fn overlong_password_at_signin_is_invalid_login() {
    let s = server();
    s.signup("alice");
    let response = s.signin("alice", &format!("{PASSWORD}{}", "x".repeat(80)));
    assert_error(response, Status::Unauthorized, "Invalid Login");
}

/// After `bcrypt_cost` changes, a good signin stores the password hashed at
/// the new cost; a wrong password changes nothing.
#[test]
fn a_good_signin_upgrades_a_hash_of_another_cost() {
    use bearer_auth::db::schema::users;
    use diesel::prelude::*;
    let s = server_with(|c| c.bcrypt_cost = 5);
    s.signup("alice");
    let app = app_of(&s.client);
    let stored = || -> String {
        let mut conn = app.db.pool().get().expect("connection");
        users::table
            .select(users::password_hash)
            .first(&mut *conn)
            .expect("one user")
    };
    let old = bcrypt::hash(PASSWORD, 4).expect("hash");
    {
        let mut conn = app.db.pool().get().expect("connection");
        diesel::update(users::table)
            .set(users::password_hash.eq(&old))
            .execute(&mut *conn)
            .expect("update");
    }
    assert_eq!(s.signin("alice", "wrong").status(), Status::Unauthorized);
    assert_eq!(stored(), old);
    assert_eq!(s.signin("alice", PASSWORD).status(), Status::Ok);
    let upgraded = stored();
    assert!(upgraded.starts_with("$2b$05$"), "{upgraded}");
    assert_eq!(s.signin("alice", PASSWORD).status(), Status::Ok);
    assert_eq!(stored(), upgraded, "hashed once, not at every signin");
}

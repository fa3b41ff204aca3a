use rocket::http::{Header, Status};
use serde_json::Value;

use crate::common::*;

fn sessions_server() -> TestServer {
    server_with(|c| c.sessions = true)
}

/// The session id a (signed, not encrypted) token carries.
fn sid_of(token: &str) -> String {
    segment(token, 1)["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Uses `token` `times` times, `every` seconds apart; each use must work.
fn keep_using(s: &TestServer, token: &str, every: i64, times: usize) {
    for step in 0..times {
        s.clock.advance(every);
        assert_eq!(s.get("/secret", token).status(), Status::Ok, "step {step}");
    }
}

fn list(s: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = json(s.get("/sessions", token));
    assert_eq!(status, Status::Ok, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

#[test]
fn tokens_carry_only_a_session_id() {
    let s = sessions_server();
    let token = s.token("alice");
    let claims = segment(&token, 1);
    assert!(claims.get("sub").is_none(), "{claims}");
    let sid = claims["sid"].as_str().unwrap_or_default();
    // 128 bits, base64url.
    assert!(sid.len() >= 22, "{sid}");
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
}

#[test]
fn each_signin_opens_a_session_and_the_list_shows_them() {
    let s = sessions_server();
    let first = s.token("alice");
    let second = s
        .client
        .post("/signin")
        .header(basic("alice", PASSWORD))
        .header(Header::new("User-Agent", "phone/1.0"))
        .dispatch();
    let second = token_of(&json(second).1);
    let sessions = list(&s, &second);
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions.iter().filter(|v| v["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], segment(&second, 1)["sid"]);
    assert_eq!(current[0]["user_agent"], "phone/1.0");
    for field in ["created_at", "last_seen_at", "expires_at"] {
        let value = current[0][field].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(value).is_ok(),
            "{field}"
        );
    }
    // Another user sees only their own.
    let bob = s.token("bob");
    assert_eq!(list(&s, &bob).len(), 1);
    assert_eq!(s.get("/secret", &first).status(), Status::Ok);
}

#[test]
fn logging_out_kills_the_token() {
    let s = sessions_server();
    let token = s.token("alice");
    let other = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(
        s.delete("/sessions/current", &token).status(),
        Status::NoContent
    );
    assert_invalid_token(s.get("/secret", &token));
    // The other session lives on.
    assert_eq!(s.get("/secret", &other).status(), Status::Ok);
}

#[test]
fn ending_one_session_by_id() {
    let s = sessions_server();
    let token = s.token("alice");
    let other = token_of(&json(s.signin("alice", PASSWORD)).1);
    let other_sid = sid_of(&other);
    let bob = s.token("bob");
    let bob_sid = sid_of(&bob);
    // Not someone else's session, not an unknown one.
    assert_error(
        s.delete(&format!("/sessions/{bob_sid}"), &token),
        Status::NotFound,
        "not found",
    );
    assert_eq!(
        s.delete("/sessions/nope", &token).status(),
        Status::NotFound
    );
    assert_eq!(s.get("/secret", &bob).status(), Status::Ok);
    // One's own.
    assert_eq!(
        s.delete(&format!("/sessions/{other_sid}"), &token).status(),
        Status::NoContent
    );
    assert_invalid_token(s.get("/secret", &other));
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
}

#[test]
fn another_users_session_id_changes_nothing_with_single_use_tokens() {
    let s = server_with(|c| {
        c.sessions = true;
        c.single_use_tokens = true;
    });
    let alice = s.token("alice");
    let bob = s.token("bob");
    let bob_sid = sid_of(&bob);
    assert_error(
        s.delete(&format!("/sessions/{bob_sid}"), &alice),
        Status::NotFound,
        "not found",
    );
    // Bob's unspent token is still his way in.
    assert_eq!(s.get("/secret", &bob).status(), Status::Ok);
}

#[test]
fn logging_out_everywhere() {
    let s = sessions_server();
    let a = s.token("alice");
    let b = token_of(&json(s.signin("alice", PASSWORD)).1);
    let bob = s.token("bob");
    assert_eq!(s.delete("/sessions", &a).status(), Status::NoContent);
    assert_invalid_token(s.get("/secret", &a));
    assert_invalid_token(s.get("/secret", &b));
    assert_eq!(s.get("/secret", &bob).status(), Status::Ok);
}

#[test]
fn idle_sessions_die() {
    let s = server_with(|c| {
        c.sessions = true;
        c.token_ttl = 0;
    });
    let token = s.token("alice");
    s.clock.advance(1801);
    assert_invalid_token(s.get("/secret", &token));
    let fresh = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(s.get("/secret", &fresh).status(), Status::Ok);
}

#[test]
fn idle_timeout_counts_from_last_use() {
    let s = server_with(|c| {
        c.sessions = true;
        c.token_ttl = 0;
    });
    let token = s.token("alice");
    keep_using(&s, &token, 1700, 5);
    s.clock.advance(1801);
    assert_invalid_token(s.get("/secret", &token));
}

#[test]
fn a_short_idle_timeout_does_not_end_a_session_in_use() {
    let s = server_with_clock(bearer_auth::Clock::stopped(), |c| {
        c.sessions = true;
        c.token_ttl = 0;
        c.session_idle_timeout = 4;
    });
    let token = s.token("alice");
    keep_using(&s, &token, 3, 5);
    s.clock.advance(4);
    assert_invalid_token(s.get("/secret", &token));
}

#[test]
fn sessions_end_at_the_absolute_timeout() {
    let s = server_with(|c| {
        c.sessions = true;
        c.token_ttl = 0;
        c.session_absolute_timeout = 5000;
    });
    let token = s.token("alice");
    keep_using(&s, &token, 1200, 4);
    s.clock.advance(1200);
    assert_invalid_token(s.get("/secret", &token));
}

#[test]
fn last_seen_is_written_at_most_every_few_seconds() {
    use bearer_auth::db::schema::sessions::dsl::*;
    use diesel::prelude::*;
    // A stopped clock: only `advance` moves time, however slow the machine.
    let s = server_with_clock(bearer_auth::Clock::stopped(), |c| c.sessions = true);
    let token = s.token("alice");
    let read = || -> i64 {
        let app = app_of(&s.client);
        let mut conn = app.db.pool().get().expect("connection");
        sessions
            .select(last_seen_at)
            .first(&mut *conn)
            .expect("row")
    };
    let start = read();
    s.clock.advance(2);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    assert_eq!(read(), start, "written too soon");
    s.clock.advance(5);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    assert!(read() >= start + 7);
}

#[test]
fn dead_sessions_are_swept_without_requests() {
    let s = server_with(|c| {
        c.sessions = true;
        c.session_sweep_interval = 1;
    });
    s.token("alice");
    s.token("bob");
    assert_eq!(count_rows(&s.client, "sessions"), 2);
    s.clock.advance(1801);
    let mut left = 2;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = count_rows(&s.client, "sessions");
        if left == 0 {
            break;
        }
    }
    assert_eq!(left, 0);
}

#[test]
fn deleting_the_account_ends_every_session() {
    let s = sessions_server();
    let token = s.token("alice");
    let other = token_of(&json(s.signin("alice", PASSWORD)).1);
    s.token("bob");
    assert_eq!(count_rows(&s.client, "sessions"), 3);
    assert_eq!(s.delete("/me", &token).status(), Status::NoContent);
    assert_eq!(count_rows(&s.client, "sessions"), 1);
    assert_invalid_token(s.get("/secret", &other));
}

#[test]
fn session_routes_answer_404_when_sessions_are_off() {
    let s = server();
    let token = s.token("alice");
    let (status, _) = json(s.get("/sessions", &token));
    assert_eq!(status, Status::NotFound);
    for path in ["/sessions", "/sessions/current", "/sessions/some-id"] {
        assert_error(s.delete(path, &token), Status::NotFound, "not found");
    }
    // The token is untouched.
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
}

#[test]
fn a_session_token_is_refused_when_sessions_are_off() {
    let on = sessions_server();
    let token = on.token("alice");
    let db_url = on.db.url.clone();
    // Same database and secret, sessions off.
    let mut config = bearer_auth::Config::for_tests(&db_url).expect("config");
    config.sessions = false;
    let rocket = build(config, &Default::default());
    let client = rocket::local::blocking::Client::tracked(rocket).expect("client");
    let response = client.get("/secret").header(bearer(&token)).dispatch();
    assert_invalid_token(response);
}

/// A client that builds `/sessions/` + an empty id must not log the user out
/// everywhere, and an id that no session could have is 404 without a query.
#[test]
fn only_exact_paths_end_sessions() {
    let s = sessions_server();
    let a = s.token("alice");
    let b = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_error(s.delete("/sessions/", &a), Status::NotFound, "not found");
    let long = "x".repeat(9000);
    for id in ["nonsense", "%00", long.as_str()] {
        let path = format!("/sessions/{id}");
        assert_error(s.delete(&path, &a), Status::NotFound, "not found");
    }
    assert_eq!(list(&s, &a).len(), 2);
    assert_eq!(s.get("/secret", &b).status(), Status::Ok);
}

/// `GET /sessions` lists live sessions only: one that died of idleness is
/// left out even before the sweeper has removed its row.
#[test]
fn the_list_holds_only_live_sessions() {
    let s = server_with_clock(bearer_auth::Clock::stopped(), |c| {
        c.sessions = true;
        c.token_ttl = 0;
        c.session_sweep_interval = 3600;
    });
    let used = s.token("alice");
    let idle = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(list(&s, &used).len(), 2);
    keep_using(&s, &used, 1000, 2);
    assert_eq!(count_rows(&s.client, "sessions"), 2, "not swept yet");
    let sessions = list(&s, &used);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["id"], sid_of(&used));
    assert_eq!(sessions[0]["current"], true);
    assert_invalid_token(s.get("/secret", &idle));
}

/// Rotation covers the session routes too: every 2xx answer to them that
/// leaves the caller's session alive carries a fresh token.
#[test]
fn session_routes_rotate_tokens() {
    let s = server_with(|c| {
        c.sessions = true;
        c.rotate_tokens = true;
        c.single_use_tokens = true;
    });
    let token = s.token("alice");
    let other = token_of(&json(s.signin("alice", PASSWORD)).1);
    let response = s.get("/sessions", &token);
    assert_eq!(response.status(), Status::Ok);
    let token = fresh_token(&response).expect("fresh token on GET /sessions");
    drop(response);
    let response = s.delete(&format!("/sessions/{}", sid_of(&other)), &token);
    assert_eq!(response.status(), Status::NoContent);
    let token = fresh_token(&response).expect("fresh token on DELETE /sessions/<id>");
    drop(response);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
}

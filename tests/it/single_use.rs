use futures::future::join_all;
use rocket::http::{Header, Status};

use crate::common::*;

#[test]
fn a_token_works_exactly_once() {
    let s = server_with(|c| c.single_use_tokens = true);
    let token = s.token("alice");
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    assert_invalid_token(s.get("/secret", &token));
    assert_invalid_token(s.get("/users", &token));
    // Each signin gives a new one-shot token.
    let next = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(s.get("/me", &next).status(), Status::Ok);
    assert_invalid_token(s.get("/me", &next));
}

#[test]
fn a_refused_request_does_not_revive_or_spend_other_tokens() {
    let s = server_with(|c| c.single_use_tokens = true);
    let first = s.token("alice");
    let second = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(s.get("/secret", &first).status(), Status::Ok);
    // Refused: a replay of the spent token, and a forged one.
    assert_invalid_token(s.get("/secret", &first));
    assert_invalid_token(s.get("/secret", &format!("{second}x")));
    // Neither revived the first nor spent the second.
    assert_invalid_token(s.get("/secret", &first));
    assert_eq!(s.get("/secret", &second).status(), Status::Ok);
}

#[rocket::async_test]
async fn racing_requests_spend_a_token_once() {
    let s = async_server_with(|c| c.single_use_tokens = true).await;
    let token = s.token("alice").await;
    let requests = (0..24).map(|_| {
        s.client
            .get("/secret")
            .header(Header::new("Authorization", format!("Bearer {token}")))
            .dispatch()
    });
    let statuses: Vec<Status> = join_all(requests)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_one_winner(&statuses, Status::Ok, Status::Unauthorized);
}

#[test]
fn expired_token_records_are_swept() {
    let s = server_with(|c| {
        c.single_use_tokens = true;
        c.session_sweep_interval = 1;
    });
    s.token("alice");
    s.token("bob");
    assert_eq!(count_rows(&s.client, "single_use_tokens"), 2);
    s.clock.advance(900 + 10);
    // The background sweeper runs every second: no request needed.
    let mut left = 2;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = count_rows(&s.client, "single_use_tokens");
        if left == 0 {
            break;
        }
    }
    assert_eq!(left, 0);
}

#[test]
fn spent_tokens_leave_no_record() {
    let s = server_with(|c| c.single_use_tokens = true);
    let token = s.token("alice");
    assert_eq!(count_rows(&s.client, "single_use_tokens"), 1);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    assert_eq!(count_rows(&s.client, "single_use_tokens"), 0);
}

/// A database failure after the token is spent (here: the sessions table
/// is briefly missing) rolls the spending back: the token still works once.
#[test]
fn a_failed_lookup_does_not_spend_the_token() {
    let s = server_with(|c| {
        c.sessions = true;
        c.single_use_tokens = true;
    });
    let token = s.token("alice");
    execute_sql(&s.client, "ALTER TABLE sessions RENAME TO sessions_away");
    assert_eq!(
        s.get("/secret", &token).status(),
        Status::InternalServerError
    );
    execute_sql(&s.client, "ALTER TABLE sessions_away RENAME TO sessions");
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    assert_invalid_token(s.get("/secret", &token));
}

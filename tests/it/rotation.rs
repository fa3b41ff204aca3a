use rocket::http::Status;

use crate::common::*;

#[test]
fn every_authenticated_2xx_carries_a_fresh_token() {
    let s = server_with(|c| c.rotate_tokens = true);
    let token = s.token("alice");
    for path in ["/secret", "/secretstuff", "/users", "/me"] {
        let response = s.get(path, &token);
        assert_eq!(response.status(), Status::Ok);
        let fresh = fresh_token(&response).expect("X-Access-Token");
        assert_ne!(fresh, token);
        assert_eq!(s.get("/secret", &fresh).status(), Status::Ok);
    }
}

#[test]
fn no_fresh_token_elsewhere() {
    let s = server_with(|c| c.rotate_tokens = true);
    let body = s.signup("alice");
    let token = token_of(&body);
    // Not on failures, not on unauthenticated routes, not on signin.
    assert!(fresh_token(&s.get("/secret", "bad.token.here")).is_none());
    assert!(fresh_token(&s.client.get("/secret").dispatch()).is_none());
    assert!(fresh_token(&s.client.get("/health").dispatch()).is_none());
    assert!(fresh_token(&s.signin("alice", PASSWORD)).is_none());
    assert!(fresh_token(&s.get("/nowhere", &token)).is_none());
    // Not after the account is gone.
    let response = s.delete("/me", &token);
    assert_eq!(response.status(), Status::NoContent);
    assert!(fresh_token(&response).is_none());
}

#[test]
fn no_fresh_token_on_routes_that_do_not_authenticate() {
    let s = server_with(|c| c.rotate_tokens = true);
    let token = s.token("alice");
    for path in ["/health", "/", "/style.css"] {
        let response = s.get(path, &token);
        assert_eq!(response.status(), Status::Ok, "{path}");
        assert!(fresh_token(&response).is_none(), "{path}");
    }
}

#[test]
fn a_fresh_token_that_cannot_be_issued_is_an_error_not_a_bare_2xx() {
    use bearer_auth::db::DbConn;
    use diesel::connection::SimpleConnection;
    let s = server_with(|c| {
        c.rotate_tokens = true;
        c.single_use_tokens = true;
    });
    let token = s.token("alice");
    // From now on no token record can be written.
    let app = app_of(&s.client);
    let mut conn = app.db.pool().get().expect("connection");
    let refuse = match &mut *conn {
        DbConn::Sqlite(conn) => conn.batch_execute(
            "CREATE TRIGGER refuse_tokens BEFORE INSERT ON single_use_tokens \
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        ),
        DbConn::Postgres(conn) => conn.batch_execute(
            "CREATE FUNCTION refuse_tokens() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'disk full'; END $$; \
             CREATE TRIGGER refuse_tokens BEFORE INSERT ON single_use_tokens \
             FOR EACH ROW EXECUTE FUNCTION refuse_tokens();",
        ),
    };
    refuse.expect("trigger");
    drop(conn);
    let response = s.get("/secret", &token);
    assert!(fresh_token(&response).is_none());
    assert_error(
        response,
        Status::InternalServerError,
        "internal server error",
    );
    // Counted as what it was answered.
    let metrics = s
        .client
        .get("/metrics")
        .remote("127.0.0.1:40000".parse().expect("address"))
        .dispatch()
        .into_string()
        .unwrap_or_default();
    assert!(
        metrics.contains(
            r#"bearer_auth_http_requests_total{method="GET",route="/secret",status="500"} 1"#
        ),
        "{metrics}"
    );
}

#[test]
fn rotation_off_means_no_header() {
    let s = server();
    let token = s.token("alice");
    assert!(fresh_token(&s.get("/secret", &token)).is_none());
}

#[test]
fn with_single_use_the_chain_is_the_only_way_in() {
    let s = server_with(|c| {
        c.rotate_tokens = true;
        c.single_use_tokens = true;
    });
    let mut token = s.token("alice");
    for _ in 0..20 {
        let response = s.get("/secret", &token);
        assert_eq!(response.status(), Status::Ok);
        let next = fresh_token(&response).expect("X-Access-Token");
        // The old one is dead now.
        assert_invalid_token(s.get("/secret", &token));
        token = next;
    }
}

/// A fresh token that needs no record (tokens are not single-use) is only
/// signed: it neither waits for nor needs a database connection.
#[test]
fn rotation_without_single_use_needs_no_database_connection() {
    // SQLite on either pass: on PostgreSQL the revocation listener empties
    // the cache once it starts listening, at a moment this test cannot see.
    let db = TestDb::sqlite();
    let mut c = config(&db);
    c.rotate_tokens = true;
    c.database_pool_size = 1;
    c.database_timeout = 1;
    // The cached row must outlive any pause of a slow machine.
    c.auth_cache_ttl_ms = 600_000;
    let s = TestServer::on(db, c);
    let token = s.token("alice");
    // The user row is now in the instance's cache.
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    let app = app_of(&s.client);
    let held = app.db.pool().get().expect("the pool's one connection");
    let response = s.get("/secret", &token);
    assert_eq!(response.status(), Status::Ok);
    assert!(fresh_token(&response).is_some());
    drop(held);
}

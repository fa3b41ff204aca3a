//! The database layer: SQLite settings on every connection, and a pool that
//! answers 503 in bounded time when it has no connection to give.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bearer_auth::db::DbConn;
use bearer_auth::App;
use diesel::sql_types::{BigInt, Text};
use diesel::RunQueryDsl;
use futures::future::join_all;
use rocket::http::Status;

use crate::common::*;

#[derive(diesel::QueryableByName)]
struct Mode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(diesel::QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// The value of a pragma, whose result column is `column`.
fn pragma(conn: &mut diesel::SqliteConnection, name: &str, column: &str) -> i64 {
    diesel::sql_query(format!("SELECT {column} AS value FROM pragma_{name}"))
        .get_result::<Number>(conn)
        .expect("pragma")
        .value
}

#[test]
fn every_sqlite_connection_has_wal_busy_timeout_and_foreign_keys() {
    let db = TestDb::sqlite();
    let mut config = config(&db);
    config.database_pool_size = 3;
    config.database_timeout = 7;
    let s = TestServer::on(db, config);
    let app = app_of(&s.client);
    // Every connection of the pool at once, so none is checked twice.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(app.db.pool().get().expect("connection"));
    }
    for conn in &mut held {
        let DbConn::Sqlite(conn) = &mut **conn else {
            panic!("a SQLite test database");
        };
        let mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result::<Mode>(conn)
            .expect("journal_mode");
        assert_eq!(mode.journal_mode, "wal");
        assert_eq!(pragma(conn, "busy_timeout", "timeout"), 7000);
        assert_eq!(pragma(conn, "foreign_keys", "foreign_keys"), 1);
    }
}

#[test]
fn deleting_a_user_row_cascades_to_sessions_and_tokens() {
    let s = server_with(|c| {
        c.sessions = true;
        c.single_use_tokens = true;
    });
    s.token("alice");
    s.token("bob");
    assert_eq!(count_rows(&s.client, "sessions"), 2);
    assert_eq!(count_rows(&s.client, "single_use_tokens"), 2);
    // Straight in SQL, not through the account code: the foreign keys do it.
    execute_sql(&s.client, "DELETE FROM users WHERE username = 'alice'");
    assert_eq!(count_rows(&s.client, "sessions"), 1);
    assert_eq!(count_rows(&s.client, "single_use_tokens"), 1);
}

#[rocket::async_test]
async fn a_pool_without_a_free_connection_answers_503_in_bounded_time() {
    let s = async_server_with(|c| {
        c.database_pool_size = 1;
        c.database_timeout = 1;
    })
    .await;
    let app = s.client.rocket().state::<Arc<App>>().expect("app").clone();
    // The pool's one connection is taken.
    let held = app.db.pool().get().expect("connection");
    let started = Instant::now();
    let answers = join_all((0..6).map(|_| s.client.get("/health").dispatch())).await;
    let elapsed = started.elapsed();
    for response in answers {
        assert_eq!(response.status(), Status::ServiceUnavailable);
        let body = response.into_string().await.unwrap_or_default();
        assert_eq!(body, r#"{"error":"service unavailable"}"#);
    }
    // Requests queued behind each other share one `database_timeout` (1 s)
    // instead of adding theirs up (6 s).
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    drop(held);
    assert_eq!(
        s.client.get("/health").dispatch().await.status(),
        Status::Ok
    );
}

/// `:memory:` is a database of its own, migrated on the one connection that
/// keeps it alive.
#[test]
fn an_in_memory_database_serves() {
    let config = bearer_auth::Config::for_tests(":memory:").expect("config");
    let s = TestServer::on(TestDb::sqlite(), config);
    let token = s.token("alice");
    let (status, body) = json(s.get("/users", &token));
    assert_eq!(status, Status::Ok);
    assert_eq!(body, serde_json::json!(["alice"]));
    assert_eq!(s.client.get("/health").dispatch().status(), Status::Ok);
}

/// `/health` asks the schema, not only the connection.
#[test]
fn health_is_503_without_the_schema() {
    let db = TestDb::sqlite();
    let config = config(&db);
    let s = TestServer::on(db, config);
    assert_eq!(s.client.get("/health").dispatch().status(), Status::Ok);
    execute_sql(&s.client, "DROP TABLE users");
    assert_error(
        s.client.get("/health").dispatch(),
        Status::ServiceUnavailable,
        "service unavailable",
    );
}

/// A fresh single-use token for a session that another request ended a
/// moment before (rotation racing a log-out) is `invalid_token`, not a 500.
#[test]
fn a_token_for_a_vanished_session_is_invalid_token_not_a_fault() {
    use bearer_auth::error::{ApiError, Challenge};
    use bearer_auth::tokens::Subject;
    let s = server_with(|c| {
        c.sessions = true;
        c.single_use_tokens = true;
    });
    let user_id = s.signup("alice")["user"]["id"].as_i64().expect("id");
    let app = app_of(&s.client);
    let mut conn = app.db.pool().get().expect("connection");
    let gone = Subject::Session(bearer_auth::tokens::random_id());
    let issued = app.issue_token(&mut conn, user_id, &gone, app.clock.now());
    assert!(
        matches!(
            issued,
            Err(ApiError::Unauthenticated(Challenge::InvalidToken))
        ),
        "{issued:?}"
    );
}

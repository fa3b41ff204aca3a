//! Shared test helpers: an isolated database per test (a temporary SQLite
//! file, or a fresh PostgreSQL database when `BEARER_AUTH_TEST_POSTGRES` is
//! set), a server built with any config, and small request helpers.

#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bearer_auth::{Audit, Clock, Config};
use diesel::{Connection, PgConnection, RunQueryDsl};
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};
use serde_json::Value;

/// The environment variable naming a PostgreSQL server for the tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`. Unset: SQLite.
pub const POSTGRES_ENV: &str = "BEARER_AUTH_TEST_POSTGRES";
/// Set to `sqlite` to run on SQLite although a PostgreSQL server is named
/// (tests that need PostgreSQL itself still use it).
pub const BACKEND_ENV: &str = "BEARER_AUTH_TEST_BACKEND";

/// The PostgreSQL server for the tests, if one is named.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// For the tests of PostgreSQL itself: `true`, with a note, when no server
/// is named. Under CI (`CI` set) that is a failure instead, so that no test
/// passes there without running.
pub fn no_postgres() -> bool {
    if postgres_admin_url().is_some() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must name a PostgreSQL server in {POSTGRES_ENV}"
    );
    eprintln!("needs {POSTGRES_ENV}: not run");
    true
}

pub const PASSWORD: &str = "correct horse";

/// One test's own database, removed when dropped.
pub struct TestDb {
    pub url: String,
    dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A database on the backend under test.
    pub fn new() -> Self {
        let sqlite = std::env::var(BACKEND_ENV).is_ok_and(|b| b == "sqlite");
        match postgres_admin_url() {
            Some(admin) if !sqlite => Self::on_postgres(admin),
            _ => Self::sqlite(),
        }
    }

    /// A SQLite file of its own, whatever the backend under test.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("test.db").to_string_lossy().into_owned();
        Self {
            url,
            dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server is named.
    pub fn postgres() -> Option<Self> {
        postgres_admin_url().map(Self::on_postgres)
    }

    fn on_postgres(admin: String) -> Self {
        let name = format!(
            "bearer_auth_test_{}",
            bearer_auth::tokens::random_id()
                .to_ascii_lowercase()
                .replace(['-', '_'], "")
        );
        let mut conn = PgConnection::establish(&admin).expect("reach test PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create test database");
        let base = admin.split('?').next().unwrap_or(&admin);
        let (server, _) = base.rsplit_once('/').expect("database URL with a path");
        Self {
            url: format!("{server}/{name}"),
            dir: None,
            postgres: Some((admin, name)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The URL of this PostgreSQL database through another host and port.
    pub fn url_via(&self, host_port: &str) -> String {
        let (_, name) = self.postgres.as_ref().expect("a PostgreSQL database");
        let (scheme, rest) = self.url.split_once("://").expect("URL");
        let (authority, _) = rest.split_once('/').expect("path");
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"));
        format!("{scheme}://{}{host_port}/{name}", user.unwrap_or_default())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// Rocket settings for tests: quiet, no address header.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::debug_default()).merge(("log_level", "off"))
}

/// A server on its own database. Fields drop in order: client, then database.
pub struct TestServer {
    pub client: Client,
    pub clock: Clock,
    pub db: TestDb,
}

pub fn config(db: &TestDb) -> Config {
    Config::for_tests(&db.url).expect("test config")
}

pub fn encryption_key() -> [u8; 32] {
    *b"0123456789abcdef0123456789abcdef"
}

/// The server for `config`. Audit lines are dropped: the tests of the audit
/// log give their own sink (`observability.rs`).
pub fn build(config: Config, clock: &Clock) -> rocket::Rocket<rocket::Build> {
    bearer_auth::build_with_audit(figment(), config, clock.clone(), Audit::to(|_| {}))
        .expect("build server")
}

impl TestServer {
    /// A server on `db` with `config` (which should name `db`).
    pub fn on(db: TestDb, config: Config) -> Self {
        let clock = Clock::system();
        let client = Client::tracked(build(config, &clock)).expect("valid rocket");
        Self { client, clock, db }
    }
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// A server with the test config changed by `tweak`.
pub fn server_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    server_with_clock(Clock::system(), tweak)
}

/// [`server_with`] on a given clock (e.g. [`Clock::stopped`]).
pub fn server_with_clock(clock: Clock, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let db = TestDb::new();
    let mut config = config(&db);
    tweak(&mut config);
    let rocket = build(config, &clock);
    let client = Client::tracked(rocket).expect("valid rocket");
    TestServer { client, clock, db }
}

/// A server with the test defaults (15-minute signed tokens, bcrypt cost 4).
pub fn server() -> TestServer {
    server_with(|_| {})
}

pub fn basic(username: &str, password: &str) -> Header<'static> {
    let raw = format!("{username}:{password}");
    Header::new("Authorization", format!("Basic {}", STANDARD.encode(raw)))
}

pub fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

pub fn json(response: LocalResponse<'_>) -> (Status, Value) {
    let status = response.status();
    let body = response.into_string().unwrap_or_default();
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, value)
}

/// Asserts an error answer: the status and `{"error": message}`.
pub fn assert_error(response: LocalResponse<'_>, status: Status, message: &str) {
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    let (got, body) = json(response);
    assert_eq!(got, status, "body: {body}");
    assert_eq!(body["error"], message, "body: {body}");
}

/// The `WWW-Authenticate` challenge of a response.
pub fn challenge(response: &LocalResponse<'_>) -> Option<String> {
    response
        .headers()
        .get_one("WWW-Authenticate")
        .map(str::to_owned)
}

pub const BEARER: &str = "Bearer realm=\"bearer-auth\"";
pub const INVALID_TOKEN: &str = "Bearer realm=\"bearer-auth\", error=\"invalid_token\"";
pub const INVALID_REQUEST: &str = "Bearer realm=\"bearer-auth\", error=\"invalid_request\"";
pub const BASIC: &str = "Basic realm=\"bearer-auth\", charset=\"UTF-8\"";

/// Asserts the 401 `invalid_token` answer.
pub fn assert_invalid_token(response: LocalResponse<'_>) {
    assert_eq!(challenge(&response).as_deref(), Some(INVALID_TOKEN));
    assert_error(response, Status::Unauthorized, "Invalid Login");
}

impl TestServer {
    /// Signs up `username` with [`PASSWORD`] and returns the 201 body.
    pub fn signup(&self, username: &str) -> Value {
        let response = self
            .client
            .post("/signup")
            .header(ContentType::JSON)
            .body(serde_json::json!({"username": username, "password": PASSWORD}).to_string())
            .dispatch();
        let (status, body) = json(response);
        assert_eq!(status, Status::Created, "signup of {username}: {body}");
        body
    }

    /// Signs up and returns the token.
    pub fn token(&self, username: &str) -> String {
        token_of(&self.signup(username))
    }

    pub fn signin(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.client
            .post("/signin")
            .header(basic(username, password))
            .dispatch()
    }

    pub fn get(&self, path: &str, token: &str) -> LocalResponse<'_> {
        self.client
            .get(path.to_owned())
            .header(bearer(token))
            .dispatch()
    }

    pub fn delete(&self, path: &str, token: &str) -> LocalResponse<'_> {
        self.client
            .delete(path.to_owned())
            .header(bearer(token))
            .dispatch()
    }
}

pub fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("token in body").to_owned()
}

/// The decoded JSON of one base64url segment of a JWT.
pub fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// A server for tests that race requests: Rocket's asynchronous client.
pub struct AsyncTestServer {
    pub client: rocket::local::asynchronous::Client,
    pub clock: Clock,
    pub db: TestDb,
}

pub async fn async_server_with(tweak: impl FnOnce(&mut Config)) -> AsyncTestServer {
    async_server_with_clock(Clock::system(), tweak).await
}

/// [`async_server_with`] on a given clock.
pub async fn async_server_with_clock(
    clock: Clock,
    tweak: impl FnOnce(&mut Config),
) -> AsyncTestServer {
    let db = TestDb::new();
    let mut config = config(&db);
    tweak(&mut config);
    let rocket = build(config, &clock);
    let client = rocket::local::asynchronous::Client::tracked(rocket)
        .await
        .expect("valid rocket");
    AsyncTestServer { client, clock, db }
}

impl AsyncTestServer {
    pub async fn token(&self, username: &str) -> String {
        let response = self
            .client
            .post("/signup")
            .header(ContentType::JSON)
            .body(serde_json::json!({"username": username, "password": PASSWORD}).to_string())
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::Created);
        let body: Value =
            serde_json::from_str(&response.into_string().await.unwrap_or_default()).expect("json");
        token_of(&body)
    }
}

/// The shared state of a server, for looking into its database.
pub fn app_of(client: &Client) -> std::sync::Arc<bearer_auth::App> {
    client
        .rocket()
        .state::<std::sync::Arc<bearer_auth::App>>()
        .expect("app state")
        .clone()
}

/// Counts the rows of a table.
pub fn count_rows(client: &Client, table: &str) -> i64 {
    count_rows_of(&app_of(client), table)
}

/// Counts the rows of a table of `app`'s database.
pub fn count_rows_of(app: &bearer_auth::App, table: &str) -> i64 {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = app.db.pool().get().expect("connection");
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *conn)
        .expect("count")
        .n
}

/// Runs one SQL statement on a connection of `client`'s pool: for tests that
/// change the database behind the server's back.
pub fn execute_sql(client: &Client, sql: &str) {
    let app = app_of(client);
    let mut conn = app.db.pool().get().expect("connection");
    diesel::sql_query(sql)
        .execute(&mut *conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The X-Access-Token of a response.
pub fn fresh_token(response: &LocalResponse<'_>) -> Option<String> {
    response
        .headers()
        .get_one("X-Access-Token")
        .map(str::to_owned)
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Sends one raw HTTP/1.1 request to 127.0.0.1:`port`, returns the answer
/// (empty when the connection fails).
pub fn raw_http(port: u16, request: &str) -> String {
    raw_http_bytes(port, request.as_bytes())
}

/// [`raw_http`] with any bytes, valid UTF-8 or not.
pub fn raw_http_bytes(port: u16, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(60)));
    if stream.write_all(request).is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A raw `POST /signup` request.
pub fn signup_request(username: &str) -> String {
    let body = serde_json::json!({"username": username, "password": PASSWORD}).to_string();
    format!(
        "POST /signup HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Asserts that exactly one of racing requests got `winner` and every other
/// one got `loser`.
pub fn assert_one_winner(statuses: &[Status], winner: Status, loser: Status) {
    let won = statuses.iter().filter(|s| **s == winner).count();
    let lost = statuses.iter().filter(|s| **s == loser).count();
    assert_eq!((won, lost), (1, statuses.len() - 1), "{statuses:?}");
}

/// A command for the server binary that inherits no `ROCKET_*` setting from
/// the environment the tests run in: each test sets what it means.
pub fn server_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bearer-auth"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ROCKET_") {
            command.env_remove(name);
        }
    }
    command
}

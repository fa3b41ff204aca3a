//! Metrics, the audit log and graceful shutdown.

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bearer_auth::{Audit, Clock};
use rocket::http::Status;
use rocket::local::blocking::Client;

use crate::common::*;

const LOOPBACK: &str = "127.0.0.1:40000";
const ELSEWHERE: &str = "203.0.113.5:40000";

fn scrape(client: &Client, from: &str) -> (Status, String) {
    let response = client
        .get("/metrics")
        .remote(from.parse::<SocketAddr>().expect("address"))
        .dispatch();
    (
        response.status(),
        response.into_string().unwrap_or_default(),
    )
}

#[test]
fn metrics_count_requests_signins_tokens_and_sessions() {
    let s = server_with(|c| c.sessions = true);
    let token = s.token("alice");
    assert_eq!(
        s.signin("alice", "wrong password").status(),
        Status::Unauthorized
    );
    assert_eq!(s.signin("alice", PASSWORD).status(), Status::Ok);
    assert_eq!(
        s.get("/secret", "bad.token.x").status(),
        Status::Unauthorized
    );
    assert_eq!(
        s.client.get("/secret").dispatch().status(),
        Status::Unauthorized
    );
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);

    let (status, text) = scrape(&s.client, LOOPBACK);
    assert_eq!(status, Status::Ok);
    for line in [
        r#"bearer_auth_http_requests_total{method="POST",route="/signup",status="201"} 1"#,
        r#"bearer_auth_http_requests_total{method="GET",route="/secret",status="200"} 1"#,
        r#"bearer_auth_http_requests_total{method="GET",route="/secret",status="401"} 2"#,
        r#"bearer_auth_signins_total{result="failure"} 1"#,
        r#"bearer_auth_signins_total{result="success"} 1"#,
        r#"bearer_auth_tokens_issued_total 2"#,
        r#"bearer_auth_tokens_refused_total{reason="missing"} 1"#,
        r#"bearer_auth_tokens_refused_total{reason="malformed"} 1"#,
        r#"bearer_auth_live_sessions 2"#,
        r#"bearer_auth_password_hash_wait_seconds_count 3"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

#[test]
fn metrics_are_hidden_from_other_addresses_and_can_be_off() {
    let s = server();
    assert_eq!(scrape(&s.client, ELSEWHERE).0, Status::NotFound);
    // A server bound to `::` sees local IPv4 clients as IPv4-mapped.
    assert_eq!(scrape(&s.client, "[::ffff:127.0.0.1]:40000").0, Status::Ok);
    assert_eq!(
        s.client.get("/metrics").dispatch().status(),
        Status::NotFound
    );
    let off = server_with(|c| c.metrics = false);
    assert_eq!(scrape(&off.client, LOOPBACK).0, Status::NotFound);
    let open = server_with(|c| {
        c.metrics_allowed_ips
            .push("203.0.113.5".parse().expect("ip"))
    });
    assert_eq!(scrape(&open.client, ELSEWHERE).0, Status::Ok);
}

fn audited(tweak: impl FnOnce(&mut bearer_auth::Config)) -> (TestServer, Arc<Mutex<Vec<String>>>) {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let db = TestDb::new();
    let mut config = config(&db);
    tweak(&mut config);
    let clock = Clock::system();
    let audit = Audit::to(move |line| sink.lock().expect("lock").push(line.to_owned()));
    let rocket =
        bearer_auth::build_with_audit(figment(), config, clock.clone(), audit).expect("build");
    let client = Client::tracked(rocket).expect("client");
    (TestServer { client, clock, db }, lines)
}

fn events(lines: &Mutex<Vec<String>>) -> Vec<serde_json::Value> {
    lines
        .lock()
        .expect("lock")
        .iter()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn failed_signins_are_audited_without_the_password() {
    let (s, lines) = audited(|_| {});
    let alice_id = s.signup("alice")["user"]["id"].clone();
    let response = s
        .client
        .post("/signin")
        .header(basic("alice", "hunter2-secret"))
        .remote(LOOPBACK.parse().expect("address"))
        .dispatch();
    assert_eq!(response.status(), Status::Unauthorized);
    // A password typed into the username field must not be logged either.
    s.signin("mallory-typed-a-password", "another-secret");
    let all = events(&lines);
    let failed: Vec<_> = all
        .iter()
        .filter(|e| e["audit"] == "signin_failed")
        .collect();
    assert_eq!(failed.len(), 2, "{all:?}");
    assert_eq!(failed[0]["reason"], "wrong_password");
    assert_eq!(failed[0]["username"], "alice");
    assert_eq!(failed[0]["user_id"], alice_id);
    assert_eq!(failed[0]["client"], "127.0.0.1");
    assert!(failed[0]["time"].as_str().is_some());
    assert_eq!(failed[1]["reason"], "unknown_user");
    assert!(failed[1]["user_id"].is_null());
    let text = lines.lock().expect("lock").join("\n");
    for secret in [
        "hunter2-secret",
        "another-secret",
        "mallory-typed-a-password",
        PASSWORD,
        "$2b$",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn every_auth_event_is_audited_once() {
    let (s, lines) = audited(|c| c.sessions = true);
    let token = s.token("alice");
    let other = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_eq!(s.get("/secret", "x.y.z").status(), Status::Unauthorized);
    assert_eq!(
        s.delete("/sessions/current", &other).status(),
        Status::NoContent
    );
    assert_eq!(s.delete("/me", &token).status(), Status::NoContent);
    let kinds: Vec<String> = events(&lines)
        .iter()
        .map(|e| e["audit"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "signup",
            "signin_succeeded",
            "token_refused",
            "session_ended",
            "account_deleted"
        ]
    );
    let text = lines.lock().expect("lock").join("\n");
    assert!(!text.contains(&token) && !text.contains(&other));
    let user_id = events(&lines)[0]["user_id"].as_i64();
    assert!(user_id.is_some());
    assert_eq!(events(&lines)[4]["user_id"].as_i64(), user_id);
}

/// SIGTERM while a slow signup (bcrypt at cost 13) is in flight: the signup
/// still gets its 201, the sweeper stops, then the process exits cleanly.
#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let port = free_port();
    let mut child = server_command()
        .current_dir(dir.path())
        .env(
            "ROCKET_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml"),
        )
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_DATABASE_URL", dir.path().join("x.db"))
        .env("ROCKET_BCRYPT_COST", "13")
        .env("ROCKET_SESSION_SWEEP_INTERVAL", "1")
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let mut up = false;
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "server did not start");
    let body = r#"{"username":"slow","password":"correct horse"}"#;
    let request = format!(
        "POST /signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let in_flight = thread::spawn(move || raw_http(port, &request));
    // SIGTERM once the signup's bcrypt has started (the metrics count the
    // hashing slot it took), so the request is surely in flight.
    let mut hashing = false;
    for _ in 0..250 {
        let metrics = raw_http(
            port,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if metrics.contains("bearer_auth_password_hash_wait_seconds_count 1") {
            hashing = true;
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert!(hashing, "the signup never reached bcrypt");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let answer = in_flight.join().expect("request thread");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log.contains("session sweeper stopped"), "{log}");
}

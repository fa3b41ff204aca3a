//! The real server process: SIGKILL during a stream of signups loses no
//! user that got a 201, racing threads get one 201 for one name, and two
//! processes on one database race safely.

use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use crate::common::*;

fn start(db: &TestDb, dir: &std::path::Path, port: u16) -> Child {
    start_with(db, dir, port, &[])
}

/// [`start`] with more environment.
fn start_with(db: &TestDb, dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Child {
    let mut child = server_command()
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("ROCKET_CONFIG", "/dev/null")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_DATABASE_URL", &db.url)
        .env("ROCKET_BCRYPT_COST", "4")
        .env("ROCKET_LOG_LEVEL", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    for _ in 0..300 {
        let health = raw_http(
            port,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if health.starts_with("HTTP/1.1 200") {
            return child;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

fn body_of(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_default()
}

#[test]
fn sigkill_during_signups_loses_no_acknowledged_user() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = start(&db, dir.path(), port);

    let stop = Arc::new(AtomicBool::new(false));
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (stop, created) = (stop.clone(), created.clone());
            thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("user-{t}-{i}");
                    let answer = raw_http(port, &signup_request(&name));
                    if answer.starts_with("HTTP/1.1 201") {
                        created.lock().expect("lock").push(name);
                    } else if answer.is_empty() {
                        break; // the server is gone
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(1500));
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().expect("writer");
    }
    let created = created.lock().expect("lock").clone();
    assert!(
        created.len() > 20,
        "only {} signups before the kill",
        created.len()
    );

    let port = free_port();
    let mut server = start(&db, dir.path(), port);
    let probe = raw_http(port, &signup_request("probe-after-restart"));
    let token = body_of(&probe)["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let users = raw_http(
        port,
        &format!(
            "GET /users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    let _ = server.kill();
    let _ = server.wait();
    let names: Vec<String> = serde_json::from_value(body_of(&users)).unwrap_or_default();
    let missing: Vec<&String> = created.iter().filter(|n| !names.contains(n)).collect();
    assert!(missing.is_empty(), "lost after SIGKILL: {missing:?}");
}

#[test]
fn threads_racing_one_name_on_the_real_server_get_one_201() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = start(&db, dir.path(), port);
    let barrier = Arc::new(Barrier::new(12));
    let racers: Vec<_> = (0..12)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                raw_http(port, &signup_request("racer"))
            })
        })
        .collect();
    let answers: Vec<String> = racers
        .into_iter()
        .map(|r| r.join().expect("racer"))
        .collect();
    let _ = server.kill();
    let _ = server.wait();
    let created = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 201"))
        .count();
    let conflict = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 409"))
        .count();
    assert_eq!((created, conflict), (1, 11), "{answers:?}");
}

/// The status code of a raw HTTP answer (0 for none).
fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// Two server processes on one database, as behind a load balancer: a
/// single-use token raced across both by many threads works once, and one
/// username signed up on both at once is created once.
#[test]
fn two_processes_on_one_database_race_safely() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port()];
    let single_use = [("ROCKET_SINGLE_USE_TOKENS", "true")];
    let mut servers: Vec<Child> = ports
        .iter()
        .map(|port| start_with(&db, dir.path(), *port, &single_use))
        .collect();
    let race = |request: String| -> Vec<u16> {
        let barrier = Arc::new(Barrier::new(16));
        let racers: Vec<_> = (0..16)
            .map(|i| {
                let (barrier, request, port) = (barrier.clone(), request.clone(), ports[i % 2]);
                thread::spawn(move || {
                    barrier.wait();
                    status_of(&raw_http(port, &request))
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().unwrap_or_default())
            .collect()
    };
    let signup = raw_http(ports[0], &signup_request("alice"));
    let token = body_of(&signup)["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let spends = race(format!(
        "GET /secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ));
    let signups = race(signup_request("bob"));
    for server in &mut servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    assert!(signup.starts_with("HTTP/1.1 201"), "{signup}");
    let count = |statuses: &[u16], code| statuses.iter().filter(|s| **s == code).count();
    assert_eq!(
        (count(&spends, 200), count(&spends, 401)),
        (1, 15),
        "{spends:?}"
    );
    assert_eq!(
        (count(&signups, 201), count(&signups, 409)),
        (1, 15),
        "{signups:?}"
    );
}

/// Header bytes that are not UTF-8 (only a raw socket can send them) are
/// refused with the usual JSON answers, and the server keeps serving.
#[test]
fn non_utf8_header_bytes_are_refused_not_fatal() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = start(&db, dir.path(), port);
    let signin = raw_http_bytes(
        port,
        b"POST /signin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\xfd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let secret = raw_http_bytes(
        port,
        b"GET /secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xc3\x28abc\r\nConnection: close\r\n\r\n",
    );
    let health = raw_http(
        port,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let _ = server.kill();
    let _ = server.wait();
    for answer in [&signin, &secret] {
        let status = status_of(answer);
        assert!(status == 400 || status == 401, "{answer}");
        assert_eq!(body_of(answer)["error"], "Invalid Login", "{answer}");
    }
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

/// `cargo run --release` on a fresh machine: the shipped `Rocket.toml` read
/// from the working directory, no environment but the port, and a SQLite
/// file `bearer-auth.db` created and migrated there.
#[test]
fn the_shipped_config_starts_on_a_fresh_sqlite_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml"),
        dir.path().join("Rocket.toml"),
    )
    .expect("copy Rocket.toml");
    let log = dir.path().join("server.log");
    let port = free_port();
    let mut command = server_command();
    let mut server = command
        .current_dir(dir.path())
        .env("ROCKET_PORT", port.to_string())
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let mut health = String::new();
    for _ in 0..300 {
        health = raw_http(
            port,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if !health.is_empty() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let signup = raw_http(port, &signup_request("alice"));
    let _ = server.kill();
    let _ = server.wait();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(signup.starts_with("HTTP/1.1 201"), "{signup}");
    assert!(dir.path().join("bearer-auth.db").is_file());
    // The `debug` profile says that its secret is the public one.
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log.contains("public development value"), "{log}");
}

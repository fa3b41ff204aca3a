//! The database going away: at start, and while serving.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bearer_auth::config::DatabaseUrl;
use rocket::http::Status;

use crate::common::*;

/// A TCP proxy in front of PostgreSQL that can be taken down (every
/// connection cut, new ones closed at once) and brought back.
struct Proxy {
    address: String,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let address = listener.local_addr().expect("address").to_string();
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (is_down, streams) = (down.clone(), open.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if is_down.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let pairs = [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ];
                if let Ok(mut list) = streams.lock() {
                    list.extend([client, server]);
                }
                for pair in pairs {
                    if let (Ok(mut from), Ok(mut to)) = pair {
                        thread::spawn(move || {
                            let _ = io::copy(&mut from, &mut to);
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                        });
                    }
                }
            }
        });
        Proxy {
            address,
            down,
            open,
        }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            if let Ok(mut list) = self.open.lock() {
                for stream in list.drain(..) {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

fn upstream_of(admin: &str) -> String {
    let rest = admin.split_once("://").map_or(admin, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

#[test]
fn postgres_going_away_gives_503_and_service_comes_back() {
    if no_postgres() {
        return;
    }
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let admin = postgres_admin_url().unwrap_or_default();
    let proxy = Proxy::start(upstream_of(&admin));
    let mut config = bearer_auth::Config::for_tests(&db.url).expect("config");
    config.database_url = DatabaseUrl::Postgres(db.url_via(&proxy.address));
    config.database_timeout = 1;
    config.database_pool_size = 2;
    let rocket = build(config, &Default::default());
    let client = rocket::local::blocking::Client::tracked(rocket).expect("client");
    let s = TestServer {
        client,
        clock: Default::default(),
        db,
    };
    let token = s.token("alice");

    proxy.set_down(true);
    assert_error(
        s.client.get("/health").dispatch(),
        Status::ServiceUnavailable,
        "service unavailable",
    );
    assert_error(
        s.get("/secret", &token),
        Status::ServiceUnavailable,
        "service unavailable",
    );
    assert_error(
        s.signin("alice", PASSWORD),
        Status::ServiceUnavailable,
        "service unavailable",
    );

    proxy.set_down(false);
    let mut status = Status::ServiceUnavailable;
    for _ in 0..50 {
        status = s.client.get("/health").dispatch().status();
        if status == Status::Ok {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, Status::Ok);
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    assert_eq!(s.signin("alice", PASSWORD).status(), Status::Ok);
}

#[test]
fn unreachable_postgres_at_start_is_one_line_and_exit_1() {
    // Nothing listens on port 1.
    let url = "postgres://postgres@127.0.0.1:1/test";
    let config = bearer_auth::Config::for_tests(url).expect("config");
    let error = bearer_auth::build(figment(), config, Default::default()).err();
    assert_eq!(error.map(|e| e.key).as_deref(), Some("database_url"));

    let dir = tempfile::tempdir().expect("tempdir");
    let output = server_command()
        .current_dir(dir.path())
        .env("ROCKET_CONFIG", "/dev/null")
        .env("ROCKET_DATABASE_URL", url)
        .output()
        .expect("run binary");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("`database_url`"), "{stderr}");
    // Never a SQLite file named after the URL.
    assert_eq!(
        std::fs::read_dir(dir.path()).map(|d| d.count()).ok(),
        Some(0)
    );
}

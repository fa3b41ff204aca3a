//! Two server instances on one database, as behind a load balancer. On
//! PostgreSQL in the PostgreSQL pass; the same checks hold on one SQLite file.

use std::sync::Arc;

use bearer_auth::db::models::{ClientInfo, Session, SingleUseToken, User};
use bearer_auth::App;
use futures::future::join_all;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::Value;

use crate::common::*;

struct Pair {
    a: Client,
    b: Client,
    _db: TestDb,
}

async fn two_instances(tweak: impl Fn(&mut bearer_auth::Config)) -> Pair {
    two_instances_on(&bearer_auth::Clock::system(), tweak).await
}

/// Two instances whose clocks are `clock`.
async fn two_instances_on(
    clock: &bearer_auth::Clock,
    tweak: impl Fn(&mut bearer_auth::Config),
) -> Pair {
    let db = TestDb::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut config = config(&db);
        tweak(&mut config);
        let rocket = build(config, clock);
        clients.push(Client::untracked(rocket).await.expect("client"));
    }
    let b = clients.pop().expect("b");
    let a = clients.pop().expect("a");
    Pair { a, b, _db: db }
}

async fn body(response: LocalResponse<'_>) -> Value {
    serde_json::from_str(&response.into_string().await.unwrap_or_default()).unwrap_or(Value::Null)
}

async fn signup<'c>(client: &'c Client, username: &str) -> LocalResponse<'c> {
    client
        .post("/signup")
        .header(ContentType::JSON)
        .body(serde_json::json!({"username": username, "password": PASSWORD}).to_string())
        .dispatch()
        .await
}

async fn get<'c>(client: &'c Client, path: &'static str, token: &str) -> LocalResponse<'c> {
    client
        .get(path)
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .dispatch()
        .await
}

#[rocket::async_test]
async fn a_token_from_one_instance_works_on_the_other() {
    let p = two_instances(|_| {}).await;
    let token = token_of(&body(signup(&p.a, "alice").await).await);
    assert_eq!(get(&p.b, "/secret", &token).await.status(), Status::Ok);
    let signin =
        p.b.post("/signin")
            .header(basic("alice", PASSWORD))
            .dispatch()
            .await;
    let token = token_of(&body(signin).await);
    assert_eq!(get(&p.a, "/users", &token).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn ending_a_session_on_one_ends_it_on_the_other() {
    // Without the per-instance cache: at once.
    let p = two_instances(|c| {
        c.sessions = true;
        c.auth_cache_ttl_ms = 0;
    })
    .await;
    let token = token_of(&body(signup(&p.a, "alice").await).await);
    assert_eq!(get(&p.b, "/secret", &token).await.status(), Status::Ok);
    let response =
        p.a.delete("/sessions/current")
            .header(bearer(&token))
            .dispatch()
            .await;
    assert_eq!(response.status(), Status::NoContent);
    let response = get(&p.b, "/secret", &token).await;
    assert_eq!(response.status(), Status::Unauthorized);
    assert_eq!(
        response.headers().get_one("WWW-Authenticate"),
        Some(INVALID_TOKEN)
    );
}

#[rocket::async_test]
async fn a_single_use_token_raced_across_both_succeeds_once() {
    let p = two_instances(|c| c.single_use_tokens = true).await;
    for round in 0..3 {
        let name = format!("user{round}");
        let token = token_of(&body(signup(&p.a, &name).await).await);
        let requests = (0..16).map(|i| {
            let client = if i % 2 == 0 { &p.a } else { &p.b };
            get(client, "/secret", &token)
        });
        let statuses: Vec<Status> = join_all(requests)
            .await
            .iter()
            .map(|r| r.status())
            .collect();
        assert_one_winner(&statuses, Status::Ok, Status::Unauthorized);
    }
}

#[rocket::async_test]
async fn one_username_signed_up_on_both_at_once_gives_one_201() {
    let p = two_instances(|_| {}).await;
    let requests = (0..16).map(|i| signup(if i % 2 == 0 { &p.a } else { &p.b }, "alice"));
    let statuses: Vec<Status> = join_all(requests)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_one_winner(&statuses, Status::Created, Status::Conflict);
}

#[rocket::async_test]
async fn two_sweepers_do_no_harm() {
    let p = two_instances(|c| {
        c.sessions = true;
        c.single_use_tokens = true;
        c.rotate_tokens = true;
        c.session_sweep_interval = 1;
    })
    .await;
    // A chain of rotated single-use tokens, alternating instances, while both
    // sweepers run every second.
    let mut token = token_of(&body(signup(&p.a, "alice").await).await);
    // Beside it, dead rows for the sweepers: sessions idle for hours and
    // token records long expired.
    let app = p.a.rocket().state::<Arc<App>>().expect("app").clone();
    {
        let mut conn = app.db.pool().get().expect("connection");
        let user = User::find_by_username(&mut conn, "alice")
            .expect("query")
            .expect("alice");
        let long_ago = app.clock.now() - 20_000;
        for i in 0..3 {
            let client = ClientInfo::default();
            Session::open(&mut conn, user.id, long_ago, 43_200, &client).expect("session");
            SingleUseToken::record(
                &mut conn,
                &format!("dead-{i}"),
                user.id,
                None,
                Some(long_ago),
            )
            .expect("record");
        }
    }
    assert_eq!(count_rows_of(&app, "sessions"), 4);
    for i in 0..30 {
        let client = if i % 2 == 0 { &p.a } else { &p.b };
        let response = get(client, "/secret", &token).await;
        assert_eq!(response.status(), Status::Ok, "step {i}");
        token = response
            .headers()
            .get_one("X-Access-Token")
            .expect("rotated")
            .to_owned();
        rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sessions = body(get(&p.b, "/sessions", &token).await).await;
    assert_eq!(sessions.as_array().map(Vec::len), Some(1));
    // The dead rows are gone; the live session and its one unspent token
    // are not.
    assert_eq!(count_rows_of(&app, "sessions"), 1);
    assert_eq!(count_rows_of(&app, "single_use_tokens"), 1);
}

/// With the per-instance cache, another instance sees a log-out or an
/// account deletion within `auth_cache_ttl_ms`; the instance that did it at
/// once.
#[rocket::async_test]
async fn other_instances_see_log_outs_and_deletions_within_the_cache_ttl() {
    let ttl = std::time::Duration::from_millis(300);
    for sessions in [true, false] {
        let p = two_instances(|c| {
            c.sessions = sessions;
            c.auth_cache_ttl_ms = 300;
        })
        .await;
        let token = token_of(&body(signup(&p.a, "alice").await).await);
        // Both instances have read the rows.
        assert_eq!(get(&p.a, "/secret", &token).await.status(), Status::Ok);
        assert_eq!(get(&p.b, "/secret", &token).await.status(), Status::Ok);
        let path = if sessions { "/sessions/current" } else { "/me" };
        let response = p.a.delete(path).header(bearer(&token)).dispatch().await;
        assert_eq!(response.status(), Status::NoContent);
        // The instance that ended it: at once.
        assert_eq!(
            get(&p.a, "/secret", &token).await.status(),
            Status::Unauthorized
        );
        // The other one: once its cached row is older than the TTL.
        rocket::tokio::time::sleep(ttl + std::time::Duration::from_millis(100)).await;
        let response = get(&p.b, "/secret", &token).await;
        assert_eq!(
            response.status(),
            Status::Unauthorized,
            "sessions={sessions}"
        );
    }
}

/// On PostgreSQL the instances tell each other (LISTEN/NOTIFY): a log-out or
/// a deletion on one is refused by the other long before a cached row would
/// expire (here the TTL is a minute).
#[rocket::async_test]
async fn on_postgres_instances_tell_each_other_at_once() {
    if no_postgres() {
        return;
    }
    for sessions in [true, false] {
        let db = TestDb::postgres().expect("a PostgreSQL database");
        let mut clients = Vec::new();
        for _ in 0..2 {
            let mut config = bearer_auth::Config::for_tests(&db.url).expect("config");
            config.sessions = sessions;
            config.auth_cache_ttl_ms = 60_000;
            let rocket = build(config, &Default::default());
            clients.push(Client::untracked(rocket).await.expect("client"));
        }
        let (a, b) = (&clients[0], &clients[1]);
        let token = token_of(&body(signup(a, "alice").await).await);
        assert_eq!(get(a, "/secret", &token).await.status(), Status::Ok);
        assert_eq!(get(b, "/secret", &token).await.status(), Status::Ok);
        // Give B's listener time to be listening before the NOTIFY.
        rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let path = if sessions { "/sessions/current" } else { "/me" };
        let response = a.delete(path).header(bearer(&token)).dispatch().await;
        assert_eq!(response.status(), Status::NoContent);
        let mut status = Status::Ok;
        for _ in 0..40 {
            status = get(b, "/secret", &token).await.status();
            if status == Status::Unauthorized {
                break;
            }
            rocket::tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(status, Status::Unauthorized, "sessions={sessions}");
    }
}

#[rocket::async_test]
async fn the_signin_throttle_holds_across_instances() {
    // Throttle delays count whole seconds: a stopped clock.
    let p = two_instances_on(&bearer_auth::Clock::stopped(), |_| {}).await;
    assert_eq!(signup(&p.a, "alice").await.status(), Status::Created);
    async fn attempt(client: &Client, password: &str) -> Status {
        let attacker = std::net::SocketAddr::new([203, 0, 113, 7].into(), 50000);
        client
            .post("/signin")
            .header(basic("alice", password))
            .remote(attacker)
            .dispatch()
            .await
            .status()
    }
    // Five free failures in all, alternating instances...
    for i in 0..5 {
        let client = if i % 2 == 0 { &p.a } else { &p.b };
        assert_eq!(
            attempt(client, "wrong").await,
            Status::Unauthorized,
            "attempt {i}"
        );
    }
    // ...and then both instances make the attacker wait.
    for client in [&p.a, &p.b] {
        assert_eq!(attempt(client, "wrong").await, Status::TooManyRequests);
    }
}

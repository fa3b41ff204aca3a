use bearer_auth::Config;
use rocket::figment::providers::{Format, Toml};
use rocket::figment::Figment;
use rocket::http::Status;

use crate::common::*;

fn profile(name: &str) -> Config {
    let figment = Figment::from(rocket::Config::default())
        .merge(Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested())
        .merge(("jwt_secret", "0123456789abcdef0123456789abcdef"))
        .merge((
            "token_encryption_key",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ))
        .select(name);
    Config::from_figment(&figment).expect("profile loads")
}

fn switches(c: &Config) -> (u64, bool, bool, bool, bool) {
    (
        c.token_ttl,
        c.single_use_tokens,
        c.rotate_tokens,
        c.sessions,
        c.encrypt_tokens(),
    )
}

#[test]
fn shipped_profiles() {
    assert_eq!(
        switches(&profile("debug")),
        (900, false, false, false, false)
    );
    assert_eq!(
        switches(&profile("release")),
        (900, false, false, false, false)
    );
    assert_eq!(
        switches(&profile("classic")),
        (0, false, false, false, false)
    );
    assert_eq!(switches(&profile("strict")), (900, true, true, true, true));
}

#[test]
fn strict_needs_both_secrets() {
    let figment = Figment::from(rocket::Config::default())
        .merge(Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested())
        .merge(("jwt_secret", "0123456789abcdef0123456789abcdef"))
        .select("strict");
    let error = Config::from_figment(&figment).err().map(|e| e.key);
    assert_eq!(error.as_deref(), Some("token_encryption_key"));
}

/// One end-to-end flow under a combination of the four switches.
fn flow(single_use: bool, rotate: bool, sessions: bool, encrypt: bool, ttl: u64) {
    let label = format!(
        "single_use={single_use} rotate={rotate} sessions={sessions} encrypt={encrypt} ttl={ttl}"
    );
    let s = server_with(|c| {
        c.token_ttl = ttl;
        c.single_use_tokens = single_use;
        c.rotate_tokens = rotate;
        c.sessions = sessions;
        c.token_encryption_key = encrypt.then(encryption_key);
    });
    s.signup("alice");
    let signin = |s: &TestServer| token_of(&json(s.signin("alice", PASSWORD)).1);
    let first = signin(&s);
    assert_eq!(
        first.split('.').count(),
        if encrypt { 5 } else { 3 },
        "{label}"
    );

    // A protected request, following the rotated token when there is one.
    let response = s.get("/secret", &first);
    assert_eq!(response.status(), Status::Ok, "{label}");
    let rotated = fresh_token(&response);
    assert_eq!(rotated.is_some(), rotate, "{label}");
    drop(response);

    // A replay of a spent token is refused.
    if single_use {
        assert_invalid_token(s.get("/secret", &first));
    } else {
        assert_eq!(s.get("/me", &first).status(), Status::Ok, "{label}");
    }

    let mut current = match (rotated, single_use) {
        (Some(next), _) => next,
        (None, true) => signin(&s),
        (None, false) => first.clone(),
    };
    let response = s.get("/users", &current);
    assert_eq!(response.status(), Status::Ok, "{label}");
    if let Some(next) = fresh_token(&response) {
        current = next;
    } else if single_use {
        current = signin(&s);
    }
    drop(response);

    if sessions {
        // Keep a second token of the same session, then log out.
        let spare = if rotate {
            let response = s.get("/me", &current);
            let spare = fresh_token(&response).expect("rotated");
            drop(response);
            current = spare.clone();
            let response = s.get("/me", &current);
            current = fresh_token(&response).expect("rotated");
            spare
        } else {
            current.clone()
        };
        // With single-use tokens the spare is already spent (or, without
        // rotation, there is none): count the live sessions around the
        // log-out instead.
        let live = |s: &TestServer| {
            let (status, list) = json(s.get("/sessions", &signin(s)));
            assert_eq!(status, Status::Ok, "{label}");
            list.as_array().map_or(0, Vec::len)
        };
        let before = single_use.then(|| live(&s));
        let response = s.delete("/sessions/current", &current);
        assert_eq!(response.status(), Status::NoContent, "{label}");
        assert!(fresh_token(&response).is_none(), "{label}");
        drop(response);
        assert_invalid_token(s.get("/secret", &current));
        assert_invalid_token(s.get("/secret", &spare));
        if let Some(before) = before {
            // One more signin to look, and the ended session gone.
            assert_eq!(live(&s), before, "{label}");
        }
    } else {
        assert_eq!(
            s.get("/sessions", &current).status(),
            Status::NotFound,
            "{label}"
        );
    }
}

#[test]
fn all_sixteen_combinations_work() {
    // With 15-minute tokens, and with tokens that never expire.
    for ttl in [900, 0] {
        for bits in 0..16u8 {
            flow(
                bits & 1 != 0,
                bits & 2 != 0,
                bits & 4 != 0,
                bits & 8 != 0,
                ttl,
            );
        }
    }
}

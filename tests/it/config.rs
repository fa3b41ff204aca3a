use bearer_auth::{Config, ConfigError};
use rocket::figment::Figment;

use crate::common::{server_command, TestDb};

fn figment(profile: &str, pairs: &[(&str, &str)]) -> Figment {
    let mut figment = Figment::from(rocket::Config::debug_default());
    // Values are typed the way `ROCKET_<KEY>` variables are.
    for (key, value) in pairs {
        figment = match (value.parse::<bool>(), value.parse::<i64>()) {
            (Ok(b), _) => figment.merge((*key, b)),
            (_, Ok(n)) => figment.merge((*key, n)),
            _ => figment.merge((*key, *value)),
        };
    }
    figment.select(profile)
}

fn key_of(result: Result<Config, ConfigError>) -> String {
    match result {
        Ok(_) => "<accepted>".into(),
        Err(e) => e.key,
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn development_profiles_have_a_default_secret() {
    let db = TestDb::new();
    for profile in ["debug", "classic"] {
        let config = Config::from_figment(&figment(profile, &[("database_url", &db.url)]));
        assert!(config.is_ok_and(|c| c.dev_secret), "{profile}");
    }
}

#[test]
fn other_profiles_require_a_long_secret() {
    for profile in ["release", "strict", "mine"] {
        assert_eq!(
            key_of(Config::from_figment(&figment(profile, &[]))),
            "jwt_secret"
        );
        let short = figment(profile, &[("jwt_secret", "too short")]);
        assert_eq!(key_of(Config::from_figment(&short)), "jwt_secret");
    }
    let ok = figment("release", &[("jwt_secret", SECRET)]);
    assert!(Config::from_figment(&ok).is_ok_and(|c| !c.dev_secret));
}

#[test]
fn bad_values_name_their_key() {
    let cases: &[(&str, &str)] = &[
        ("token_ttl", "soon"),
        ("token_ttl", "-5"),
        ("bcrypt_cost", "3"),
        ("bcrypt_cost", "32"),
        ("sessions", "maybe"),
        ("session_idle_timeout", "0"),
        ("database_url", ""),
        ("port", "eighty"),
    ];
    for (key, value) in cases {
        let f = figment("release", &[("jwt_secret", SECRET), (key, value)]);
        assert_eq!(key_of(Config::from_figment(&f)), *key, "{key}={value}");
    }
}

#[test]
fn encryption_needs_a_32_byte_base64_key() {
    let on = |key: Option<&str>| {
        let mut pairs = vec![("jwt_secret", SECRET), ("encrypt_tokens", "true")];
        if let Some(key) = key {
            pairs.push(("token_encryption_key", key));
        }
        key_of(Config::from_figment(&figment("release", &pairs)))
    };
    assert_eq!(on(None), "token_encryption_key");
    assert_eq!(on(Some("c2hvcnQ=")), "token_encryption_key");
    assert_eq!(on(Some("not base64 at all!")), "token_encryption_key");
    assert_eq!(
        on(Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")),
        "<accepted>"
    );
}

#[test]
fn unreadable_database_is_refused_naming_the_key() {
    let mut config = Config::for_tests("/nonexistent/dir/x.db").expect("config");
    config.bcrypt_cost = 4;
    let result = bearer_auth::build(
        Figment::from(rocket::Config::debug_default()),
        config,
        Default::default(),
    );
    assert_eq!(result.err().map(|e| e.key).as_deref(), Some("database_url"));
}

/// The binary itself: a bad config ends the start with one line naming the
/// key and a non-zero exit.
#[test]
fn binary_refuses_bad_config_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (env, key) in [
        (vec![("ROCKET_PROFILE", "release")], "jwt_secret"),
        (
            vec![
                ("ROCKET_PROFILE", "release"),
                ("ROCKET_JWT_SECRET", "short"),
            ],
            "jwt_secret",
        ),
        (vec![("ROCKET_TOKEN_TTL", "abc")], "token_ttl"),
        (vec![("ROCKET_BCRYPT_COST", "99")], "bcrypt_cost"),
        (
            vec![
                ("ROCKET_ENCRYPT_TOKENS", "true"),
                ("ROCKET_TOKEN_ENCRYPTION_KEY", "c2hvcnQ="),
            ],
            "token_encryption_key",
        ),
        (
            vec![("ROCKET_DATABASE_URL", "/nonexistent/dir/x.db")],
            "database_url",
        ),
        (
            vec![("ROCKET_CONFIG", "/nonexistent/Rocket.toml")],
            "ROCKET_CONFIG",
        ),
        (
            vec![("ROCKET_TOKEN_ENCRYPTION_KEY", "not a key")],
            "token_encryption_key",
        ),
    ] {
        let output = server_command()
            .current_dir(dir.path())
            .env("ROCKET_CONFIG", "/dev/null")
            .env("ROCKET_PORT", "0")
            .env("ROCKET_DATABASE_URL", dir.path().join("x.db"))
            .envs(env.clone())
            .output()
            .expect("run binary");
        assert!(!output.status.success(), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{env:?}: {stderr}");
        assert!(stderr.contains(&format!("`{key}`")), "{env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

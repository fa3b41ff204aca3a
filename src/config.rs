//! Typed, validated configuration.
//!
//! Every key is read from Rocket's figment (`Rocket.toml`, the profile named by
//! `ROCKET_PROFILE`, and `ROCKET_<KEY>` environment variables). Validation turns
//! the raw values into a [`Config`] or stops with a [`ConfigError`] that names
//! the offending key in one line.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use rocket::figment::{
    providers::{Env, Format, Toml},
    Figment, Profile,
};
use serde::Deserialize;

/// Profiles that may run with the built-in development `jwt_secret`.
pub const DEV_PROFILES: &[&str] = &["debug", "classic"];

/// The signing key used when a development profile sets none. Public by design:
/// tokens signed with it are worthless outside a developer's machine.
pub const DEV_JWT_SECRET: &str = "bearer-auth development secret: never use in production";

/// Minimum length of `jwt_secret` in bytes (HS256 key of at least 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// The Rocket figment with bearer-auth's rules: `Rocket.toml` (or the file named
/// by `ROCKET_CONFIG`), `ROCKET_<KEY>` overrides, and the profile named by
/// `ROCKET_PROFILE`, `debug` when unset (whatever the build), so that a plain
/// `cargo run --release` works on a fresh machine.
pub fn figment() -> Figment {
    let profile = Profile::from_env_or("ROCKET_PROFILE", "debug");
    Figment::from(rocket::Config::default())
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(profile)
}

/// Refuses a `ROCKET_CONFIG` that names no readable file: a typo in that
/// path must not silently drop the operator's settings. (A missing default
/// `Rocket.toml` is fine: the built-in defaults apply.) A relative path is
/// looked for in the working directory and its parents, as the figment does.
pub fn check_config_file() -> Result<(), ConfigError> {
    let Some(path) = std::env::var_os("ROCKET_CONFIG") else {
        return Ok(());
    };
    let path = std::path::PathBuf::from(path);
    let found = if path.is_absolute() {
        std::fs::File::open(&path).is_ok()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.ancestors().any(|dir| dir.join(&path).is_file()))
            .unwrap_or(false)
    };
    if found {
        Ok(())
    } else {
        Err(ConfigError::new(
            "ROCKET_CONFIG",
            format!("names {}, which is not a readable file", path.display()),
        ))
    }
}

/// Which database backend a `database_url` selects. Its `Debug` form hides
/// any password the URL holds.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file path (or `:memory:`).
    Sqlite(String),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// Reads a `database_url` value: `postgres://`/`postgresql://` selects
    /// PostgreSQL, anything else is a SQLite path (an optional `sqlite://`
    /// prefix is removed).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = raw.strip_prefix("sqlite://").unwrap_or(raw);
        if path.is_empty() {
            return Err("names no SQLite file".into());
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// Whether this is an in-memory SQLite database (one connection only).
    pub fn is_memory(&self) -> bool {
        matches!(self, Self::Sqlite(p) if p == ":memory:" || p.contains("mode=memory"))
    }

    /// The URL with its password, if any, replaced: fit for a log line.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => path.clone(),
            Self::Postgres(url) => without_password(url),
        }
    }
}

/// `scheme://user:password@host/...` as `scheme://user:<redacted>@host/...`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(_) => write!(f, "Sqlite({:?})", self.redacted()),
            Self::Postgres(_) => write!(f, "Postgres({:?})", self.redacted()),
        }
    }
}

/// The raw keys as they come out of the figment, before validation. No
/// `Debug`: it holds the secrets.
#[derive(Deserialize)]
#[serde(default)]
struct RawConfig {
    database_url: String,
    database_pool_size: Option<u32>,
    database_timeout: u64,
    jwt_secret: Option<String>,
    token_ttl: u64,
    single_use_tokens: bool,
    rotate_tokens: bool,
    sessions: bool,
    session_idle_timeout: u64,
    session_absolute_timeout: u64,
    session_sweep_interval: u64,
    encrypt_tokens: bool,
    token_encryption_key: Option<String>,
    bcrypt_cost: u32,
    metrics: bool,
    metrics_allowed_ips: Vec<IpAddr>,
    signin_throttle: bool,
    trusted_proxies: Vec<IpAddr>,
    auth_cache_ttl_ms: u64,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            database_url: "bearer-auth.db".into(),
            database_pool_size: None,
            database_timeout: 5,
            jwt_secret: None,
            token_ttl: 900,
            single_use_tokens: false,
            rotate_tokens: false,
            sessions: false,
            session_idle_timeout: 1800,
            session_absolute_timeout: 43200,
            session_sweep_interval: 60,
            encrypt_tokens: false,
            token_encryption_key: None,
            bcrypt_cost: 12,
            metrics: true,
            metrics_allowed_ips: vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            signin_throttle: true,
            trusted_proxies: Vec::new(),
            auth_cache_ttl_ms: 1000,
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    /// Connections in the pool (`database_pool_size`; default: 4 per core, at
    /// most 16; always 1 for `:memory:`).
    pub database_pool_size: u32,
    /// Seconds a request waits for a database connection before a 503.
    pub database_timeout: u64,
    pub jwt_secret: Vec<u8>,
    /// Whether `jwt_secret` is the public development value.
    pub dev_secret: bool,
    /// Token lifetime in seconds; `0` = tokens never expire.
    pub token_ttl: u64,
    pub single_use_tokens: bool,
    pub rotate_tokens: bool,
    pub sessions: bool,
    pub session_idle_timeout: u64,
    pub session_absolute_timeout: u64,
    /// Seconds between two sweeps of dead sessions and spent tokens.
    pub session_sweep_interval: u64,
    /// The AES-256-GCM key when `encrypt_tokens` is on.
    pub token_encryption_key: Option<[u8; 32]>,
    pub bcrypt_cost: u32,
    /// Whether `GET /metrics` exists.
    pub metrics: bool,
    /// Client addresses that may read `/metrics`; others get 404.
    pub metrics_allowed_ips: Vec<IpAddr>,
    /// Whether failed signins are throttled (see `throttle.rs`).
    pub signin_throttle: bool,
    /// Peers whose `X-Forwarded-For` is believed; empty: nobody's.
    pub trusted_proxies: Vec<IpAddr>,
    /// How long this instance may reuse a user or session row it read
    /// (milliseconds; `0` = read the database on every request).
    pub auth_cache_ttl_ms: u64,
}

impl fmt::Debug for Config {
    // Never print secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url.redacted())
            .field("database_pool_size", &self.database_pool_size)
            .field("jwt_secret", &"<redacted>")
            .field("token_ttl", &self.token_ttl)
            .field("single_use_tokens", &self.single_use_tokens)
            .field("rotate_tokens", &self.rotate_tokens)
            .field("sessions", &self.sessions)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("session_absolute_timeout", &self.session_absolute_timeout)
            .field("encrypt_tokens", &self.token_encryption_key.is_some())
            .field("bcrypt_cost", &self.bcrypt_cost)
            .finish()
    }
}

/// A configuration problem: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Turns a figment extraction error into one line naming the key.
    pub fn from_figment(error: rocket::figment::Error) -> Self {
        let key = error
            .path
            .last()
            .cloned()
            .unwrap_or_else(|| "configuration".into());
        let source = error
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        Self::new(key, format!("{}{}", error.kind, source))
    }
}

impl fmt::Display for ConfigError {
    // Always one line: drivers' messages can span several.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        write!(f, "configuration error: `{}` {}", self.key, message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates the configuration of the figment's selected profile.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        // Rocket's own keys (port, address, limits, ...) are checked here too,
        // so that a bad one ends the start with one line rather than a panic.
        figment
            .extract::<rocket::Config>()
            .map_err(ConfigError::from_figment)?;
        let raw: RawConfig = figment.extract().map_err(ConfigError::from_figment)?;
        let profile = figment.profile().as_str().as_str().to_ascii_lowercase();
        Self::validate(raw, &profile)
    }

    /// A configuration for tests and embedding: development defaults with the
    /// given database, the lowest bcrypt cost and a fixed 32-byte secret.
    pub fn for_tests(database_url: &str) -> Result<Self, ConfigError> {
        let raw = RawConfig {
            database_url: database_url.into(),
            jwt_secret: Some("test secret, at least thirty-two bytes long".into()),
            bcrypt_cost: 4,
            ..RawConfig::default()
        };
        Self::validate(raw, "test")
    }

    fn validate(raw: RawConfig, profile: &str) -> Result<Self, ConfigError> {
        let database_url = DatabaseUrl::parse(&raw.database_url)
            .map_err(|m| ConfigError::new("database_url", m))?;

        let (jwt_secret, dev_secret) = match raw.jwt_secret {
            Some(secret) => (secret.into_bytes(), false),
            None if DEV_PROFILES.contains(&profile) => (DEV_JWT_SECRET.as_bytes().to_vec(), true),
            None => {
                return Err(ConfigError::new(
                    "jwt_secret",
                    format!(
                        "is required in profile `{profile}`: set ROCKET_JWT_SECRET to at least \
                         {MIN_SECRET_BYTES} random bytes"
                    ),
                ))
            }
        };
        if jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::new(
                "jwt_secret",
                format!(
                    "is {} bytes long; it must be at least {MIN_SECRET_BYTES}",
                    jwt_secret.len()
                ),
            ));
        }

        if !(4..=31).contains(&raw.bcrypt_cost) {
            return Err(ConfigError::new(
                "bcrypt_cost",
                format!("is {}; it must be between 4 and 31", raw.bcrypt_cost),
            ));
        }
        if raw.session_idle_timeout == 0 {
            return Err(ConfigError::new("session_idle_timeout", "must be above 0"));
        }
        if raw.session_absolute_timeout == 0 {
            return Err(ConfigError::new(
                "session_absolute_timeout",
                "must be above 0",
            ));
        }
        if raw.database_timeout == 0 {
            return Err(ConfigError::new("database_timeout", "must be above 0"));
        }
        if raw.session_sweep_interval == 0 {
            return Err(ConfigError::new(
                "session_sweep_interval",
                "must be above 0",
            ));
        }
        // Values beyond this would overflow timestamp arithmetic.
        const MAX_SECONDS: u64 = 100 * 365 * 24 * 3600;
        for (key, value) in [
            ("token_ttl", raw.token_ttl),
            ("session_idle_timeout", raw.session_idle_timeout),
            ("session_absolute_timeout", raw.session_absolute_timeout),
            ("session_sweep_interval", raw.session_sweep_interval),
            ("database_timeout", raw.database_timeout),
            ("auth_cache_ttl_ms", raw.auth_cache_ttl_ms / 1000),
        ] {
            if value > MAX_SECONDS {
                return Err(ConfigError::new(key, "is longer than 100 years"));
            }
        }

        // A key that is given is checked even while encryption is off, so
        // that switching it on later cannot be the first sign of a bad key.
        let key = raw
            .token_encryption_key
            .as_deref()
            .map(decode_key)
            .transpose()?;
        let token_encryption_key = match (raw.encrypt_tokens, key) {
            (true, None) => {
                return Err(ConfigError::new(
                    "token_encryption_key",
                    "is required when `encrypt_tokens` is on: base64 of 32 random bytes",
                ))
            }
            (true, key) => key,
            (false, _) => None,
        };

        let database_pool_size = if database_url.is_memory() {
            1
        } else {
            match raw.database_pool_size {
                Some(0) => return Err(ConfigError::new("database_pool_size", "must be above 0")),
                Some(n) => n,
                None => default_pool_size(),
            }
        };

        Ok(Self {
            database_url,
            database_pool_size,
            database_timeout: raw.database_timeout,
            jwt_secret,
            dev_secret,
            token_ttl: raw.token_ttl,
            single_use_tokens: raw.single_use_tokens,
            rotate_tokens: raw.rotate_tokens,
            sessions: raw.sessions,
            session_idle_timeout: raw.session_idle_timeout,
            session_absolute_timeout: raw.session_absolute_timeout,
            session_sweep_interval: raw.session_sweep_interval,
            token_encryption_key,
            bcrypt_cost: raw.bcrypt_cost,
            metrics: raw.metrics,
            metrics_allowed_ips: raw.metrics_allowed_ips,
            signin_throttle: raw.signin_throttle,
            trusted_proxies: raw.trusted_proxies,
            auth_cache_ttl_ms: raw.auth_cache_ttl_ms,
        })
    }

    /// Whether tokens are encrypted (JWE).
    pub fn encrypt_tokens(&self) -> bool {
        self.token_encryption_key.is_some()
    }
}

fn decode_key(value: &str) -> Result<[u8; 32], ConfigError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let value = value.trim();
    let bytes = STANDARD
        .decode(value)
        .or_else(|_| STANDARD_NO_PAD.decode(value))
        .or_else(|_| URL_SAFE.decode(value))
        .or_else(|_| URL_SAFE_NO_PAD.decode(value))
        .map_err(|_| ConfigError::new("token_encryption_key", "is not valid base64"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        ConfigError::new(
            "token_encryption_key",
            format!("decodes to {} bytes; it must be exactly 32", bytes.len()),
        )
    })
}

fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (cores * 4).clamp(4, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_selects_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgresql://u@h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://a.db"),
            Ok(DatabaseUrl::Sqlite("a.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("a.db"),
            Ok(DatabaseUrl::Sqlite("a.db".into()))
        );
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse(":memory:").is_ok_and(|u| u.is_memory()));
    }

    #[test]
    fn printed_urls_hide_the_password() {
        let url =
            DatabaseUrl::Postgres("postgres://app:s3cret@db:5432/auth?sslmode=require".into());
        assert_eq!(
            url.redacted(),
            "postgres://app:<redacted>@db:5432/auth?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        let plain = DatabaseUrl::Postgres("postgres://app@db/auth".into());
        assert_eq!(plain.redacted(), "postgres://app@db/auth");
    }

    #[test]
    fn a_given_encryption_key_is_checked_even_while_encryption_is_off() {
        let raw = RawConfig {
            token_encryption_key: Some("abc".into()),
            ..RawConfig::default()
        };
        let error = Config::validate(raw, "debug").err();
        assert!(error.is_some_and(|e| e.key == "token_encryption_key"));
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode([7u8; 32]);
        assert_eq!(decode_key(&unpadded), Ok([7u8; 32]));
    }

    #[test]
    fn encryption_key_must_be_32_bytes() {
        assert!(decode_key("AAAA").is_err());
        assert!(decode_key("not base64!!").is_err());
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(decode_key(&key), Ok([7u8; 32]));
    }
}

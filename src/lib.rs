//! bearer-auth: sign up, sign in with HTTP Basic, reach protected routes with
//! a bearer token.
//!
//! [`rocket`] builds the server from `Rocket.toml` and the environment;
//! [`build`] builds it from any [`Config`], which is what the tests use.

pub mod audit;
pub mod auth_cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod fairings;
pub mod guards;
pub mod metrics;
pub mod password;
pub mod routes;
pub mod throttle;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use rocket::figment::Figment;
use rocket::fs::{FileServer, Options};
use rocket::{Build, Request, Rocket};

pub use audit::Audit;
pub use clock::Clock;
pub use config::{Config, ConfigError};
use db::models::{ClientInfo, Session, SingleUseToken, User, UserView};
use db::{Db, DbConn};
use error::ApiError;
use metrics::Metrics;
use password::PasswordHasher;
use routes::AuthResponse;
use tokens::{Issued, Subject, TokenService};

/// Everything a request needs, shared by all of them.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub tokens: TokenService,
    pub clock: Clock,
    pub metrics: Metrics,
    pub audit: Audit,
    pub cache: auth_cache::AuthCache,
}

impl App {
    pub fn new(config: Config, clock: Clock, audit: Audit) -> Result<Self, ConfigError> {
        let metrics = Metrics::new().map_err(|e| ConfigError::new("metrics", e.to_string()))?;
        let db = Db::connect(&config)?;
        let hasher = PasswordHasher::new(config.bcrypt_cost, metrics.hash_wait.clone())
            .map_err(|e| ConfigError::new("bcrypt_cost", e.to_string()))?;
        let tokens = TokenService::new(&config);
        let cache =
            auth_cache::AuthCache::new(std::time::Duration::from_millis(config.auth_cache_ttl_ms));
        Ok(Self {
            config,
            db,
            hasher,
            tokens,
            clock,
            metrics,
            audit,
            cache,
        })
    }

    /// Writes one audit line (see [`Audit::event`]).
    pub fn audit(
        &self,
        event: &str,
        user_id: Option<i64>,
        client: Option<std::net::IpAddr>,
        fields: serde_json::Value,
    ) {
        self.audit
            .event(&self.clock, event, user_id, client, fields);
    }

    /// The shared state, from a request.
    pub fn from_request_state<'r>(request: &'r Request<'_>) -> Result<&'r Arc<App>, ApiError> {
        request
            .rocket()
            .state::<Arc<App>>()
            .ok_or_else(|| ApiError::internal("state", "App is not managed"))
    }

    /// Signs (and encrypts) a token for `subject`, and counts it.
    fn sign(&self, subject: &Subject, now: i64) -> Result<Issued, ApiError> {
        let issued = self.tokens.issue(subject, now)?;
        self.metrics.tokens_issued.inc();
        Ok(issued)
    }

    /// A fresh token for an authenticated request (`rotate_tokens`). Only a
    /// single-use token needs the database, for its record; any other is
    /// just signed, without waiting for a connection.
    pub async fn rotate(
        self: &Arc<Self>,
        user_id: i64,
        subject: Subject,
    ) -> Result<Issued, ApiError> {
        let now = self.clock.now();
        if !self.config.single_use_tokens {
            return self.sign(&subject, now);
        }
        let app = Arc::clone(self);
        self.db
            .run(move |conn| app.issue_token(conn, user_id, &subject, now))
            .await
    }

    /// Issues a token for `subject`, recording it when tokens are single-use.
    pub fn issue_token(
        &self,
        conn: &mut DbConn,
        user_id: i64,
        subject: &Subject,
        now: i64,
    ) -> Result<Issued, ApiError> {
        let issued = self.sign(subject, now)?;
        if self.config.single_use_tokens {
            let session = match subject {
                Subject::Session(id) => Some(id.as_str()),
                Subject::User(_) => None,
            };
            SingleUseToken::record(conn, &issued.jti, user_id, session, issued.expires_at)?;
        }
        Ok(issued)
    }

    /// After a signup or signin: opens a session when sessions are on, and
    /// issues the first token.
    pub fn open_and_issue(
        &self,
        conn: &mut DbConn,
        user: &User,
        client: &ClientInfo,
        now: i64,
    ) -> Result<AuthResponse, ApiError> {
        let subject = if self.config.sessions {
            let absolute = self.config.session_absolute_timeout as i64;
            Subject::Session(Session::open(conn, user.id, now, absolute, client)?.id)
        } else {
            Subject::User(user.id)
        };
        let issued = self.issue_token(conn, user.id, &subject, now)?;
        Ok(AuthResponse {
            user: UserView::from(user),
            token: issued.token,
        })
    }
}

/// Where the browser pages live: `static/` in the working directory, or the
/// one in the source tree. If neither is there the API still serves, and
/// `GET /` answers 404.
fn static_dir() -> PathBuf {
    let local = PathBuf::from("static");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(rocket::fs::relative!("static"))
    }
}

/// Builds the server from `Rocket.toml`, `ROCKET_PROFILE` and `ROCKET_<KEY>`.
pub fn rocket() -> Result<Rocket<Build>, ConfigError> {
    config::check_config_file()?;
    let figment = config::figment();
    let config = Config::from_figment(&figment)?;
    build(figment, config, Clock::system())
}

/// Builds the server with a given configuration and clock. `figment` carries
/// Rocket's own settings (address, port, log level).
pub fn build(figment: Figment, config: Config, clock: Clock) -> Result<Rocket<Build>, ConfigError> {
    build_with_audit(figment, config, clock, Audit::stdout())
}

/// [`build`] with the audit log sent to `audit`.
pub fn build_with_audit(
    figment: Figment,
    config: Config,
    clock: Clock,
    audit: Audit,
) -> Result<Rocket<Build>, ConfigError> {
    // Never believe a client-supplied address header.
    let figment = figment.merge(("ip_header", false));
    let sessions = config.sessions;
    let rotate = config.rotate_tokens;
    let dev_secret = config.dev_secret;
    let metrics = config.metrics;
    let app = Arc::new(App::new(config, clock, audit)?);

    let mut rocket = rocket::custom(figment)
        .manage(app)
        .mount("/", routes::routes())
        .mount(
            "/",
            FileServer::new(static_dir(), Options::Index | Options::Missing),
        )
        .register("/", error::catchers());
    // Response fairings run in the order attached. Rotation comes first: it
    // may turn a 2xx into an error, which the headers and the metrics must
    // then see.
    if rotate {
        rocket = rocket.attach(fairings::TokenRotation);
    }
    rocket = rocket
        .attach(fairings::SecurityHeaders)
        .attach(fairings::RequestMetrics)
        .attach(fairings::Sweeper)
        .attach(fairings::RevocationListener);
    if sessions {
        rocket = rocket.mount("/", routes::sessions::routes());
    }
    if metrics {
        rocket = rocket.mount("/", routes::metrics::routes());
    }
    if dev_secret {
        rocket = rocket.attach(rocket::fairing::AdHoc::on_liftoff(
            "Development secret warning",
            |_| {
                Box::pin(async {
                    log::warn!(
                        "jwt_secret is the public development value: set ROCKET_PROFILE=release \
                         and ROCKET_JWT_SECRET before serving real users"
                    );
                })
            },
        ));
    }
    Ok(rocket)
}

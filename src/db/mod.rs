//! The database: one connection type over SQLite and PostgreSQL, an r2d2 pool,
//! embedded migrations, and [`Db::run`] to use a connection off the async
//! workers.

pub mod models;
pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use rocket::tokio::sync::Semaphore;

use crate::config::{Config, ConfigError, DatabaseUrl};
use crate::error::ApiError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Settings applied to every SQLite connection: a lock is waited for as
/// long as a request may wait for the database (`database_timeout`).
/// `busy_timeout` comes first, so that switching to WAL already waits for a
/// lock held by another connection instead of failing at once.
fn sqlite_pragmas(timeout_seconds: u64) -> String {
    format!(
        "PRAGMA busy_timeout = {}; \
         PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON;",
        timeout_seconds.saturating_mul(1000).min(i32::MAX as u64)
    )
}

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Opens connections of the backend the URL selects, never guessing: a
/// PostgreSQL URL that cannot be reached is an error, not a SQLite file.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
    connect_timeout: u64,
}

impl DbManager {
    /// The URL with a connect timeout, so that an unreachable server cannot
    /// hold a thread longer than a request may wait.
    fn postgres_url(&self, url: &str) -> String {
        with_timeouts(url, self.connect_timeout)
    }
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(&self.postgres_url(url))
                .map(DbConn::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(&sqlite_pragmas(self.connect_timeout))
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<DbManager>;

/// The pool and a bound on how many blocking database calls run at once.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    permits: Arc<Semaphore>,
    /// The longest a call waits for a connection, queue included.
    timeout: Duration,
}

impl Db {
    /// Opens the pool and runs pending migrations. Failures name
    /// `database_url`.
    pub fn connect(config: &Config) -> Result<Self, ConfigError> {
        let url = config.database_url.clone();
        let memory = url.is_memory();
        let postgres = matches!(url, DatabaseUrl::Postgres(_));
        let size = config.database_pool_size;
        let mut builder = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(Duration::from_secs(config.database_timeout))
            // PostgreSQL connections can die under us (a restart); test them
            // on check-out. A SQLite file cannot go away like that.
            .test_on_check_out(postgres);
        if memory {
            // An in-memory database lives as long as its one connection.
            builder = builder
                .min_idle(Some(1))
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            builder = builder.min_idle(Some(1));
        }
        let manager = DbManager {
            url,
            connect_timeout: config.database_timeout,
        };
        let migrate = |conn: &mut DbConn| {
            run_migrations(conn)
                .map_err(|e| ConfigError::new("database_url", format!("migrations failed: {e}")))
        };
        fn cannot_open(e: impl std::fmt::Display) -> ConfigError {
            ConfigError::new("database_url", format!("cannot open the database: {e}"))
        }
        // A file or server is opened once by hand first, for a clear message
        // instead of r2d2's timeout. An in-memory database dies with its
        // connection, so it is migrated through the pool's one connection.
        if !memory {
            let mut first = manager.connect().map_err(cannot_open)?;
            migrate(&mut first)?;
        }
        let pool = builder.build(manager).map_err(cannot_open)?;
        if memory {
            let mut conn = pool.get().map_err(cannot_open)?;
            migrate(&mut conn)?;
        }
        Ok(Self {
            pool,
            permits: Arc::new(Semaphore::new(size as usize)),
            timeout: Duration::from_secs(config.database_timeout),
        })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. At most
    /// as many calls run at once as the pool has connections; the rest wait
    /// without holding a thread. Waiting in that queue and for a connection
    /// takes at most `database_timeout` in all; then the answer is 503.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = rocket::tokio::time::Instant::now() + self.timeout;
        let permit =
            rocket::tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    log::warn!("database unavailable: no connection within the timeout");
                    ApiError::Unavailable
                })?
                .map_err(|e| ApiError::internal("database semaphore", e))?;
        let pool = self.pool.clone();
        rocket::tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let left = deadline.saturating_duration_since(rocket::tokio::time::Instant::now());
            let mut conn = pool
                .get_timeout(left.max(Duration::from_millis(1)))
                .map_err(|e| {
                    log::warn!("database unavailable: {e}");
                    ApiError::Unavailable
                })?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::internal("database task", e))?
    }

    /// Whether the database answers a trivial query on the `users` table
    /// (so a database without the schema is not healthy either).
    pub async fn ping(&self) -> bool {
        use diesel::QueryDsl;
        self.run(|conn| {
            schema::users::table
                .select(schema::users::id)
                .limit(1)
                .load::<i64>(conn)
                .map_err(ApiError::from)
        })
        .await
        .is_ok()
    }

    /// The pool, for tests and tools.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Tells every instance on the same PostgreSQL database what to forget from
/// its cache (`NOTIFY`, delivered when the transaction commits). Nothing to
/// do on SQLite.
pub fn announce(conn: &mut DbConn, revoked: &crate::auth_cache::Revoked) -> Result<(), ApiError> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(crate::auth_cache::CHANNEL)
            .bind::<diesel::sql_types::Text, _>(revoked.payload())
            .execute(pg)?;
    }
    Ok(())
}

/// A PostgreSQL URL with a `connect_timeout` of `seconds` and a
/// `tcp_user_timeout` of as long, unless it sets them: a server that stops
/// answering (a network cut, not a refusal) then breaks the connection
/// instead of holding a thread for ever.
pub fn with_timeouts(url: &str, seconds: u64) -> String {
    let mut url = url.to_owned();
    for (key, value) in [
        ("connect_timeout", seconds.to_string()),
        ("tcp_user_timeout", (seconds * 1000).to_string()),
    ] {
        if !url.contains(&format!("{key}=")) {
            let separator = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{separator}{key}={value}");
        }
    }
    url
}

/// Runs the pending migrations of the connection's backend. On PostgreSQL an
/// advisory lock keeps instances starting together from racing each other.
pub fn run_migrations(conn: &mut DbConn) -> Result<(), String> {
    match conn {
        DbConn::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        DbConn::Postgres(conn) => {
            const LOCK: i64 = 0x6265_6172_6572; // "bearer"
            conn.batch_execute(&format!("SELECT pg_advisory_lock({LOCK})"))
                .map_err(|e| e.to_string())?;
            let result = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| e.to_string());
            let unlock = conn
                .batch_execute(&format!("SELECT pg_advisory_unlock({LOCK})"))
                .map_err(|e| e.to_string());
            result.and(unlock)
        }
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => ApiError::NotFound,
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => {
                log::warn!("database unavailable: {error}");
                ApiError::Unavailable
            }
            DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
                log::warn!("database unavailable: {error}");
                ApiError::Unavailable
            }
            _ => ApiError::internal("database", error),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(error: ConnectionError) -> Self {
        log::warn!("database unavailable: {error}");
        ApiError::Unavailable
    }
}

/// Messages of failures that pass when the database comes back.
fn is_transient(message: &str) -> bool {
    const MARKERS: &[&str] = &[
        "server closed the connection",
        "could not receive data from server",
        "could not send data to server",
        "connection reset by peer",
        "ssl connection has been closed unexpectedly",
        "broken pipe",
        "terminating connection",
        "connection refused",
        "could not connect",
        "no connection to the server",
        "database is locked",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|m| message.contains(m))
}

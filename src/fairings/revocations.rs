//! On PostgreSQL, starts the thread that applies other instances'
//! revocations to this instance's auth cache (see `auth_cache.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Orbit, Rocket};

use crate::config::DatabaseUrl;
use crate::App;

pub struct RevocationListener;

#[rocket::async_trait]
impl Fairing for RevocationListener {
    fn info(&self) -> Info {
        Info {
            name: "Revocation listener",
            kind: Kind::Liftoff,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let Some(app) = rocket.state::<Arc<App>>() else {
            return;
        };
        let DatabaseUrl::Postgres(url) = &app.config.database_url else {
            return;
        };
        if !app.cache.enabled() {
            return;
        }
        let url = crate::db::with_timeouts(url, app.config.database_timeout);
        let app = Arc::downgrade(app);
        // Told to stop when the server shuts down.
        let stop = Arc::new(AtomicBool::new(false));
        let shutdown = rocket.shutdown();
        let flag = Arc::clone(&stop);
        rocket::tokio::spawn(async move {
            shutdown.await;
            flag.store(true, Ordering::SeqCst);
        });
        let started = std::thread::Builder::new()
            .name("revocations".into())
            .spawn(move || crate::auth_cache::listen(url, app, &stop));
        if let Err(error) = started {
            log::error!("revocation listener did not start: {error}");
        }
    }
}

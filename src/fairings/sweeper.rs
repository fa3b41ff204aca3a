//! A background task, started with the server, that deletes dead sessions and
//! records of expired single-use tokens without waiting for any request.

use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Orbit, Rocket};

use crate::db::models::{Session, SingleUseToken};
use crate::tokens::LEEWAY;
use crate::App;

pub struct Sweeper;

/// One sweep; returns (sessions, tokens) deleted.
pub async fn sweep_once(app: &Arc<App>) -> Result<(usize, usize), crate::error::ApiError> {
    let now = app.clock.now();
    let idle = app.config.session_idle_timeout as i64;
    app.db
        .run(move |conn| {
            let sessions = Session::sweep(conn, now, idle)?;
            let tokens = SingleUseToken::sweep(conn, now - LEEWAY)?;
            crate::throttle::sweep(conn, now)?;
            Ok((sessions, tokens))
        })
        .await
}

#[rocket::async_trait]
impl Fairing for Sweeper {
    fn info(&self) -> Info {
        Info {
            name: "Session sweeper",
            kind: Kind::Liftoff,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let Some(app) = rocket.state::<Arc<App>>().cloned() else {
            return;
        };
        let shutdown = rocket.shutdown();
        let period = Duration::from_secs(app.config.session_sweep_interval);
        rocket::tokio::spawn(async move {
            let mut ticks = rocket::tokio::time::interval(period);
            ticks.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
            rocket::tokio::pin!(shutdown);
            loop {
                rocket::tokio::select! {
                    _ = &mut shutdown => {
                        log::info!("session sweeper stopped");
                        break;
                    }
                    _ = ticks.tick() => {
                        match sweep_once(&app).await {
                            Ok((0, 0)) => {}
                            Ok((sessions, tokens)) => app.audit(
                                "sessions_expired",
                                None,
                                None,
                                serde_json::json!({ "sessions": sessions, "tokens": tokens }),
                            ),
                            Err(error) => log::warn!("sweep failed: {error}"),
                        }
                    }
                }
            }
        });
    }
}

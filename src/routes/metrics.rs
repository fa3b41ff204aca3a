//! `GET /metrics`: Prometheus text, only for `metrics_allowed_ips`.

use std::sync::Arc;

use rocket::http::ContentType;
use rocket::{Route, State};

use crate::db::models::Session;
use crate::error::ApiError;
use crate::guards::ClientInfo;
use crate::App;

#[rocket::get("/metrics")]
async fn metrics(
    app: &State<Arc<App>>,
    client: ClientInfo,
) -> Result<(ContentType, String), ApiError> {
    let allowed = client
        .ip
        .is_some_and(|ip| app.config.metrics_allowed_ips.contains(&ip));
    if !allowed {
        return Err(ApiError::NotFound);
    }
    let now = app.clock.now();
    let idle = app.config.session_idle_timeout as i64;
    if let Ok(live) = app
        .db
        .run(move |conn| Session::count_live(conn, now, idle))
        .await
    {
        app.metrics.live_sessions.set(live);
    }
    let text = app
        .metrics
        .render()
        .map_err(|e| ApiError::internal("metrics", e))?;
    Ok((
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        text,
    ))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![metrics]
}

//! Session management, mounted only when `sessions` is on.

use std::sync::Arc;

use rocket::http::uri::Origin;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Serialize;

use crate::clock::rfc3339;
use crate::db::models::Session;
use crate::error::ApiError;
use crate::guards::{BearerUser, ClientInfo};
use crate::App;

#[derive(Serialize)]
struct SessionView {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    current: bool,
    user_agent: Option<String>,
    client_addr: Option<String>,
}

#[rocket::get("/sessions")]
async fn list(app: &State<Arc<App>>, auth: BearerUser) -> Result<Json<Vec<SessionView>>, ApiError> {
    let idle = app.config.session_idle_timeout as i64;
    let now = app.clock.now();
    let user_id = auth.user.id;
    let sessions = app
        .db
        .run(move |conn| Session::list_live(conn, user_id, now, idle))
        .await?;
    let current = auth.session.as_ref().map(|s| s.id.as_str());
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: Some(s.id.as_str()) == current,
                created_at: rfc3339(s.created_at),
                last_seen_at: rfc3339(s.last_seen_at),
                expires_at: rfc3339(s.ends_at(idle)),
                user_agent: s.user_agent,
                client_addr: s.client_addr,
                id: s.id,
            })
            .collect(),
    ))
}

/// Ends the caller's session `id`: `false` when it is not one of theirs
/// (or already gone). Ending the session of this very request means no
/// fresh token follows.
async fn end_session(
    app: &App,
    auth: &BearerUser,
    client: &ClientInfo,
    id: String,
    scope: &str,
) -> Result<bool, ApiError> {
    let user_id = auth.user.id;
    let target = id.clone();
    let ended = app
        .db
        .run(move |conn| Session::end(conn, &target, user_id))
        .await?;
    if auth.session.as_ref().is_some_and(|s| s.id == id) {
        auth.mark_ended();
    }
    if ended {
        app.cache.forget_session(&id);
        app.audit(
            "session_ended",
            Some(user_id),
            client.ip,
            serde_json::json!({ "scope": scope }),
        );
    }
    Ok(ended)
}

#[rocket::delete("/sessions/current")]
async fn end_current(
    app: &State<Arc<App>>,
    auth: BearerUser,
    client: ClientInfo,
) -> Result<Status, ApiError> {
    let id = auth.session.as_ref().ok_or(ApiError::NotFound)?.id.clone();
    // Already gone (a log-out racing this one) is logged out all the same.
    end_session(app, &auth, &client, id, "current").await?;
    Ok(Status::NoContent)
}

#[rocket::delete("/sessions/<id>")]
async fn end_one(
    app: &State<Arc<App>>,
    auth: BearerUser,
    client: ClientInfo,
    id: String,
) -> Result<Status, ApiError> {
    // No session has any other id: refuse it without a query.
    if !crate::tokens::is_random_id(&id) {
        return Err(ApiError::NotFound);
    }
    if end_session(app, &auth, &client, id, "one").await? {
        Ok(Status::NoContent)
    } else {
        Err(ApiError::NotFound)
    }
}

#[rocket::delete("/sessions")]
async fn end_all(
    app: &State<Arc<App>>,
    auth: BearerUser,
    client: ClientInfo,
    uri: &Origin<'_>,
) -> Result<Status, ApiError> {
    // Rocket also routes `/sessions/` here; that is `/sessions/<id>` with
    // an empty id, which must not log the user out everywhere.
    if uri.path().ends_with('/') {
        return Err(ApiError::NotFound);
    }
    let user_id = auth.user.id;
    let ended = app
        .db
        .run(move |conn| Session::end_all(conn, user_id))
        .await?;
    app.cache.forget_sessions_of(user_id);
    auth.mark_ended();
    app.audit(
        "session_ended",
        Some(user_id),
        client.ip,
        serde_json::json!({ "scope": "all", "count": ended }),
    );
    Ok(Status::NoContent)
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list, end_current, end_one, end_all]
}

//! Signing up and signing in.

use std::sync::Arc;

use diesel::Connection;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};

use super::AuthResponse;
use crate::db::models::User;
use crate::error::ApiError;
use crate::guards::signup::validate_username;
use crate::guards::{BasicCredentials, ClientInfo, SignupRequest};
use crate::password::validate_new_password;
use crate::App;

#[rocket::post("/signup", data = "<body>")]
async fn signup(
    app: &State<Arc<App>>,
    client: ClientInfo,
    body: Result<SignupRequest, ApiError>,
) -> Result<(Status, Json<AuthResponse>), ApiError> {
    let SignupRequest { username, password } = body?;
    validate_username(&username)?;
    validate_new_password(&password)?;
    let hash = app.hasher.hash(password).await?;
    let now = app.clock.now();
    let ip = client.ip;
    let worker = Arc::clone(app);
    let response = app
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let user = User::create(conn, &username, &hash, now)?;
                worker.open_and_issue(conn, &user, &client, now)
            })
        })
        .await?;
    app.audit("signup", Some(response.user.id), ip, serde_json::json!({}));
    Ok((Status::Created, Json(response)))
}

#[rocket::post("/signin")]
async fn signin(
    app: &State<Arc<App>>,
    client: ClientInfo,
    credentials: BasicCredentials,
) -> Result<Json<AuthResponse>, ApiError> {
    let now = app.clock.now();
    let worker = Arc::clone(app);
    let response = app
        .db
        .run(move |conn| {
            conn.transaction(|conn| worker.open_and_issue(conn, &credentials.user, &client, now))
        })
        .await?;
    Ok(Json(response))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![signup, signin]
}

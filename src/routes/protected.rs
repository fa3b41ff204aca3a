//! Routes behind `Authorization: Bearer <token>`.

use std::sync::Arc;

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Serialize;

use crate::db::models::{User, UserView};
use crate::error::ApiError;
use crate::guards::{BearerUser, ClientInfo};
use crate::App;

#[derive(Serialize)]
struct Secret {
    message: &'static str,
    username: String,
}

#[rocket::get("/secret")]
fn secret(auth: BearerUser) -> Json<Secret> {
    Json(Secret {
        message: "Welcome to the secret area!",
        username: auth.user.username,
    })
}

#[rocket::get("/secretstuff")]
fn secretstuff(auth: BearerUser) -> Json<Secret> {
    secret(auth)
}

#[rocket::get("/users")]
async fn users(app: &State<Arc<App>>, _auth: BearerUser) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(app.db.run(User::usernames).await?))
}

#[rocket::get("/me")]
fn me(auth: BearerUser) -> Json<UserView> {
    Json(UserView::from(&auth.user))
}

#[rocket::delete("/me")]
async fn delete_me(
    app: &State<Arc<App>>,
    auth: BearerUser,
    client: ClientInfo,
) -> Result<Status, ApiError> {
    let id = auth.user.id;
    app.db.run(move |conn| User::delete(conn, id)).await?;
    app.cache.forget_user(id);
    auth.mark_ended();
    app.audit(
        "account_deleted",
        Some(id),
        client.ip,
        serde_json::json!({}),
    );
    Ok(Status::NoContent)
}

pub fn routes() -> Vec<Route> {
    rocket::routes![secret, secretstuff, users, me, delete_me]
}

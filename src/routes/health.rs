//! Liveness with a database check.

use std::sync::Arc;

use rocket::serde::json::{json, Value};
use rocket::{Route, State};

use crate::error::ApiError;
use crate::App;

#[rocket::get("/health")]
async fn health(app: &State<Arc<App>>) -> Result<Value, ApiError> {
    if app.db.ping().await {
        Ok(json!({ "status": "ok" }))
    } else {
        Err(ApiError::Unavailable)
    }
}

pub fn routes() -> Vec<Route> {
    rocket::routes![health]
}

//! HTTP routes. Authentication is in the guards they declare.

pub mod accounts;
pub mod health;
pub mod metrics;
pub mod protected;
pub mod sessions;

use rocket::Route;
use serde::Serialize;

use crate::db::models::UserView;

/// The answer to a signup or signin.
#[derive(Debug, Serialize)]
pub struct AuthResponse {
    pub user: UserView,
    pub token: String,
}

/// Every route that is always mounted.
pub fn routes() -> Vec<Route> {
    let mut routes = accounts::routes();
    routes.extend(protected::routes());
    routes.extend(health::routes());
    routes
}

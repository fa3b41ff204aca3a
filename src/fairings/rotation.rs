//! `rotate_tokens`: every 2xx answer to an authenticated request carries a
//! fresh token in `X-Access-Token`.

use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::response::Responder;
use rocket::{Request, Response};

use crate::guards::bearer::BearerOutcome;
use crate::App;

/// The response header carrying the fresh token.
pub const ACCESS_TOKEN_HEADER: &str = "X-Access-Token";

pub struct TokenRotation;

#[rocket::async_trait]
impl Fairing for TokenRotation {
    fn info(&self) -> Info {
        Info {
            name: "Token rotation",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        if !response.status().class().is_success() {
            return;
        }
        let Ok(auth) = &BearerOutcome::of(request).0 else {
            return;
        };
        if auth.is_ended() {
            return;
        }
        let Some(app) = request.rocket().state::<Arc<App>>() else {
            return;
        };
        match app.rotate(auth.user.id, auth.subject()).await {
            Ok(issued) => {
                response.set_header(Header::new(ACCESS_TOKEN_HEADER, issued.token));
            }
            // A 2xx without its fresh token would strand the client (with
            // single-use tokens the one it sent is spent): answer the error.
            Err(error) => {
                log::warn!("token rotation failed: {error}");
                if let Ok(failure) = error.respond_to(request) {
                    response.merge(failure);
                }
            }
        }
    }
}

//! Counts every answer by route template, method and status.

use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Request, Response};

use crate::App;

pub struct RequestMetrics;

#[rocket::async_trait]
impl Fairing for RequestMetrics {
    fn info(&self) -> Info {
        Info {
            name: "Request metrics",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(app) = request.rocket().state::<Arc<App>>() else {
            return;
        };
        // The route template ("/sessions/<id>"), never the raw path, so the
        // number of series stays bounded.
        let route = request
            .route()
            .map_or_else(|| "unmatched".to_owned(), |r| r.uri.path().to_string());
        let status = response.status().code.to_string();
        app.metrics
            .requests
            .with_label_values(&[route.as_str(), request.method().as_str(), status.as_str()])
            .inc();
    }
}

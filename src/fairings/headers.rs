//! Headers on every answer: JSON answers are never cached, nothing is sniffed.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{Request, Response};

pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, response: &mut Response<'r>) {
        response.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        response.set_header(Header::new("Referrer-Policy", "no-referrer"));
        if response.content_type() == Some(ContentType::HTML) {
            // The pages load nothing from elsewhere and run no inline code.
            response.set_header(Header::new(
                "Content-Security-Policy",
                "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ));
        }
        if response.content_type() == Some(ContentType::JSON)
            || response
                .headers()
                .contains(super::rotation::ACCESS_TOKEN_HEADER)
        {
            response.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}

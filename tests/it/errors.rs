use rocket::http::{ContentType, Status};

use crate::common::*;

#[test]
fn unknown_paths_are_json_404() {
    let s = server();
    let response = s.client.get("/no/such/page").dispatch();
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    assert_error(response, Status::NotFound, "not found");
    let response = s.client.put("/signup").dispatch();
    assert_eq!(response.status(), Status::NotFound);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
}

#[test]
fn health_is_ok_when_the_database_answers() {
    let s = server();
    let (status, body) = json(s.client.get("/health").dispatch());
    assert_eq!(status, Status::Ok);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[test]
fn index_page_is_served() {
    let s = server();
    let response = s.client.get("/").dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    assert!(response
        .into_string()
        .unwrap_or_default()
        .contains("bearer-auth"));
}

#[test]
fn sessions_routes_are_404_when_sessions_are_off() {
    let s = server();
    let token = s.token("alice");
    assert_eq!(s.get("/sessions", &token).status(), Status::NotFound);
    assert_eq!(
        s.delete("/sessions/current", &token).status(),
        Status::NotFound
    );
    assert_eq!(s.delete("/sessions", &token).status(), Status::NotFound);
}

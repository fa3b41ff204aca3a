use rocket::http::{ContentType, Status};

use crate::common::*;

fn post_json<'a>(s: &'a TestServer, body: &str) -> rocket::local::blocking::LocalResponse<'a> {
    s.client
        .post("/signup")
        .header(ContentType::JSON)
        .body(body)
        .dispatch()
}

#[test]
fn signup_with_json_gives_201_user_and_token() {
    let s = server();
    let response = post_json(&s, r#"{"username":"alice","password":"correct horse"}"#);
    assert_eq!(response.status(), Status::Created);
    let (_, body) = json(response);
    // Exactly the fields of the contract.
    assert_eq!(keys(&body), ["token", "user"]);
    assert_eq!(keys(&body["user"]), ["created_at", "id", "username"]);
    assert!(body["user"]["id"].as_i64().is_some(), "{body}");
    assert_eq!(body["user"]["username"], "alice");
    let created = body["user"]["created_at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "created_at {created}"
    );
    assert!(!token_of(&body).is_empty());
    // Never the password or its hash.
    let text = body.to_string();
    assert!(!text.contains("correct horse"));
    assert!(!text.contains("$2"));
    assert!(body["user"].get("password_hash").is_none());
}

#[test]
fn signup_with_form_gives_201() {
    let s = server();
    let response = s
        .client
        .post("/signup")
        .header(ContentType::Form)
        .body("username=bob&password=correct%20horse")
        .dispatch();
    let (status, body) = json(response);
    assert_eq!(status, Status::Created, "{body}");
    assert_eq!(body["user"]["username"], "bob");
    // The form password works at signin.
    assert_eq!(s.signin("bob", "correct horse").status(), Status::Ok);
}

#[test]
fn signup_form_with_bytes_that_are_not_utf8_is_422_not_replaced() {
    let s = server();
    for (body, message) in [
        (
            "username=%ff%fe&password=correct%20horse",
            "field `username` is not valid UTF-8",
        ),
        (
            "username=bob&username=eve&password=correct%20horse",
            "field `username` is given more than once",
        ),
    ] {
        let response = s
            .client
            .post("/signup")
            .header(ContentType::Form)
            .body(body)
            .dispatch();
        assert_error(response, Status::UnprocessableEntity, message);
    }
    assert_eq!(
        json(s.get("/users", &s.token("carol"))).1,
        serde_json::json!(["carol"])
    );
}

#[test]
fn signup_form_missing_field_is_422_naming_it() {
    let s = server();
    let response = s
        .client
        .post("/signup")
        .header(ContentType::Form)
        .body("username=bob")
        .dispatch();
    let (status, body) = json(response);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("password"));
}

#[test]
fn taken_username_is_409() {
    let s = server();
    s.signup("alice");
    let response = post_json(&s, r#"{"username":"alice","password":"another one"}"#);
    let (status, body) = json(response);
    assert_eq!(status, Status::Conflict);
    assert!(body["error"].as_str().is_some());
}

#[test]
fn missing_and_mistyped_fields_are_named() {
    let s = server();
    for (body, field) in [
        (r#"{"password":"correct horse"}"#, "username"),
        (r#"{"username":"alice"}"#, "password"),
        (r#"{"username":5,"password":"correct horse"}"#, "username"),
        (r#"{"username":"alice","password":["x"]}"#, "password"),
        (
            r#"{"username":null,"password":"correct horse"}"#,
            "username",
        ),
    ] {
        let (status, answer) = json(post_json(&s, body));
        assert_eq!(status, Status::UnprocessableEntity, "{body}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {message}");
    }
}

#[test]
fn malformed_json_is_400() {
    let s = server();
    for body in ["{", "not json", "[1,2]", "\"alice\"", ""] {
        let (status, answer) = json(post_json(&s, body));
        assert_eq!(status, Status::BadRequest, "{body}");
        assert!(answer["error"].is_string(), "{body}");
    }
}

#[test]
fn username_rules_are_enforced() {
    let s = server();
    for name in [
        String::new(),
        "a".repeat(65),
        "ali:ce".into(),
        "ali\nce".into(),
        "ali\u{7f}ce".into(),
    ] {
        let body = serde_json::json!({"username": name, "password": PASSWORD}).to_string();
        let (status, answer) = json(post_json(&s, &body));
        assert_eq!(status, Status::UnprocessableEntity, "{name:?}");
        assert!(answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("username"));
    }
    // 64 characters (not bytes) is fine.
    s.signup(&"é".repeat(64));
}

#[test]
fn short_password_is_refused() {
    let s = server();
    let (status, body) = json(post_json(
        &s,
        r#"{"username":"alice","password":"1234567"}"#,
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("password"));
}

#[test]
fn passwords_past_72_bytes_are_refused_not_truncated() {
    let s = server();
    let long = "p".repeat(73);
    let body = serde_json::json!({"username": "alice", "password": long}).to_string();
    let (status, answer) = json(post_json(&s, &body));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(answer["error"]
        .as_str()
        .unwrap_or_default()
        .contains("72 bytes"));
    // 25 three-byte characters = 75 bytes: refused too.
    let body = serde_json::json!({"username": "alice", "password": "€".repeat(25)}).to_string();
    assert_eq!(post_json(&s, &body).status(), Status::UnprocessableEntity);
    // Exactly 72 bytes works, and every byte counts at signin.
    let exact = "q".repeat(72);
    let body = serde_json::json!({"username": "bob", "password": exact}).to_string();
    assert_eq!(post_json(&s, &body).status(), Status::Created);
    assert_eq!(s.signin("bob", &exact).status(), Status::Ok);
    let mut changed = exact.clone();
    changed.replace_range(71.., "r");
    assert_eq!(s.signin("bob", &changed).status(), Status::Unauthorized);
    assert_eq!(
        s.signin("bob", &format!("{exact}extra")).status(),
        Status::Unauthorized
    );
}

#[test]
fn oversized_body_is_413() {
    let s = server();
    let body = serde_json::json!({"username": "a".repeat(10_000), "password": PASSWORD});
    assert_error(
        post_json(&s, &body.to_string()),
        Status::PayloadTooLarge,
        "request body too large",
    );
}

#[test]
fn non_utf8_body_is_400() {
    let s = server();
    let response = s
        .client
        .post("/signup")
        .header(ContentType::JSON)
        .body(b"{\"username\":\"\xff\xfe\",\"password\":\"correct horse\"}".as_slice())
        .dispatch();
    let (status, body) = json(response);
    assert_eq!(status, Status::BadRequest);
    assert!(body["error"].is_string());
}

#[test]
fn other_content_types_are_415() {
    let s = server();
    let response = s
        .client
        .post("/signup")
        .header(ContentType::Plain)
        .body("username=alice")
        .dispatch();
    assert_eq!(response.status(), Status::UnsupportedMediaType);
    assert!(json(response).1["error"].is_string());
}

#[test]
fn hashes_are_bcrypt_at_the_configured_cost() {
    use diesel::prelude::*;
    let s = server_with(|c| c.bcrypt_cost = 5);
    s.signup("alice");
    let app = s
        .client
        .rocket()
        .state::<std::sync::Arc<bearer_auth::App>>()
        .expect("app state");
    let mut conn = app.db.pool().get().expect("connection");
    let hash: String = bearer_auth::db::schema::users::table
        .select(bearer_auth::db::schema::users::password_hash)
        .first(&mut *conn)
        .expect("one user");
    assert!(hash.starts_with("$2b$05$"), "{hash}");
}

/// JSON as strict as forms: a field given twice is refused, not decided by
/// whichever value comes last.
#[test]
fn signup_json_with_a_field_twice_is_422() {
    let s = server();
    let response = s
        .client
        .post("/signup")
        .header(ContentType::JSON)
        .body(r#"{"username":"bob","username":"eve","password":"correct horse"}"#)
        .dispatch();
    assert_error(
        response,
        Status::UnprocessableEntity,
        "field `username` is given more than once",
    );
    assert_eq!(
        json(s.get("/users", &s.token("carol"))).1,
        serde_json::json!(["carol"])
    );
}

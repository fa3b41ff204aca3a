use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwe::{Dir, JweHeader};
use rocket::http::Status;

use crate::common::*;

fn encrypted_server() -> TestServer {
    server_with(|c| c.token_encryption_key = Some(encryption_key()))
}

#[test]
fn tokens_are_compact_jwe_dir_a256gcm() {
    let s = encrypted_server();
    let token = s.token("alice");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5);
    assert_eq!(parts[1], "", "dir has no encrypted key");
    assert_eq!(
        URL_SAFE_NO_PAD.decode(parts[2]).map(|iv| iv.len()).ok(),
        Some(12)
    );
    assert_eq!(
        URL_SAFE_NO_PAD.decode(parts[4]).map(|t| t.len()).ok(),
        Some(16)
    );
    let header = segment(&token, 0);
    assert_eq!(header["alg"], "dir");
    assert_eq!(header["enc"], "A256GCM");
    assert_eq!(header["cty"], "JWT");
    assert_eq!(s.get("/secret", &token).status(), Status::Ok);
    // Fresh IV per token.
    let again = token_of(&json(s.signin("alice", PASSWORD)).1);
    assert_ne!(again.split('.').nth(2), token.split('.').nth(2));
}

/// An independent JOSE implementation (josekit, on OpenSSL) decrypts our
/// tokens, and our server accepts the tokens it encrypts.
#[test]
fn interoperates_with_another_jose_library() {
    let s = encrypted_server();
    let token = s.token("alice");
    let decrypter = Dir
        .decrypter_from_bytes(encryption_key())
        .expect("decrypter");
    let (plaintext, header) =
        josekit::jwe::deserialize_compact(&token, &decrypter).expect("josekit decrypts");
    assert_eq!(header.content_type(), Some("JWT"));
    let signed = String::from_utf8(plaintext).expect("utf-8");
    assert_eq!(signed.split('.').count(), 3);
    assert_eq!(segment(&signed, 1)["iss"], "bearer-auth");

    // Re-encrypt the signed JWT with josekit: the server takes it.
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    header.set_content_type("JWT");
    let encrypter = Dir
        .encrypter_from_bytes(encryption_key())
        .expect("encrypter");
    let theirs =
        josekit::jwe::serialize_compact(signed.as_bytes(), &header, &encrypter).expect("encrypt");
    assert_eq!(s.get("/secret", &theirs).status(), Status::Ok);

    // The same with another key is refused.
    let wrong = Dir
        .encrypter_from_bytes(*b"ffffffffffffffffffffffffffffffff")
        .expect("encrypter");
    let theirs =
        josekit::jwe::serialize_compact(signed.as_bytes(), &header, &wrong).expect("encrypt");
    assert_invalid_token(s.get("/secret", &theirs));
}

#[test]
fn signed_only_tokens_are_refused_while_encryption_is_on() {
    let s = encrypted_server();
    let token = s.token("alice");
    let decrypter = Dir
        .decrypter_from_bytes(encryption_key())
        .expect("decrypter");
    let (plaintext, _) = josekit::jwe::deserialize_compact(&token, &decrypter).expect("decrypt");
    let signed = String::from_utf8(plaintext).expect("utf-8");
    assert_invalid_token(s.get("/secret", &signed));
}

#[test]
fn tampered_or_truncated_jwe_is_refused() {
    let s = encrypted_server();
    let token = s.token("alice");
    let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let flip = |segment: &str| {
        let mut bytes = URL_SAFE_NO_PAD.decode(segment).expect("b64");
        bytes[0] ^= 1;
        URL_SAFE_NO_PAD.encode(bytes)
    };
    for index in [0, 2, 3, 4] {
        let mut tampered = parts.clone();
        tampered[index] = flip(&parts[index]);
        assert_invalid_token(s.get("/secret", &tampered.join(".")));
    }
    assert_invalid_token(s.get("/secret", &token[..token.len() - 4]));
    assert_invalid_token(s.get("/secret", &parts[..4].join(".")));
    // A header that names another algorithm.
    let mut other = parts.clone();
    other[0] = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A128GCM","cty":"JWT"}"#);
    assert_invalid_token(s.get("/secret", &other.join(".")));
}

#[test]
fn encrypted_tokens_are_refused_when_encryption_is_off() {
    let on = encrypted_server();
    let token = on.token("alice");
    let off = server();
    off.signup("alice");
    assert_invalid_token(off.get("/secret", &token));
}

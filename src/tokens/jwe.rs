//! JWE compact serialization (RFC 7516) with `"alg":"dir"` and
//! `"enc":"A256GCM"` (RFC 7518 sections 4.5 and 5.3): the signed JWT is the
//! plaintext, the protected header is the additional authenticated data.
//! The cipher is the `aes-gcm` crate; nothing here is home-made crypto.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use super::Refusal;
use crate::error::ApiError;

/// The protected header of every token this server makes.
const HEADER: &str = r#"{"alg":"dir","enc":"A256GCM","cty":"JWT"}"#;
const IV_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

pub struct Jwe {
    cipher: Aes256Gcm,
    header_b64: String,
}

impl Jwe {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
            header_b64: URL_SAFE_NO_PAD.encode(HEADER),
        }
    }

    /// Encrypts `plaintext` with a fresh random 96-bit IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, ApiError> {
        self.seal(&self.header_b64, plaintext)
    }

    /// Encrypts `plaintext` under the protected header `header_b64`.
    fn seal(&self, header_b64: &str, plaintext: &[u8]) -> Result<String, ApiError> {
        let mut iv = [0u8; IV_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: plaintext,
                    aad: header_b64.as_bytes(),
                },
            )
            .map_err(|_| ApiError::internal("token encryption", "AES-GCM failed"))?;
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_BYTES);
        Ok(format!(
            "{}..{}.{}.{}",
            header_b64,
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(ciphertext),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Decrypts a compact JWE made with this key by any conforming library.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, Refusal> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, encrypted_key, iv, ciphertext, tag] = parts.as_slice() else {
            return Err(Refusal::Malformed);
        };
        // `dir` has an empty encrypted key.
        if !encrypted_key.is_empty() {
            return Err(Refusal::Malformed);
        }
        let header = decode(header_b64)?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(|_| Refusal::Malformed)?;
        let field = |name: &str| header.get(name).and_then(|v| v.as_str());
        if field("alg") != Some("dir") || field("enc") != Some("A256GCM") {
            return Err(Refusal::Algorithm);
        }
        // No compression, no critical extensions this server does not know.
        if header.contains_key("zip") || header.contains_key("crit") {
            return Err(Refusal::Malformed);
        }
        // The plaintext is a JWT, and the header must say so (RFC 7519
        // section 5.2 for nested JWTs).
        if !field("cty").is_some_and(|cty| cty.eq_ignore_ascii_case("JWT")) {
            return Err(Refusal::Malformed);
        }
        let iv = decode(iv)?;
        let tag = decode(tag)?;
        if iv.len() != IV_BYTES || tag.len() != TAG_BYTES {
            return Err(Refusal::Malformed);
        }
        let mut sealed = decode(ciphertext)?;
        sealed.extend_from_slice(&tag);
        self.cipher
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &sealed,
                    aad: header_b64.as_bytes(),
                },
            )
            .map_err(|_| Refusal::Decryption)
    }
}

fn decode(segment: &str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Refusal::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let jwe = Jwe::new(&[1u8; 32]);
        let token = jwe.encrypt(b"a.b.c").unwrap_or_default();
        assert_eq!(jwe.decrypt(&token), Ok(b"a.b.c".to_vec()));
        let other = Jwe::new(&[2u8; 32]);
        assert_eq!(other.decrypt(&token), Err(Refusal::Decryption));
        let truncated = &token[..token.len() - 3];
        assert!(jwe.decrypt(truncated).is_err());
        // Two encryptions of one plaintext differ (fresh IV).
        assert_ne!(jwe.encrypt(b"x").ok(), jwe.encrypt(b"x").ok());
    }

    #[test]
    fn the_header_must_name_a_nested_jwt() {
        let jwe = Jwe::new(&[1u8; 32]);
        for header in [
            r#"{"alg":"dir","enc":"A256GCM"}"#,
            r#"{"alg":"dir","enc":"A256GCM","cty":"json"}"#,
        ] {
            let token = jwe
                .seal(&URL_SAFE_NO_PAD.encode(header), b"a.b.c")
                .expect("seal");
            assert_eq!(jwe.decrypt(&token), Err(Refusal::Malformed), "{header}");
        }
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256GCM","cty":"jwt"}"#);
        let token = jwe.seal(&header, b"a.b.c").expect("seal");
        assert_eq!(jwe.decrypt(&token), Ok(b"a.b.c".to_vec()));
    }
}

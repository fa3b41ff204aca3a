//! Access tokens: signed JWTs (HS256), optionally wrapped in a JWE.

pub mod jwe;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::ApiError;
use jwe::Jwe;

/// `iss` and `aud` of every token.
pub const ISSUER: &str = "bearer-auth";
pub const AUDIENCE: &str = "bearer-auth";
/// Seconds a token is still taken after its `exp`.
pub const LEEWAY: i64 = 2;
/// Longer tokens are refused unread.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// A fresh random identifier: 128 bits from the OS CSPRNG, base64url.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `value` has the shape of a [`random_id`]: 22 base64url characters.
pub fn is_random_id(value: &str) -> bool {
    value.len() == 22
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The claims of a token. Exactly one of `sub` and `sid` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// Whom a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user id (`sub`), when sessions are off.
    User(i64),
    /// A session id (`sid`), when sessions are on: no user data at all.
    Session(String),
}

/// A token just made.
#[derive(Clone)]
pub struct Issued {
    pub token: String,
    pub jti: String,
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for Issued {
    // The token is a credential: never in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused. Kept server-side (logs, metrics); the client only
/// ever sees `Invalid Login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooLong,
    Malformed,
    Algorithm,
    Signature,
    Claims,
    Expired,
    Decryption,
    NotEncrypted,
    Spent,
    UnknownUser,
    SessionEnded,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Malformed => "malformed",
            Self::Algorithm => "wrong_algorithm",
            Self::Signature => "bad_signature",
            Self::Claims => "bad_claims",
            Self::Expired => "expired",
            Self::Decryption => "decryption_failed",
            Self::NotEncrypted => "not_encrypted",
            Self::Spent => "spent",
            Self::UnknownUser => "unknown_user",
            Self::SessionEnded => "session_ended",
        }
    }
}

/// Issues and verifies tokens with the configured keys and rules.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: i64,
    sessions: bool,
    jwe: Option<Jwe>,
}

impl TokenService {
    pub fn new(config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["iss", "aud"]);
        // `exp` is checked in `verify` against the server's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
            validation,
            ttl: i64::try_from(config.token_ttl).unwrap_or(i64::MAX),
            sessions: config.sessions,
            jwe: config.token_encryption_key.as_ref().map(Jwe::new),
        }
    }

    /// Makes a token for `subject` at time `now`.
    pub fn issue(&self, subject: &Subject, now: i64) -> Result<Issued, ApiError> {
        let (sub, sid) = match subject {
            Subject::User(id) => (Some(id.to_string()), None),
            Subject::Session(id) => (None, Some(id.clone())),
        };
        let expires_at = (self.ttl > 0).then(|| now.saturating_add(self.ttl));
        let claims = Claims {
            sub,
            sid,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            jti: random_id(),
            exp: expires_at,
        };
        let signed = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal("token signing", e))?;
        let token = match &self.jwe {
            Some(jwe) => jwe.encrypt(signed.as_bytes())?,
            None => signed,
        };
        Ok(Issued {
            token,
            jti: claims.jti,
            expires_at,
        })
    }

    /// Checks a token's form, encryption, signature and claims at time `now`.
    /// It does not look at the database (spent tokens, sessions, users).
    pub fn verify(&self, token: &str, now: i64) -> Result<(Claims, Subject), Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLong);
        }
        let segments = token.split('.').count();
        let plaintext;
        let signed = match (&self.jwe, segments) {
            (Some(jwe), 5) => {
                plaintext = jwe.decrypt(token)?;
                std::str::from_utf8(&plaintext).map_err(|_| Refusal::Malformed)?
            }
            (Some(_), 3) => return Err(Refusal::NotEncrypted),
            (None, 3) => token,
            _ => return Err(Refusal::Malformed),
        };
        let claims = jsonwebtoken::decode::<Claims>(signed, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
                ErrorKind::InvalidSignature => Refusal::Signature,
                ErrorKind::InvalidIssuer
                | ErrorKind::InvalidAudience
                | ErrorKind::MissingRequiredClaim(_) => Refusal::Claims,
                _ => Refusal::Malformed,
            })?
            .claims;
        match claims.exp {
            Some(exp) if now > exp.saturating_add(LEEWAY) => return Err(Refusal::Expired),
            None if self.ttl > 0 => return Err(Refusal::Claims),
            _ => {}
        }
        if claims.iat > now.saturating_add(LEEWAY) {
            return Err(Refusal::Claims);
        }
        let subject = match (&claims.sub, &claims.sid, self.sessions) {
            (None, Some(sid), true) if !sid.is_empty() => Subject::Session(sid.clone()),
            (Some(sub), None, false) => {
                Subject::User(sub.parse::<i64>().map_err(|_| Refusal::Claims)?)
            }
            _ => return Err(Refusal::Claims),
        };
        Ok((claims, subject))
    }
}

//! Property tests: the header parsers and the token decoder never panic on
//! any input, and valid input round-trips.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bearer_auth::guards::basic::parse_basic;
use bearer_auth::guards::bearer::parse_bearer;
use bearer_auth::tokens::{Subject, TokenService};
use bearer_auth::Config;
use proptest::prelude::*;

fn service(encrypt: bool, sessions: bool) -> TokenService {
    let mut config = Config::for_tests(":memory:").expect("config");
    config.sessions = sessions;
    if encrypt {
        config.token_encryption_key = Some(crate::common::encryption_key());
    }
    TokenService::new(&config)
}

/// A username or password as RFC 7617 allows it: no control characters,
/// no colon in the user-id.
fn user_id() -> impl Strategy<Value = String> {
    "[^:\\p{Cc}]{1,40}"
}
fn password() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn basic_parser_never_panics(header in any::<String>()) {
        let _ = parse_basic(&header);
    }

    #[test]
    fn basic_parser_never_panics_on_base64_of_anything(bytes in any::<Vec<u8>>(), scheme in "[bB][aA][sS][iI][cC]") {
        let _ = parse_basic(&format!("{scheme} {}", STANDARD.encode(bytes)));
    }

    #[test]
    fn basic_round_trips(user in user_id(), pass in password(), scheme in "[bB][aA][sS][iI][cC]") {
        let header = format!("{scheme} {}", STANDARD.encode(format!("{user}:{pass}")));
        prop_assert_eq!(parse_basic(&header), Some((user, pass)));
    }

    #[test]
    fn bearer_parser_never_panics(header in any::<String>()) {
        let _ = parse_bearer(&header);
    }

    #[test]
    fn bearer_round_trips(token in "[A-Za-z0-9._~+/-]{1,200}=*", scheme in "[bB][eE][aA][rR][eE][rR]", spaces in " {1,3}") {
        let header = format!("{scheme}{spaces}{token}");
        prop_assert_eq!(parse_bearer(&header), Some(token.as_str()));
    }

    #[test]
    fn token_decoder_never_panics(token in any::<String>(), encrypt in any::<bool>(), sessions in any::<bool>()) {
        let _ = service(encrypt, sessions).verify(&token, 1_800_000_000);
    }

    #[test]
    fn token_decoder_never_panics_on_token_shapes(
        parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 0..7),
        encrypt in any::<bool>(),
    ) {
        let _ = service(encrypt, false).verify(&parts.join("."), 1_800_000_000);
    }

    #[test]
    fn tokens_round_trip(id in any::<i64>(), sid in "[A-Za-z0-9_-]{1,40}", encrypt in any::<bool>(), now in 0i64..4_000_000_000) {
        let users = service(encrypt, false);
        let issued = users.issue(&Subject::User(id), now).expect("issue");
        let (claims, subject) = users.verify(&issued.token, now).expect("verify");
        prop_assert_eq!(subject, Subject::User(id));
        prop_assert_eq!(claims.jti, issued.jti);

        let sessions = service(encrypt, true);
        let issued = sessions.issue(&Subject::Session(sid.clone()), now).expect("issue");
        let (_, subject) = sessions.verify(&issued.token, now + 899).expect("verify");
        prop_assert_eq!(subject, Subject::Session(sid));
        prop_assert!(sessions.verify(&issued.token, now + 900 + 10).is_err());
    }

    #[test]
    fn any_single_character_change_is_refused(id in 1i64..1000, position in any::<prop::sample::Index>(), encrypt in any::<bool>()) {
        let service = service(encrypt, false);
        let token = service.issue(&Subject::User(id), 1_800_000_000).expect("issue").token;
        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).expect("ascii");
        // Base64url padding bits can absorb a change of the last character;
        // anything else must be refused or decode to the same claims.
        if let Ok((_, subject)) = service.verify(&altered, 1_800_000_000) {
            prop_assert_eq!(subject, Subject::User(id));
            prop_assert_eq!(i, token.len() - 1);
        }
    }
}

//! Property tests for Basic and Bearer authentication: the right credentials and only those.

mod support;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use proptest::prelude::*;
use serde_json::json;

use crate::support::random_case;
use edgepay_core::auth::api_keys::{parse_authorization, AuthError, ClientRegistry, Credentials};

/// A key id and a secret as `API_CLIENTS` accepts them.
fn client() -> impl Strategy<Value = (String, String)> {
    ("[A-Za-z0-9_-]{1,64}", "[!-~]{16,64}")
}

fn registry(clients: &[(String, String)]) -> ClientRegistry {
    let list: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, (key, secret))| json!({"key_id": key, "secret": secret, "tenant": format!("t{i}")}))
        .collect();
    ClientRegistry::from_json(&json!(list).to_string())
        .unwrap_or_else(|e| panic!("generated registry refused: {e}"))
}

fn basic(key: &str, secret: &str) -> String {
    format!("Basic {}", B64.encode(format!("{key}:{secret}")))
}

/// Two distinct clients (distinct key ids).
fn two_clients() -> impl Strategy<Value = Vec<(String, String)>> {
    (client(), client())
        .prop_filter("distinct key ids", |(a, b)| a.0 != b.0)
        .prop_map(|(a, b)| vec![a, b])
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn any_header_parses_or_is_classified(header in proptest::option::of(any::<String>())) {
        match parse_authorization(header.as_deref()) {
            Ok(Credentials::Basic { key_id, secret }) => prop_assert!(!key_id.is_empty() && !secret.is_empty()),
            Ok(Credentials::Bearer { secret }) => prop_assert!(!secret.is_empty() && !secret.contains(char::is_whitespace)),
            Err(AuthError::Missing) => prop_assert!(header.as_deref().is_none_or(|h| h.trim().is_empty())),
            Err(_) => {}
        }
    }

    #[test]
    fn basic_credentials_round_trip(key in "[^:]{1,40}", secret in ".{1,60}", mask in any::<u64>(), pad in " {0,3}") {
        let scheme = random_case("basic", mask);
        let header = format!("{pad}{scheme} {pad}{}{pad}", B64.encode(format!("{key}:{secret}")));
        prop_assert_eq!(
            parse_authorization(Some(&header)),
            Ok(Credentials::Basic { key_id: key, secret })
        );
    }

    #[test]
    fn the_right_basic_or_bearer_credentials_find_their_client(clients in two_clients(), which in 0usize..2) {
        let reg = registry(&clients);
        let (key, secret) = &clients[which];
        let found = reg.authenticate(Some(&basic(key, secret))).map(|c| c.tenant.clone());
        prop_assert_eq!(found, Ok(format!("t{which}")));
        // Bearer carries no key id: it finds the first client with that secret.
        let first_with_secret = clients.iter().position(|(_, s)| s == secret).unwrap_or(which);
        let found = reg.authenticate(Some(&format!("Bearer {secret}"))).map(|c| c.tenant.clone());
        prop_assert_eq!(found, Ok(format!("t{first_with_secret}")));
    }

    #[test]
    fn any_single_byte_change_in_the_credentials_fails(
        (key, secret) in client(),
        at in any::<prop::sample::Index>(),
        to in 0x21u8..0x7f,
        in_secret in any::<bool>(),
    ) {
        let reg = registry(&[(key.clone(), secret.clone())]);
        let mut bytes = if in_secret { secret.clone().into_bytes() } else { key.clone().into_bytes() };
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        let changed = String::from_utf8(bytes).unwrap_or_default();
        let (k, s) = if in_secret { (key.as_str(), changed.as_str()) } else { (changed.as_str(), secret.as_str()) };
        let header = basic(k, s);
        prop_assert!(reg.authenticate(Some(&header)).is_err(), "{}:{} authenticated", k, s);
        if in_secret {
            let bearer = format!("Bearer {s}");
            prop_assert!(reg.authenticate(Some(&bearer)).is_err(), "{}", bearer);
        }
    }

    #[test]
    fn any_single_byte_change_in_the_encoded_header_fails(
        (key, secret) in client(),
        at in any::<prop::sample::Index>(),
        to in any::<u8>(),
    ) {
        let reg = registry(&[(key.clone(), secret.clone())]);
        let header = basic(&key, &secret);
        let encoded_start = "Basic ".len();
        let mut bytes = header.clone().into_bytes();
        let i = encoded_start + at.index(bytes.len() - encoded_start);
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        // A change that is not UTF-8 cannot even be a header value; it fails before parsing.
        if let Ok(changed) = String::from_utf8(bytes) {
            prop_assert!(reg.authenticate(Some(&changed)).is_err(), "{} authenticated", changed);
        }
    }

    #[test]
    fn the_registry_never_panics_and_never_echoes_a_secret(raw in any::<String>(), secret in "[!-~]{16,30}") {
        let _ = ClientRegistry::from_json(&raw);
        let bad = json!([{"key_id": "a b", "secret": secret, "tenant": "t"}]).to_string();
        let err = ClientRegistry::from_json(&bad).err().unwrap_or_default();
        prop_assert!(!err.is_empty() && !err.contains(&secret), "{}", err);
    }
}

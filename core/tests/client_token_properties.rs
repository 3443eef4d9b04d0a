//! Property tests for client tokens: any text is refused without a panic, minted grants round-trip, and any change to a signed token is refused.

mod support;

use proptest::prelude::*;

use edgepay_core::auth::client_token::{MintRequest, TokenAuthority, TokenError};
use edgepay_core::auth::tenants::Tenants;

const NOW: u64 = 1_800_000_000;

fn authority() -> TokenAuthority {
    Tenants::from_json(Some(
        r#"[{"tenant": "t", "client_tokens": {"mint_secret": "mint-secret-mint-secret-mint-secret!",
            "issuers": [{"iss": "https://shop.example.com", "alg": "HS256",
                         "secret": "an-hs256-issuer-secret-of-32-bytes!!"}]}}]"#,
    ))
    .unwrap_or_else(|e| panic!("{e}"))
    .tokens
}

fn mint_request() -> impl Strategy<Value = MintRequest> {
    (
        proptest::option::of("[\\p{L}\\p{N} @._:|-]{1,40}"),
        proptest::option::of(prop_oneof![
            Just("payments:create".to_owned()),
            Just("payments:read".to_owned()),
            Just("payments:read payments:create".to_owned()),
        ]),
        proptest::option::of("[A-Za-z0-9._~-]{1,20}"),
        proptest::option::of(1u64..=900),
    )
        .prop_map(|(sub, scope, item, ttl_secs)| MintRequest {
            sub,
            scope,
            item,
            ttl_secs,
            ..MintRequest::default()
        })
}

proptest! {
    #[test]
    fn any_text_is_refused_without_a_panic(text in "\\PC{0,300}") {
        prop_assert!(authority().verify_hmac_token(&text, NOW).is_err());
        let jwt_like = format!("eyJ{text}.{text}.{text}");
        prop_assert!(authority().verify_hmac_token(&jwt_like, NOW).is_err());
    }

    #[test]
    fn minted_grants_round_trip(request in mint_request(), id in "[a-f0-9]{8}") {
        let a = authority();
        if request.item.as_deref().is_some_and(|i| i == "." || i == "..") {
            return Ok(());
        }
        let (token, exp) = a.mint("t", &request, NOW, &id).unwrap_or_else(|e| panic!("{e:?}"));
        let grant = a.verify_hmac_token(&token, NOW).unwrap_or_else(|e| panic!("{e:?}"));
        prop_assert_eq!(grant.tenant.as_str(), "t");
        prop_assert_eq!(grant.expires_at, exp);
        prop_assert_eq!(grant.item.as_deref(), request.item.as_deref());
        let scope = request.scope.clone().unwrap_or_else(|| "payments:create payments:read".into());
        prop_assert_eq!(grant.can_pay, scope.contains("payments:create"));
        prop_assert_eq!(grant.can_read, scope.contains("payments:read"));
        let sub = request.sub.clone().unwrap_or_else(|| format!("client_{id}"));
        let suffix = format!("{}{sub}", '\u{1f}');
        prop_assert!(grant.principal.ends_with(&suffix));
        // After its lifetime and leeway, it is expired.
        prop_assert_eq!(a.verify_hmac_token(&token, exp + 31), Err(TokenError::Expired));
    }

    #[test]
    fn any_changed_character_is_refused(request in mint_request(), at in any::<prop::sample::Index>(), to in "[A-Za-z0-9_.-]") {
        let a = authority();
        if request.item.as_deref().is_some_and(|i| i == "." || i == "..") {
            return Ok(());
        }
        let (token, _) = a.mint("t", &request, NOW, "x").unwrap_or_else(|e| panic!("{e:?}"));
        let i = at.index(token.len());
        let mut changed = token.clone();
        changed.replace_range(i..=i, &to);
        prop_assume!(changed != token);
        // Base64url has several spellings of the last character's spare bits; those decode to
        // the same bytes and are the same token.
        let same_bytes = |t: &str| -> Vec<Vec<u8>> {
            use base64::Engine;
            t.split('.')
                .map(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap_or_default())
                .collect()
        };
        prop_assume!(same_bytes(&changed) != same_bytes(&token));
        prop_assert!(a.verify_hmac_token(&changed, NOW).is_err(), "{changed}");
    }
}

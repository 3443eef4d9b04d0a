//! Fuzzes client-token verification (any bytes as a bearer token) and the `TENANTS` parser.
#![no_main]

use std::sync::OnceLock;

use edgepay_core::auth::client_token::MintRequest;
use edgepay_core::auth::tenants::Tenants;
use libfuzzer_sys::fuzz_target;

const TENANTS: &str = r#"[{"tenant": "t", "allowed_origins": ["https://shop.example.com"],
    "client_tokens": {"mint_secret": "mint-secret-mint-secret-mint-secret!",
      "issuers": [{"iss": "https://shop.example.com", "aud": "edgepay", "alg": "HS256",
                   "secret": "an-hs256-issuer-secret-of-32-bytes!!"}]}}]"#;
const NOW: u64 = 1_800_000_000;

fn tenants() -> &'static Tenants {
    static TENANTS_PARSED: OnceLock<Tenants> = OnceLock::new();
    TENANTS_PARSED.get_or_init(|| Tenants::from_json(Some(TENANTS)).unwrap_or_else(|e| panic!("{e}")))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let tokens = &tenants().tokens;
    // Random bytes never verify; a grant only comes from a token signed with a configured key.
    if let Ok(grant) = tokens.verify_hmac_token(&text, NOW) {
        assert_eq!(grant.tenant, "t");
        assert!(
            grant.principal.starts_with("edgepay:t\u{1f}")
                || grant.principal.starts_with("https://shop.example.com\u{1f}"),
            "{grant:?}"
        );
        assert!(grant.expires_at > NOW.saturating_sub(60));
    }
    // Minting never panics, whatever is asked for.
    if let Ok(request) = serde_json::from_slice::<MintRequest>(data) {
        if let Ok((token, _)) = tokens.mint("t", &request, NOW, "fuzz") {
            assert!(tokens.verify_hmac_token(&token, NOW).is_ok(), "{token}");
        }
    }
    if let Ok(parsed) = Tenants::from_json(Some(&text)) {
        let _ = parsed.tokens.verify_hmac_token("eyJhbGciOiJIUzI1NiJ9.e30.x", NOW);
        let _ = parsed.any_allows("https://shop.example.com");
    }
});

//! Fuzzes `Authorization` (Basic, Bearer) against a registry, and the `API_CLIENTS` parser.
#![no_main]

use std::sync::OnceLock;

use edgepay_core::auth::api_keys::{parse_authorization, ClientRegistry, Credentials};
use libfuzzer_sys::fuzz_target;

const CLIENTS: &str = r#"[
    {"key_id": "shop_a", "secret": "sk_test_aaaaaaaaaaaaaaaa", "tenant": "tenant-a"},
    {"key_id": "shop_b", "secret": "sk_test_bbbbbbbbbbbbbbbb", "tenant": "tenant-b"}
]"#;

fn registry() -> &'static ClientRegistry {
    static REGISTRY: OnceLock<ClientRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| ClientRegistry::from_json(CLIENTS).unwrap_or_else(|e| panic!("{e}")))
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let parsed = parse_authorization(Some(&header));
    if let Ok(client) = registry().authenticate(Some(&header)) {
        // Only the configured credentials get in.
        let expected = match parsed {
            Ok(Credentials::Basic { key_id, secret }) => format!("{key_id}:{secret}"),
            Ok(Credentials::Bearer { secret }) => format!("{}:{secret}", client.key_id),
            Err(e) => panic!("authenticated an unparsable header: {e:?}"),
        };
        let secret = if client.key_id == "shop_a" {
            "sk_test_aaaaaaaaaaaaaaaa"
        } else {
            "sk_test_bbbbbbbbbbbbbbbb"
        };
        assert_eq!(expected, format!("{}:{secret}", client.key_id));
    }
    if let Ok(reg) = ClientRegistry::from_json(&header) {
        let _ = reg.authenticate(Some("Bearer sk_test_aaaaaaaaaaaaaaaa"));
    }
});

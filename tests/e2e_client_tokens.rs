//! End-to-end tests of client tokens and CORS: minting, scoped grants, the refused-token matrix in both dialects, issuers' own tokens (ServiceStack HS256, RS256 through WebCrypto), preflights.

mod support;

use std::process::Command;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// An HS256 signing key from bytes.
fn hmac_key(bytes: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(bytes).expect("any HS256 key")
}
use serde_json::{json, Value};
use support::gateway::Gateway;
use support::*;

/// The shop's page origin (tenant A allows it) and another tenant's (only tenant B allows it).
const SHOP_ORIGIN: &str = "https://shop-a.example.com";
const OTHER_ORIGIN: &str = "https://shop-b.example.com";
const SHOP_ISSUER: &str = "https://auth.shop-a.example.com";
const SHOP_SECRET: &str = "shop-a-issuer-secret-0123456789abcdef";
/// A ServiceStack `JwtAuthProvider` AuthKey (`AuthKeyBase64`): 32 random bytes.
const SS_AUTH_KEY_BASE64: &str = "3Tr5n4cpVuaQDUcbpVQoJoQ1Gm2gvwf3RHYjdSPHI0A=";
/// Tenant B's own AuthKey for the same ServiceStack issuer `ssjwt`.
const SS_AUTH_KEY_B_BASE64: &str = "vBPqEM9Ke0/5WA1+WkroRzURpJ+MskiD75MNQUpP5gM=";
/// An identity provider both tenants trust with one key, each bound to its own audience.
const SHARED_IDP: &str = "https://idp.shared.example.com";
const SHARED_IDP_SECRET: &str = "shared-idp-secret-0123456789abcdefgh";
const RSA_ISSUER: &str = "https://rsa.shop-a.example.com";
const EC_ISSUER: &str = "https://ec.shop-a.example.com";
const ED_ISSUER: &str = "https://ed.shop-a.example.com";
const MINT_A: &str = "mint-secret-tenant-a-0123456789abcdef";
const MINT_B: &str = "mint-secret-tenant-b-0123456789abcdef";
const NEVER: &str = "deadbeef-0000-4000-8000-000000000000";

struct Harness {
    gateway: Gateway,
    /// The RS256 issuer's private key (PEM), made by openssl for this run.
    rsa_private_pem: Vec<u8>,
    /// Its public key as PEM bytes (the algorithm-confusion case signs HS256 with them).
    rsa_public_pem: Vec<u8>,
    /// The ES256 (P-256) and EdDSA (Ed25519) issuers' private keys (PEM).
    ec_private_pem: Vec<u8>,
    ed_private_pem: Vec<u8>,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (make test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh RS256 key pair, and its public key as a JWK.
fn rsa_issuer_key() -> (Vec<u8>, Vec<u8>, Value) {
    let dir = std::env::temp_dir().join(format!("edgepay-rsa-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = dir.join("key.pem");
    let key = key.to_string_lossy();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &key,
    ]);
    let private_pem = std::fs::read(&*key).expect("key");
    let public_pem = openssl(&["pkey", "-in", &key, "-pubout"]);
    let modulus =
        String::from_utf8(openssl(&["rsa", "-in", &key, "-noout", "-modulus"])).expect("utf8");
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let jwk =
        json!({"kty": "RSA", "n": B64URL.encode(bytes), "e": "AQAB", "alg": "RS256", "use": "sig"});
    (private_pem, public_pem, jwk)
}

/// A fresh P-256 or Ed25519 key made by openssl: its private PEM and its public JWK.
fn curve_issuer_key(algorithm: &str) -> (Vec<u8>, Value) {
    let dir = std::env::temp_dir().join(format!(
        "edgepay-{algorithm}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = dir.join("key.pem");
    let key = key.to_string_lossy();
    if algorithm == "EC" {
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ]);
    } else {
        openssl(&["genpkey", "-algorithm", "ED25519", "-out", &key]);
    }
    let private_pem = std::fs::read(&*key).expect("key");
    // The public key's DER ends with the raw point: 04 || x || y (P-256), or 32 bytes (Ed25519).
    let der = openssl(&["pkey", "-in", &key, "-pubout", "-outform", "DER"]);
    let _ = std::fs::remove_dir_all(&dir);
    let jwk = if algorithm == "EC" {
        let point = &der[der.len() - 64..];
        json!({"kty": "EC", "crv": "P-256", "x": B64URL.encode(&point[..32]), "y": B64URL.encode(&point[32..])})
    } else {
        json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(&der[der.len() - 32..])})
    };
    (private_pem, jwk)
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let (rsa_private_pem, rsa_public_pem, jwk) = rsa_issuer_key();
        let (ec_private_pem, ec_jwk) = curve_issuer_key("EC");
        let (ed_private_pem, ed_jwk) = curve_issuer_key("ED25519");
        let tenants = json!([
            {"tenant": "tenant-a", "allowed_origins": [SHOP_ORIGIN],
             "client_tokens": {"mint_secret": MINT_A, "issuers": [
                {"iss": SHOP_ISSUER, "aud": "edgepay", "alg": "HS256", "secret": SHOP_SECRET},
                {"iss": "ssjwt", "alg": "HS256", "secret_base64": SS_AUTH_KEY_BASE64,
                 "max_lifetime_secs": 1_209_600},
                {"iss": RSA_ISSUER, "alg": "RS256", "jwk": jwk},
                {"iss": EC_ISSUER, "alg": "ES256", "jwk": ec_jwk},
                {"iss": ED_ISSUER, "alg": "EdDSA", "jwk": ed_jwk},
                {"iss": SHARED_IDP, "aud": "shop-a", "alg": "HS256", "secret": SHARED_IDP_SECRET},
             ]}},
            {"tenant": "tenant-b", "allowed_origins": [OTHER_ORIGIN],
             "client_tokens": {"mint_secret": MINT_B, "issuers": [
                {"iss": "ssjwt", "alg": "HS256", "secret_base64": SS_AUTH_KEY_B_BASE64,
                 "max_lifetime_secs": 1_209_600},
                {"iss": SHARED_IDP, "aud": "shop-b", "alg": "HS256", "secret": SHARED_IDP_SECRET},
             ]}},
        ]);
        let port = gateway::free_port();
        let vars = gateway_vars(
            &format!("http://127.0.0.1:{port}/sandbox"),
            &[
                ("SANDBOX_ENABLED", "true"),
                ("TENANTS", &tenants.to_string()),
            ],
        );
        Harness {
            gateway: Gateway::start_on(port, "client-tokens", vars),
            rsa_private_pem,
            rsa_public_pem,
            ec_private_pem,
            ed_private_pem,
        }
    })
}

fn base() -> &'static str {
    &harness().gateway.base
}

fn now() -> u64 {
    support::signing::now_secs()
}

fn sign(alg: Algorithm, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).expect("sign")
}

fn shop_token(claims: Value) -> String {
    sign(Algorithm::HS256, &claims, &hmac_key(SHOP_SECRET.as_bytes()))
}

fn shop_claims(item: &str) -> Value {
    json!({"iss": SHOP_ISSUER, "aud": "edgepay", "sub": "shopper-1", "iat": now(),
           "exp": now() + 600, "item": item})
}

async fn mint(tenant_key: (&str, &str), body: &Value) -> Reply {
    Call::new("POST", format!("{}/client-tokens", base()))
        .header("authorization", &basic(tenant_key.0, tenant_key.1))
        .json(body)
        .send()
        .await
}

async fn minted(body: &Value) -> String {
    let reply = mint((TENANT_A_KEY, TENANT_A_SECRET), body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["token"].as_str().unwrap_or_default().to_owned()
}

fn zai_pay(item: &str, token: &str) -> Call {
    make_payment(base(), item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .header("authorization", &format!("Bearer {token}"))
}

fn ss_pay(payment_id: &str, token: &str) -> Call {
    Call::new("POST", format!("{}/api/MakePaymentRequest", base()))
        .header("authorization", &format!("Bearer {token}"))
        .json(&json!({"paymentId": payment_id, "paymentMethod": {"token": NEVER}, "clientType": "Web"}))
        .header("prefer", "respond-async")
}

#[tokio::test]
async fn a_minted_token_pays_its_item_and_reads_only_its_own_payments() {
    let item = unique("tok-item");
    let reply = mint(
        (TENANT_A_KEY, TENANT_A_SECRET),
        &json!({"item": item, "ttl_secs": 300}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], 300);
    assert!(reply.json["expires_at"].is_string());
    let token = reply.json["token"].as_str().unwrap_or_default().to_owned();

    let paid = zai_pay(&item, &token).send().await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let status_link = paid
        .header("content-location")
        .unwrap_or_default()
        .to_owned();
    let own = Call::new("GET", &status_link)
        .header("authorization", &format!("Bearer {token}"))
        .send()
        .await;
    assert_eq!(own.status, 200, "{}", own.text);

    // Another item: 403 with RFC 6750's insufficient_scope.
    let other = zai_pay(&unique("tok-other"), &token).send().await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert_eq!(other.json["code"], "insufficient_scope");
    assert!(other
        .header("www-authenticate")
        .is_some_and(|h| h.contains("error=\"insufficient_scope\"")));

    // A request the server made is invisible to the token (404, as another tenant's).
    let server = make_payment(
        base(),
        &unique("srv"),
        &json!({"account_id": ACCOUNT, "wait": 5}),
    )
    .send()
    .await;
    assert_eq!(server.status, 200);
    let server_link = server
        .header("content-location")
        .unwrap_or_default()
        .to_owned();
    let hidden = Call::new("GET", &server_link)
        .header("authorization", &format!("Bearer {token}"))
        .send()
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);

    // Server routes refuse client tokens.
    let request_id = status_link
        .trim_end_matches("/status")
        .rsplit('/')
        .next()
        .unwrap_or_default();
    for (method, path) in [
        ("GET", format!("/request/{request_id}/callbacks")),
        ("POST", format!("/request/{request_id}/callbacks/replay")),
        ("POST", "/client-tokens".to_owned()),
    ] {
        let refused = Call::new(method, format!("{}{path}", base()))
            .header("authorization", &format!("Bearer {token}"))
            .send()
            .await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text);
    }
}

#[tokio::test]
async fn a_token_asks_only_for_the_callback_it_names() {
    let item = unique("tok-cb");
    let callback = "https://hooks.shop-a.example.com/paid/{item}";
    let token = minted(&json!({"item": item, "callback": callback})).await;
    let other = make_payment(
        base(),
        &item,
        &json!({"account_id": NEVER, "callback": "https://evil.example.net/x"}),
    )
    .header("authorization", &format!("Bearer {token}"))
    .send()
    .await;
    assert_eq!(other.status, 403, "{}", other.text);
    let named = make_payment(
        base(),
        &item,
        &json!({"account_id": NEVER, "callback": callback}),
    )
    .header("authorization", &format!("Bearer {token}"))
    .send()
    .await;
    assert_eq!(named.status, 202, "{}", named.text);
    assert!(named.json["links"]["callbacks"].is_string());
}

#[tokio::test]
async fn minting_refuses_bad_requests_naming_the_field() {
    for (body, field) in [
        (json!({"ttl_secs": 100_000}), "ttl_secs"),
        (json!({"scope": "admin"}), "scope"),
        (json!({"item": "not an item!"}), "item"),
        (json!({"payment_id": "nope"}), "payment_id"),
        (json!({"colour": "red"}), "body"),
    ] {
        let reply = mint((TENANT_A_KEY, TENANT_A_SECRET), &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.json["errors"][0]["field"], field, "{body}");
    }
    let unauthenticated = Call::new("POST", format!("{}/client-tokens", base()))
        .without("authorization")
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(unauthenticated.status, 401);
}

/// Every refused token of the matrix, by name.
fn refused_tokens(item: &str) -> Vec<(&'static str, String)> {
    let h = harness();
    let mut cases = Vec::new();
    let none = format!(
        "{}.{}.",
        B64URL.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        B64URL.encode(shop_claims(item).to_string())
    );
    cases.push(("alg none", none));
    // HS256 keyed with the RS256 issuer's public key: the algorithm-confusion attack.
    let mut confused = shop_claims(item);
    confused["iss"] = json!(RSA_ISSUER);
    cases.push((
        "HS256 with the RS256 public key",
        sign(Algorithm::HS256, &confused, &hmac_key(&h.rsa_public_pem)),
    ));
    cases.push((
        "wrong key",
        sign(
            Algorithm::HS256,
            &shop_claims(item),
            &hmac_key(b"not-the-shop-secret-0123456789abcdef"),
        ),
    ));
    let mut expired = shop_claims(item);
    expired["exp"] = json!(now() - 120);
    expired["iat"] = json!(now() - 700);
    cases.push(("expired", shop_token(expired)));
    let mut early = shop_claims(item);
    early["nbf"] = json!(now() + 300);
    cases.push(("nbf in the future", shop_token(early)));
    let mut iss = shop_claims(item);
    iss["iss"] = json!("https://elsewhere.example");
    cases.push(("wrong iss", shop_token(iss)));
    let mut aud = shop_claims(item);
    aud["aud"] = json!("another-api");
    cases.push(("wrong aud", shop_token(aud)));
    let mut long = shop_claims(item);
    long["exp"] = json!(now() + 7 * 24 * 3600);
    cases.push(("lifetime over the cap", shop_token(long)));
    let good = shop_token(shop_claims(item));
    let parts: Vec<&str> = good.split('.').collect();
    let mut tampered = shop_claims(item);
    tampered["sub"] = json!("someone-else");
    cases.push((
        "tampered payload",
        format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(tampered.to_string()),
            parts[2]
        ),
    ));
    cases.push(("truncated", good[..good.len() - 12].to_owned()));
    cases.push((
        "64 KiB",
        format!("{}.{}.{}", parts[0], "A".repeat(64 * 1024), parts[2]),
    ));
    let duplicate = format!(
        r#"{{"iss":"{SHOP_ISSUER}","aud":"edgepay","sub":"s","exp":{},"item":"{item}","item":"other"}}"#,
        now() + 600
    );
    let header = B64URL.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let payload = B64URL.encode(duplicate);
    let signature = {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(SHOP_SECRET.as_bytes()).expect("key");
        mac.update(format!("{header}.{payload}").as_bytes());
        B64URL.encode(mac.finalize().into_bytes())
    };
    cases.push((
        "duplicate claims",
        format!("{header}.{payload}.{signature}"),
    ));
    cases
}

/// The challenge of every refused Bearer credential: RFC 6750's `invalid_token`, beside the
/// Basic challenge every `401` carries.
const BEARER_REFUSED: &str =
    r#"Basic realm="edgepay", charset="UTF-8", Bearer realm="edgepay", error="invalid_token""#;

#[tokio::test]
async fn a_bearer_value_that_is_neither_a_server_secret_nor_a_token_is_invalid_token() {
    for value in [
        "not-a-jwt-and-not-a-secret",
        "eyJhbGciOiJIUzI1NiJ9.e30",
        "a.b.c",
    ] {
        let zai = make_payment(
            base(),
            &unique("tok-garbage"),
            &json!({"account_id": NEVER}),
        )
        .header("authorization", &format!("Bearer {value}"))
        .send()
        .await;
        assert_eq!(zai.status, 401, "{value}: {}", zai.text);
        assert_eq!(
            zai.header("www-authenticate"),
            Some(BEARER_REFUSED),
            "{value}"
        );
        let ss = ss_pay(&uuid::Uuid::new_v4().to_string(), value)
            .send()
            .await;
        assert_eq!(ss.status, 401, "{value}: {}", ss.text);
        assert_eq!(
            ss.header("www-authenticate"),
            Some(BEARER_REFUSED),
            "{value}"
        );
    }
}

#[tokio::test]
async fn every_refused_token_is_401_invalid_token_in_both_dialects_and_stores_nothing() {
    let item = unique("tok-matrix");
    let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    for (name, token) in refused_tokens(&item) {
        let zai = make_payment(base(), &item, &json!({"account_id": NEVER}))
            .header("authorization", &format!("Bearer {token}"))
            .send()
            .await;
        assert_eq!(zai.status, 401, "{name} (Zai): {}", zai.text);
        assert_eq!(zai.json["code"], "invalid_token", "{name}");
        assert_eq!(
            zai.header("www-authenticate"),
            Some(BEARER_REFUSED),
            "{name}"
        );
        // Which check failed is not said.
        assert_eq!(
            zai.json["detail"], "the client token is not valid",
            "{name}"
        );
        let ss = ss_pay(&payment_id, &token).send().await;
        assert_eq!(ss.status, 401, "{name} (ServiceStack): {}", ss.text);
        assert_eq!(
            ss.json["responseStatus"]["errorCode"], "Unauthorized",
            "{name}"
        );
        assert_eq!(
            ss.json["responseStatus"]["message"], "Not Authenticated",
            "{name}"
        );
    }
    // Nothing was stored: the item and the paymentId are free for a payment that never ends.
    let zai = make_payment(base(), &item, &json!({"account_id": NEVER}))
        .send()
        .await;
    assert_eq!(zai.status, 202, "{}", zai.text);
    let ss = Call::new("POST", format!("{}/api/MakePaymentRequest", base()))
        .json(&json!({"paymentId": payment_id, "paymentMethod": {"token": NEVER}, "clientType": "Web"}))
        .header("prefer", "respond-async")
        .send()
        .await;
    assert_eq!(ss.status, 202, "{}", ss.text);
}

#[tokio::test]
async fn another_tenants_token_sees_nothing_of_this_tenant() {
    let item = unique("tok-tenant");
    let server = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .send()
        .await;
    let link = server
        .header("content-location")
        .unwrap_or_default()
        .to_owned();
    let reply = mint((TENANT_B_KEY, TENANT_B_SECRET), &json!({})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let token_b = reply.json["token"].as_str().unwrap_or_default().to_owned();
    let read = Call::new("GET", &link)
        .header("authorization", &format!("Bearer {token_b}"))
        .send()
        .await;
    assert_eq!(read.status, 404, "{}", read.text);
}

#[tokio::test]
async fn a_token_bound_to_a_payment_id_pays_it_in_the_servicestack_dialect_and_nothing_else() {
    let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let token = minted(&json!({"payment_id": payment_id})).await;
    let paid = ss_pay(&payment_id, &token).send().await;
    assert_eq!(paid.status, 202, "{}", paid.text);
    let other = ss_pay(&uuid::Uuid::new_v4().to_string(), &token)
        .send()
        .await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert_eq!(other.json["responseStatus"]["errorCode"], "Forbidden");
    // Bound to a paymentId, it pays no Zai item.
    let zai = zai_pay(&unique("tok-zai"), &token).send().await;
    assert_eq!(zai.status, 403, "{}", zai.text);
}

#[tokio::test]
async fn a_servicestack_jwt_auth_provider_token_is_accepted_for_its_tenant() {
    // As ServiceStack's JwtAuthProvider writes it: HS256 keyed with AuthKey, iss "ssjwt",
    // sub the user id, and its own claims beside (name, roles, perms unrelated to edgepay).
    let key = base64::engine::general_purpose::STANDARD
        .decode(SS_AUTH_KEY_BASE64)
        .expect("base64");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("3Tr".to_owned());
    let claims = json!({
        "iss": "ssjwt", "sub": "1", "iat": now(), "exp": now() + 14 * 24 * 3600,
        "name": "Test User", "preferred_username": "test@shop-a.example.com",
        "email": "test@shop-a.example.com", "roles": ["Shopper"], "jti": "42"
    });
    let token = jsonwebtoken::encode(&header, &claims, &hmac_key(&key)).expect("sign");
    let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let paid = ss_pay(&payment_id, &token).send().await;
    assert_eq!(paid.status, 202, "{}", paid.text);
    // The same token, re-signed with another AuthKey, is refused.
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &hmac_key(b"another-authkey-another-authkey!"),
    )
    .expect("sign");
    let refused = ss_pay(&uuid::Uuid::new_v4().to_string(), &forged)
        .send()
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
}

#[tokio::test]
async fn an_rs256_issuer_token_is_verified_by_webcrypto() {
    let h = harness();
    let key = EncodingKey::from_rsa_pem(&h.rsa_private_pem).expect("rsa key");
    let item = unique("tok-rsa");
    let claims = json!({"iss": RSA_ISSUER, "sub": "app-user", "exp": now() + 600, "item": item});
    let token = sign(Algorithm::RS256, &claims, &key);
    let paid = zai_pay(&item, &token).send().await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    // One bit of the signature flipped.
    let (input, signature) = token.rsplit_once('.').expect("three parts");
    let mut bytes = B64URL.decode(signature).expect("signature");
    bytes[10] ^= 1;
    let broken = format!("{input}.{}", B64URL.encode(bytes));
    let refused = zai_pay(&unique("tok-rsa2"), &broken).send().await;
    assert_eq!(refused.status, 401, "{}", refused.text);
}

#[tokio::test]
async fn preflights_answer_allowed_origins_exactly_and_server_routes_never() {
    let item = unique("cors");
    let preflight = |origin: &str, path: String, method: &str| {
        Call::new("OPTIONS", format!("{}{path}", base()))
            .without("authorization")
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
    };
    for (path, method) in [
        (format!("/items/{item}/make_payment"), "PATCH"),
        ("/api/MakePaymentRequest".to_owned(), "POST"),
        (
            "/request/0123456789abcdef0123456789abcdef/status".to_owned(),
            "GET",
        ),
    ] {
        // Another tenant's origin passes the preflight: it carries no credentials.
        for origin in [SHOP_ORIGIN, OTHER_ORIGIN] {
            let reply = preflight(origin, path.clone(), method).send().await;
            assert_eq!(reply.status, 204, "{path} {origin}: {}", reply.text);
            assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
            assert_eq!(
                reply.header("access-control-allow-credentials"),
                Some("true")
            );
            assert!(reply
                .header("access-control-allow-methods")
                .is_some_and(|m| m.contains(method)));
            let allowed = reply
                .header("access-control-allow-headers")
                .unwrap_or_default();
            for h in [
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Prefer",
                "X-Request-Id",
            ] {
                assert!(allowed.contains(h), "{h} in {allowed}");
            }
            assert!(reply.header("access-control-max-age").is_some());
            assert_eq!(reply.header("vary"), Some("Origin"));
        }
        let unknown = preflight("https://evil.example.net", path.clone(), method)
            .send()
            .await;
        assert_eq!(
            unknown.header("access-control-allow-origin"),
            None,
            "{path}"
        );
    }
    for path in [
        "/client-tokens",
        "/request/0123456789abcdef0123456789abcdef/callbacks",
        "/internal/requests/0123456789abcdef0123456789abcdef/result",
    ] {
        let reply = preflight(SHOP_ORIGIN, path.to_owned(), "POST").send().await;
        assert_eq!(reply.status, 405, "{path}");
        assert_eq!(reply.header("access-control-allow-origin"), None, "{path}");
    }
}

#[tokio::test]
async fn a_real_request_is_held_to_its_own_tenants_origins() {
    let item = unique("cors-real");
    let allowed = make_payment(base(), &item, &json!({"account_id": ACCOUNT, "wait": 5}))
        .header("origin", SHOP_ORIGIN)
        .send()
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(SHOP_ORIGIN)
    );
    assert!(allowed
        .header("access-control-expose-headers")
        .is_some_and(|h| h.contains("Content-Location") && h.contains("X-Request-Id")));
    // Tenant B allows this origin, tenant A does not: refused before anything is stored.
    let other = unique("cors-other");
    let refused = make_payment(base(), &other, &json!({"account_id": NEVER}))
        .header("origin", OTHER_ORIGIN)
        .send()
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.json["code"], "origin_not_allowed");
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let free = make_payment(base(), &other, &json!({"account_id": NEVER}))
        .send()
        .await;
    assert_eq!(free.status, 202, "nothing was stored: {}", free.text);
    // A 401 is readable by any tenant's page, so the page can tell its user.
    let unauthenticated =
        make_payment(base(), &unique("cors-401"), &json!({"account_id": ACCOUNT}))
            .without("authorization")
            .header("origin", OTHER_ORIGIN)
            .send()
            .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(
        unauthenticated.header("access-control-allow-origin"),
        Some(OTHER_ORIGIN)
    );
    // Server routes never answer CORS.
    let log = Call::new(
        "GET",
        format!(
            "{}/request/0123456789abcdef0123456789abcdef/callbacks",
            base()
        ),
    )
    .header("origin", SHOP_ORIGIN)
    .send()
    .await;
    assert_eq!(log.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn es256_and_eddsa_issuer_tokens_are_verified_by_webcrypto() {
    let h = harness();
    for (name, issuer, alg, key) in [
        (
            "ES256",
            EC_ISSUER,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&h.ec_private_pem),
        ),
        (
            "EdDSA",
            ED_ISSUER,
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&h.ed_private_pem),
        ),
    ] {
        let key = key.expect("key");
        let item = unique("tok-curve");
        let claims = json!({"iss": issuer, "sub": "app-user", "exp": now() + 600, "item": item});
        let token = sign(alg, &claims, &key);
        let paid = zai_pay(&item, &token).send().await;
        assert_eq!(paid.status, 200, "{name}: {}", paid.text);
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let mut bytes = B64URL.decode(signature).expect("signature");
        bytes[5] ^= 1;
        let broken = format!("{input}.{}", B64URL.encode(bytes));
        let refused = zai_pay(&unique("tok-curve2"), &broken).send().await;
        assert_eq!(refused.status, 401, "{name}: {}", refused.text);
        // The right key, the wrong algorithm for this issuer.
        let mut other = claims.clone();
        other["iss"] = json!(if issuer == EC_ISSUER {
            ED_ISSUER
        } else {
            EC_ISSUER
        });
        let confused = sign(alg, &other, &key);
        let refused = zai_pay(&unique("tok-curve3"), &confused).send().await;
        assert_eq!(refused.status, 401, "{name}: {}", refused.text);
    }
}

/// Whose request the status link `link` is: whether tenant A's server and tenant B's server
/// each see it (`200` done or `202` pending) or not (`404`, as for an unknown request).
async fn readers_of(link: &str) -> (bool, bool) {
    let sees = |status: u16| {
        assert!(matches!(status, 200 | 202 | 404), "{link}: {status}");
        status != 404
    };
    let a = Call::new("GET", link).send().await.status;
    let b = Call::new("GET", link).by_tenant_b().send().await.status;
    (sees(a), sees(b))
}

#[tokio::test]
async fn tenants_trusting_the_same_issuer_each_get_their_own_tokens_and_never_the_others() {
    // ServiceStack's default issuer `ssjwt` for both tenants, each with its own AuthKey: each
    // tenant's token pays for that tenant, whichever tenant is listed first.
    for (name, auth_key, readers) in [
        ("tenant A's AuthKey", SS_AUTH_KEY_BASE64, (true, false)),
        ("tenant B's AuthKey", SS_AUTH_KEY_B_BASE64, (false, true)),
    ] {
        let key = base64::engine::general_purpose::STANDARD
            .decode(auth_key)
            .expect("base64");
        let claims = json!({"iss": "ssjwt", "sub": "1", "iat": now(), "exp": now() + 3600});
        let token = sign(Algorithm::HS256, &claims, &hmac_key(&key));
        let payment_id = uuid::Uuid::new_v4().hyphenated().to_string();
        let paid = ss_pay(&payment_id, &token).send().await;
        assert_eq!(paid.status, 202, "{name}: {}", paid.text);
        let request_id = paid.json["responseStatus"]["meta"]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let link = format!("{}/request/{request_id}/status", base());
        assert_eq!(readers_of(&link).await, readers, "{name}: whose payment");
    }

    // One identity provider and one key for both, each tenant bound to its own audience: a
    // token is its audience's tenant's, and one naming neither or both is no one's.
    for (aud, readers) in [("shop-a", (true, false)), ("shop-b", (false, true))] {
        let item = unique("shared-idp");
        let claims = json!({"iss": SHARED_IDP, "aud": aud, "sub": "user-7", "exp": now() + 600});
        let token = sign(
            Algorithm::HS256,
            &claims,
            &hmac_key(SHARED_IDP_SECRET.as_bytes()),
        );
        let paid = zai_pay(&item, &token).send().await;
        assert_eq!(paid.status, 200, "{aud}: {}", paid.text);
        let link = paid
            .header("content-location")
            .unwrap_or_default()
            .to_owned();
        assert_eq!(readers_of(&link).await, readers, "{aud}: whose payment");
    }
    for aud in [json!(null), json!(["shop-a", "shop-b"])] {
        let mut claims = json!({"iss": SHARED_IDP, "sub": "user-7", "exp": now() + 600});
        if !aud.is_null() {
            claims["aud"] = aud.clone();
        }
        let token = sign(
            Algorithm::HS256,
            &claims,
            &hmac_key(SHARED_IDP_SECRET.as_bytes()),
        );
        let refused = zai_pay(&unique("shared-idp-none"), &token).send().await;
        assert_eq!(refused.status, 401, "aud {aud}: {}", refused.text);
    }
}

//! Verifies client-token signatures: HS256 in the domain, RS256, ES256 and EdDSA with the runtime's WebCrypto (no wasm cost).

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{self, Array, Object, Reflect};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{CryptoKey, SubtleCrypto};

use edgepay_core::auth::client_token::{Alg, IssuerKey, PendingToken};

/// Whether the token's signature is its issuer's. Any failure of the runtime is a `false`.
pub async fn signature_ok(pending: &PendingToken<'_>) -> bool {
    if let Some(ok) = pending.verify_hmac() {
        return ok;
    }
    let issuer = pending.issuer();
    let IssuerKey::PublicJwk(jwk) = &issuer.key else {
        return false;
    };
    webcrypto_verify(
        issuer.alg,
        jwk,
        pending.signing_input().as_bytes(),
        pending.signature(),
    )
    .await
    .unwrap_or(false)
}

fn algorithm(members: &[(&str, &str)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in members {
        Reflect::set(&object, &JsValue::from_str(name), &JsValue::from_str(value))?;
    }
    Ok(object)
}

async fn webcrypto_verify(
    alg: Alg,
    jwk: &Value,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, JsValue> {
    // What importKey takes, and what verify takes, per JWS algorithm (RFC 7518 / 8037).
    let (import, verify) = match alg {
        Alg::Rs256 => (
            algorithm(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")])?,
            algorithm(&[("name", "RSASSA-PKCS1-v1_5")])?,
        ),
        Alg::Es256 => (
            algorithm(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
            algorithm(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
        ),
        Alg::EdDsa => (
            algorithm(&[("name", "Ed25519")])?,
            algorithm(&[("name", "Ed25519")])?,
        ),
        Alg::Hs256 => return Ok(false),
    };
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let subtle: SubtleCrypto =
        Reflect::get(&crypto, &JsValue::from_str("subtle"))?.unchecked_into();
    let key_data: Object = js_sys::JSON::parse(&jwk.to_string())?.unchecked_into();
    let usages = Array::of1(&JsValue::from_str("verify"));
    let key: CryptoKey =
        JsFuture::from(subtle.import_key_with_object("jwk", &key_data, &import, false, &usages)?)
            .await?
            .unchecked_into();
    let verified = JsFuture::from(
        subtle.verify_with_object_and_u8_array_and_u8_array(&verify, &key, signature, data)?,
    )
    .await?;
    Ok(verified.as_bool() == Some(true))
}

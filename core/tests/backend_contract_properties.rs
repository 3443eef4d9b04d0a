//! Property tests for what the backend sends: result deliveries, reply classification, signatures.

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::any_json;
use edgepay_core::backend::contract::{
    classify_reply, is_result_status, parse_result_delivery, BackendReply, Binding,
    MAX_RESULT_BYTES,
};
use edgepay_core::http::answer::forbids_body;
use edgepay_core::ids::RequestId;
use edgepay_core::signing::{signature_header, verify, SignedHeaders, SigningSecret, VerifyError};

/// A status a result post may carry.
fn final_status() -> impl Strategy<Value = u16> {
    (200u16..=499).prop_filter("a result", |s| is_result_status(*s))
}

const ID: &str = "0123456789ab4def8123456789abcdef";

fn id() -> RequestId {
    RequestId::parse(ID).unwrap_or_else(|| panic!("{ID}"))
}

fn parse(
    bytes: &[u8],
) -> Result<edgepay_core::backend::contract::StoredResult, edgepay_core::http::api_error::ApiError>
{
    parse_result_delivery(bytes, &id(), Binding::Required)
}

fn secret() -> impl Strategy<Value = SigningSecret> {
    proptest::collection::vec(any::<u8>(), 24..=64).prop_map(|key| {
        use base64::Engine;
        let raw = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        SigningSecret::parse(&raw).unwrap_or_else(|e| panic!("{e}"))
    })
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn any_bytes_give_a_final_status_or_a_400_naming_a_field(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        match parse(&bytes) {
            Ok(r) => prop_assert!(is_result_status(r.status)),
            Err(e) => {
                prop_assert_eq!(e.status(), 400);
                let field = e.field_errors().first().map(|f| f.field.clone()).unwrap_or_default();
                prop_assert!(field == "body" || field == "status" || field == "request_id", "{}", field);
            }
        }
    }

    #[test]
    fn any_json_object_never_panics(status in any_json(), body in any_json()) {
        let _ = parse(json!({"request_id": ID, "status": status, "body": body}).to_string().as_bytes());
        let _ = parse_result_delivery(json!({"status": status, "body": body}).to_string().as_bytes(), &id(), Binding::MayBeAbsent);
    }

    #[test]
    fn a_valid_delivery_round_trips(status in final_status(), body in any_json()) {
        let body = if forbids_body(status) { Value::Null } else { body };
        let text = json!({"request_id": ID, "status": status, "body": body}).to_string();
        let r = parse(text.as_bytes());
        prop_assert!(r.is_ok(), "{} refused", text);
        if let Ok(r) = r {
            prop_assert_eq!(r.status, status);
            if forbids_body(status) {
                prop_assert_eq!(r.body.as_str(), "");
            } else {
                prop_assert_eq!(serde_json::from_str::<Value>(&r.body).ok(), Some(body));
            }
        }
    }

    #[test]
    fn a_status_that_is_not_a_result_is_named(status in prop_oneof![0u64..200, Just(202u64), 300u64..400, Just(408u64), Just(429u64), 500u64..100_000]) {
        let text = json!({"request_id": ID, "status": status, "body": {}}).to_string();
        let fields: Vec<String> = parse(text.as_bytes())
            .err()
            .map(|e| e.field_errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        prop_assert_eq!(fields, vec!["status".to_owned()]);
    }

    #[test]
    fn replies_are_classified_by_status_alone(status in any::<u16>(), len in 0usize..1000) {
        let reply = classify_reply(status, None, Ok(vec![b'x'; len]));
        let transient = status != 202 && !is_result_status(status);
        match reply {
            BackendReply::Acknowledged => prop_assert_eq!(status, 202),
            BackendReply::Transient(_) => prop_assert!(transient),
            BackendReply::Answered(r) => {
                prop_assert!(!transient && status != 202);
                prop_assert_eq!(r.status, status);
                prop_assert!(r.body.len() <= MAX_RESULT_BYTES);
            }
        }
    }

    #[test]
    fn a_signed_delivery_verifies_and_any_byte_change_does_not(
        key in secret(),
        id in "msg_[A-Za-z0-9]{1,20}",
        ts in 1_000_000u64..2_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 1..200),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let secrets = [key];
        let sig = signature_header(&secrets, &id, ts, &body);
        let headers = SignedHeaders { id: Some(&id), timestamp: Some(&ts.to_string()), signature: Some(&sig) };
        prop_assert_eq!(verify(&secrets, headers, &body, ts, 300), Ok(id.as_str()));
        let mut changed = body.clone();
        let i = at.index(changed.len());
        changed[i] ^= flip;
        prop_assert_eq!(verify(&secrets, headers, &changed, ts, 300), Err(VerifyError::BadSignature));
        prop_assert_eq!(verify(&secrets, headers, &body, ts + 301, 300), Err(VerifyError::Stale));
    }

    #[test]
    fn verification_never_panics_on_any_headers(
        id in proptest::option::of(any::<String>()),
        ts in proptest::option::of(any::<String>()),
        sig in proptest::option::of(any::<String>()),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        key in secret(),
    ) {
        let headers = SignedHeaders { id: id.as_deref(), timestamp: ts.as_deref(), signature: sig.as_deref() };
        let _ = verify(&[key], headers, &body, 1_700_000_000, 300);
    }
}

//! Auto-batched requests (`POST /api/MakePaymentRequest[]`, as `sendAll` sends them): the body's shape, checked as a whole before any payment runs; the edge then runs and validates each payment in turn.
//!
//! As in ServiceStack, the answer is the array of the payments' answers in request order, with
//! `X-AutoBatch-Completed` saying how many ran; the first payment whose answer is an error
//! stops the batch, and the answer is then that error, with the payments before it counted in
//! the header (they stand: each is its own payment, found again by its `paymentId`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::dialect::servicestack::request::merge_sources;
use crate::http::api_error::{ApiError, FieldError};

/// The most payments one batch may carry.
pub const MAX_BATCH: usize = 25;

/// How many of the batch's payments ran (all, or those before the one that failed).
pub const COMPLETED_HEADER: &str = "x-autobatch-completed";

fn refused(field: &str, code: &'static str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, code, message)])
}

/// The batch's payments, each as the fields of one `MakePaymentRequest` (keys folded as a
/// single request's are). The body must be a JSON array of 1 to [`MAX_BATCH`] objects;
/// anything else is refused whole, before any payment runs.
pub fn parse_batch(body: &[u8]) -> Result<Vec<BTreeMap<String, Value>>, ApiError> {
    let Ok(Value::Array(elements)) = serde_json::from_slice::<Value>(body) else {
        return Err(refused(
            "body",
            "malformed",
            "a batch is a JSON array of MakePaymentRequest objects",
        ));
    };
    if elements.is_empty() || elements.len() > MAX_BATCH {
        return Err(refused(
            "body",
            "invalid",
            &format!(
                "a batch carries 1 to {MAX_BATCH} payments; this one has {}",
                elements.len()
            ),
        ));
    }
    elements
        .into_iter()
        .enumerate()
        .map(|(i, element)| match element {
            Value::Object(fields) => Ok(merge_sources(vec![fields.into_iter().collect()])),
            _ => Err(refused(
                &format!("[{i}]"),
                "invalid",
                "each element of a batch is a MakePaymentRequest object",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation(errors) => errors[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_array_of_objects_is_a_batch_with_keys_folded() {
        let batch = parse_batch(br#"[{"PaymentId": "a"}, {"paymentid": "b", "x": 1}]"#).unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0]["paymentid"], "a");
        assert_eq!(batch[1]["x"], 1);
    }

    #[test]
    fn anything_else_is_refused_whole_naming_what_is_wrong() {
        for body in [&b"{}"[..], b"", b"[", b"\"x\"", b"[]"] {
            assert_eq!(field_of(parse_batch(body).unwrap_err()), "body", "{body:?}");
        }
        let too_many = format!("[{}]", vec!["{}"; MAX_BATCH + 1].join(","));
        assert_eq!(
            field_of(parse_batch(too_many.as_bytes()).unwrap_err()),
            "body"
        );
        let most = format!("[{}]", vec!["{}"; MAX_BATCH].join(","));
        assert_eq!(parse_batch(most.as_bytes()).unwrap().len(), MAX_BATCH);
        assert_eq!(field_of(parse_batch(b"[{}, 3]").unwrap_err()), "[1]");
    }
}

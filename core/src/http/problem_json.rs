//! RFC 9457 problem+json rendering of [`ApiError`] for the Zai-compatible routes.

use serde_json::{json, Value};

use crate::http::api_error::ApiError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The problem document for an error; `instance` is the request path.
pub fn render(error: &ApiError, instance: &str) -> Value {
    let mut doc = json!({
        "type": "about:blank",
        "title": error.title(),
        "status": error.status(),
        "detail": error.detail(),
        "instance": instance,
        "code": error.code(),
    });
    let Some(members) = doc.as_object_mut() else {
        return doc;
    };
    if let ApiError::Validation(fields) = error {
        members.insert("errors".into(), json!(fields));
    }
    if let ApiError::InFlight {
        request_id,
        status_link,
    } = error
    {
        members.insert("request_id".into(), json!(request_id));
        members.insert("links".into(), json!({ "status": status_link }));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::api_error::FieldError;

    #[test]
    fn validation_problem_lists_fields() {
        let e = ApiError::Validation(vec![
            FieldError::missing("account_id"),
            FieldError::new("wait", "invalid", "bad wait"),
        ]);
        let doc = render(&e, "/items/x/make_payment");
        assert_eq!(doc["status"], 400);
        assert_eq!(doc["code"], "validation_failed");
        assert_eq!(doc["errors"][0]["field"], "account_id");
        assert_eq!(doc["errors"][0]["code"], "missing");
        assert_eq!(doc["errors"][1]["field"], "wait");
        assert_eq!(doc["instance"], "/items/x/make_payment");
    }

    #[test]
    fn conflict_problem_links_the_request_in_flight() {
        let e = ApiError::InFlight {
            request_id: "abc".into(),
            status_link: "https://pay.example.com/request/abc/status".into(),
        };
        let doc = render(&e, "/items/x/make_payment");
        assert_eq!(doc["status"], 409);
        assert_eq!(doc["title"], "duplicate request conflict");
        assert_eq!(
            doc["links"]["status"],
            "https://pay.example.com/request/abc/status"
        );
        assert!(doc.get("errors").is_none());
    }
}

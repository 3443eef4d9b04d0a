//! Which ServiceStack route a path is: the custom route or a pre-defined one, and the operation it names.
//!
//! Real ServiceStack clients never call the custom route: `JsonServiceClient`
//! posts to `/api/{Dto}` by default, to `/json/reply/{Dto}` with a null base
//! path, to `/json/oneway/{Dto}` for one-way calls, and appends `[]` to the
//! name for a batch. ServiceStack matches the DTO name case-insensitively.

use percent_encoding::percent_decode_str;

/// The one operation this service has, as its request DTO is named.
pub const OPERATION: &str = "MakePaymentRequest";

/// How the call arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mobile/payments/makePayment[.json]`.
    Custom,
    /// `/api/{Dto}[.json]`.
    Api,
    /// `/json/reply/{Dto}`.
    JsonReply,
    /// `/json/oneway/{Dto}`: accepted, never held.
    JsonOneWay,
}

impl Endpoint {
    /// The route template for the log line.
    pub fn template(self) -> &'static str {
        match self {
            Endpoint::Custom => "/mobile/payments/makePayment",
            Endpoint::Api => "/api/{operation}",
            Endpoint::JsonReply => "/json/reply/{operation}",
            Endpoint::JsonOneWay => "/json/oneway/{operation}",
        }
    }
}

/// What the path's operation name asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    MakePayment,
    /// `MakePaymentRequest[]`: a batch, each payment run in turn (`batch`).
    Batch,
    /// Any other name: ServiceStack's "does not exist" answer.
    Unknown,
}

/// A call to one of the ServiceStack routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStackCall {
    pub endpoint: Endpoint,
    pub operation: Operation,
    /// The path's format extension (`json` in `makePayment.json`), if any.
    pub suffix: Option<String>,
}

fn split_suffix(name: &str) -> (&str, Option<String>) {
    match name.rsplit_once('.') {
        Some((stem, suffix)) if !stem.is_empty() => (stem, Some(suffix.to_owned())),
        _ => (name, None),
    }
}

/// The operation a pre-defined route's last segment names; percent-escapes are decoded once.
fn predefined(endpoint: Endpoint, raw: &str) -> ServiceStackCall {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    let (stem, suffix) = if endpoint == Endpoint::Api {
        split_suffix(&decoded)
    } else {
        (decoded.as_ref(), None)
    };
    let (name, batch) = match stem.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (stem, false),
    };
    let operation = if !name.eq_ignore_ascii_case(OPERATION) {
        Operation::Unknown
    } else if batch {
        Operation::Batch
    } else {
        Operation::MakePayment
    };
    ServiceStackCall {
        endpoint,
        operation,
        // `/json/…` routes name their format in the path.
        suffix: if endpoint == Endpoint::Api {
            suffix
        } else {
            Some("json".to_owned())
        },
    }
}

/// The ServiceStack call a path's segments make, or `None` for paths outside this dialect.
/// Every path under `/api/` and `/json/` is this dialect's, so its errors are in its shape.
pub fn classify(segments: &[&str]) -> Option<ServiceStackCall> {
    match segments {
        ["mobile", "payments", name] => {
            let (stem, suffix) = split_suffix(name);
            stem.eq_ignore_ascii_case("makePayment")
                .then_some(ServiceStackCall {
                    endpoint: Endpoint::Custom,
                    operation: Operation::MakePayment,
                    suffix,
                })
        }
        ["api", name] => Some(predefined(Endpoint::Api, name)),
        ["json", "reply", name] => Some(predefined(Endpoint::JsonReply, name)),
        ["json", "oneway", name] => Some(predefined(Endpoint::JsonOneWay, name)),
        ["api", ..] | ["json", ..] => Some(ServiceStackCall {
            endpoint: Endpoint::Api,
            operation: Operation::Unknown,
            suffix: None,
        }),
        _ => None,
    }
}

/// Whether a URL path belongs to the ServiceStack dialect (for the panic guard's error shape).
pub fn is_servicestack_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    classify(&segments).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(path: &str) -> Option<ServiceStackCall> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        classify(&segments)
    }

    fn op(path: &str) -> Operation {
        call(path).map(|c| c.operation).unwrap()
    }

    #[test]
    fn predefined_routes_name_the_operation_in_any_case() {
        for path in [
            "/api/MakePaymentRequest",
            "/api/makepaymentrequest",
            "/api/MAKEPAYMENTREQUEST.json",
            "/json/reply/MakePaymentRequest",
            "/json/reply/makePaymentRequest",
            "/json/oneway/MakePaymentRequest",
        ] {
            assert_eq!(op(path), Operation::MakePayment, "{path}");
        }
        assert_eq!(
            call("/json/oneway/MakePaymentRequest").unwrap().endpoint,
            Endpoint::JsonOneWay
        );
        assert_eq!(
            call("/api/MakePaymentRequest.json")
                .unwrap()
                .suffix
                .as_deref(),
            Some("json")
        );
        assert_eq!(
            call("/api/MakePaymentRequest.xml")
                .unwrap()
                .suffix
                .as_deref(),
            Some("xml")
        );
        assert_eq!(call("/api/MakePaymentRequest").unwrap().suffix, None);
        // The path already says JSON.
        assert_eq!(
            call("/json/reply/MakePaymentRequest")
                .unwrap()
                .suffix
                .as_deref(),
            Some("json")
        );
    }

    #[test]
    fn batches_are_recognised_raw_or_escaped() {
        for path in [
            "/api/MakePaymentRequest[]",
            "/api/MakePaymentRequest%5B%5D",
            "/api/makepaymentrequest%5b%5d",
            "/json/reply/MakePaymentRequest[]",
            "/json/oneway/MakePaymentRequest%5B%5D",
        ] {
            assert_eq!(op(path), Operation::Batch, "{path}");
        }
    }

    #[test]
    fn other_names_are_unknown_operations_of_this_dialect() {
        for path in [
            "/api/GetAccessToken",
            "/api/MakePayment",
            "/api/MakePaymentRequests",
            "/json/reply/Other[]",
            "/api/",
            "/api",
            "/json",
            "/json/xml/MakePaymentRequest",
            "/api/a/b",
        ] {
            assert_eq!(op(path), Operation::Unknown, "{path}");
        }
    }

    #[test]
    fn the_custom_route_and_other_paths() {
        let custom = call("/mobile/payments/makePayment.json").unwrap();
        assert_eq!(custom.endpoint, Endpoint::Custom);
        assert_eq!(custom.suffix.as_deref(), Some("json"));
        assert_eq!(
            call("/mobile/payments/MAKEPAYMENT").unwrap().operation,
            Operation::MakePayment
        );
        assert_eq!(call("/mobile/payments/other"), None);
        assert_eq!(call("/items/x/make_payment"), None);
        assert!(is_servicestack_path("/json/reply/X"));
        assert!(is_servicestack_path("/api"));
        assert!(!is_servicestack_path("/apix/MakePaymentRequest"));
        assert!(!is_servicestack_path("/request/abc/status"));
    }
}

//! CORS for browser checkouts: which routes answer it, the preflight, and the headers of a real answer.
//!
//! Only the client routes (both dialects' payments and the status link) answer
//! CORS; server routes never do. A preflight carries no credentials, so it is
//! answered from the union of every tenant's allowed origins; the real request
//! is then held to its own tenant's list (`403` otherwise, in `edge::callers`).
//! The origin is echoed exactly, never `*`. `Access-Control-Allow-Credentials`
//! is sent because `@servicestack/client` fetches with `credentials: "include"`
//! and a browser drops the answer without it; edgepay sets no cookies and
//! reads no ambient credential, so it grants a page nothing it could not send
//! itself in an `Authorization` header.

use crate::auth::tenants::{normalize_origin, Tenants};
use crate::dialect::servicestack;

pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Idempotency-Key, Prefer, X-Request-Id";
pub const EXPOSE_HEADERS: &str = "Location, Retry-After, Content-Location, Preference-Applied, \
     X-Request-Id, X-AutoBatch-Completed";
/// How long a browser may cache a preflight.
pub const MAX_AGE_SECS: u32 = 600;

/// How a page's `Origin` stands with a client route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOrigin {
    /// A page on the gateway's own origin (a same-origin `fetch` still sends `Origin`): no CORS
    /// needed, never refused.
    Own,
    /// An origin the caller's tenant allows (or, before authentication, some tenant does).
    Allowed(String),
    Refused,
}

/// Judges `page` (an `Origin` header) for `tenant`, or for any tenant while the caller is not
/// known yet (a preflight, a `401`): the one rule behind the `403`, the preflight and the
/// headers of an answer.
pub fn judge_origin(tenants: &Tenants, tenant: Option<&str>, page: &str, own: &str) -> PageOrigin {
    let Some(origin) = normalize_origin(page) else {
        return PageOrigin::Refused;
    };
    if origin == own {
        return PageOrigin::Own;
    }
    let allowed = match tenant {
        Some(tenant) => tenants.allows(tenant, &origin),
        None => tenants.any_allows(&origin),
    };
    if allowed {
        PageOrigin::Allowed(origin)
    } else {
        PageOrigin::Refused
    }
}

/// The methods of a client route, or `None` for routes that never answer CORS.
pub fn client_route_methods(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["items", _, "make_payment"] => Some("PATCH, POST"),
        ["request", _, "status"] => Some("GET"),
        _ if servicestack::operation::classify(segments).is_some() => Some("POST"),
        _ => None,
    }
}

/// The CORS headers of a preflight from an allowed origin.
pub fn preflight_headers(origin: &str, methods: &'static str) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-allow-credentials", "true".to_owned()),
        ("access-control-allow-methods", methods.to_owned()),
        ("access-control-allow-headers", ALLOW_HEADERS.to_owned()),
        ("access-control-max-age", MAX_AGE_SECS.to_string()),
    ]
}

/// The CORS headers of a real answer to an allowed origin.
pub fn response_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-allow-credentials", "true".to_owned()),
        ("access-control-expose-headers", EXPOSE_HEADERS.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(path: &str) -> Option<&'static str> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        client_route_methods(&segments)
    }

    #[test]
    fn only_client_routes_answer_cors() {
        assert_eq!(methods("/items/x/make_payment"), Some("PATCH, POST"));
        assert_eq!(methods("/request/abc/status"), Some("GET"));
        assert_eq!(methods("/api/MakePaymentRequest"), Some("POST"));
        assert_eq!(methods("/mobile/payments/makePayment"), Some("POST"));
        for server in [
            "/request/abc/callbacks",
            "/request/abc/callbacks/replay",
            "/internal/requests/abc/result",
            "/client-tokens",
            "/sandbox/payments",
            "/healthz",
        ] {
            assert_eq!(methods(server), None, "{server}");
        }
    }

    #[test]
    fn origins_are_judged_per_tenant_and_before_authentication_for_any() {
        let tenants = Tenants::from_json(Some(
            r#"[{"tenant": "a", "allowed_origins": ["https://a.example"]},
                {"tenant": "b", "allowed_origins": ["https://b.example"]}]"#,
        ))
        .unwrap();
        let judge = |tenant, page| judge_origin(&tenants, tenant, page, "https://pay.example");
        assert_eq!(
            judge(Some("a"), "https://A.example"),
            PageOrigin::Allowed("https://a.example".into())
        );
        assert_eq!(judge(Some("a"), "https://b.example"), PageOrigin::Refused);
        assert_eq!(
            judge(None, "https://b.example"),
            PageOrigin::Allowed("https://b.example".into())
        );
        assert_eq!(judge(Some("a"), "https://pay.example"), PageOrigin::Own);
        assert_eq!(judge(None, "null"), PageOrigin::Refused);
        assert_eq!(judge(None, "https://evil.example"), PageOrigin::Refused);
    }

    #[test]
    fn headers_echo_the_exact_origin() {
        let pre = preflight_headers("https://shop.example.com", "PATCH, POST");
        assert!(pre.contains(&(
            "access-control-allow-origin",
            "https://shop.example.com".into()
        )));
        assert!(pre
            .iter()
            .any(|(n, v)| *n == "access-control-allow-headers" && v.contains("Idempotency-Key")));
        assert!(!pre.iter().any(|(_, v)| v == "*"));
        let real = response_headers("https://shop.example.com");
        assert!(real
            .iter()
            .any(|(n, v)| *n == "access-control-expose-headers" && v.contains("Location")));
    }
}

//! Callback URL templates: decoding, the `{item}`/`{account}`/`{uuid}` placeholders, and rendering.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::callback::ssrf_rules::CallbackPolicy;
use crate::http::api_error::FieldError;

/// Everything but RFC 3986 unreserved characters is encoded in substituted values.
const VALUE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const PLACEHOLDERS: [&str; 3] = ["item", "account", "uuid"];

/// A validated callback template, stored decoded, with its placeholders intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTemplate(String);

/// The values substituted into a template at delivery time.
#[derive(Debug, Clone, Copy)]
pub struct CallbackVars<'a> {
    pub item: &'a str,
    pub account: &'a str,
    pub uuid: &'a str,
}

/// Whether the path of `url` (before `?` or `#`) has a `.` or `..` segment, escaped or not.
fn has_dot_segment(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_end = after_scheme.find(['?', '#']).unwrap_or(after_scheme.len());
    let before_query = after_scheme.get(..path_end).unwrap_or(after_scheme);
    let Some((_, path)) = before_query.split_once('/') else {
        return false;
    };
    path.split('/').any(|segment| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    })
}

impl CallbackTemplate {
    pub const MAX_LEN: usize = 2048;

    /// Parses the client's `callback` value. A URL-encoded URL (no `://`) is decoded exactly once.
    pub fn parse(field: &str, raw: &str, policy: CallbackPolicy) -> Result<Self, FieldError> {
        let invalid = |why: String| FieldError::new(field, "invalid", format!("`{field}` {why}"));
        if raw.is_empty() {
            return Err(invalid("must not be empty".to_owned()));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("`{field}` must be at most {} characters", Self::MAX_LEN),
            ));
        }
        let decoded = if raw.contains("://") {
            raw.to_owned()
        } else {
            percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| invalid("is not valid UTF-8 once decoded".to_owned()))?
                .into_owned()
        };
        if decoded.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid(
                "must not contain spaces or control characters".to_owned(),
            ));
        }
        check_placeholders(&decoded).map_err(invalid)?;
        if has_dot_segment(&decoded) {
            // URL parsing removes them, so `{item}/..` would drop the item from the path.
            return Err(invalid(
                "must not contain `.` or `..` path segments".to_owned(),
            ));
        }

        // Placeholders may only vary the path and query: render with two different values
        // and require the same origin.
        let a = render_raw(
            &decoded,
            &CallbackVars {
                item: "a",
                account: "a",
                uuid: "a",
            },
        );
        let b = render_raw(
            &decoded,
            &CallbackVars {
                item: "b",
                account: "b",
                uuid: "b",
            },
        );
        let (Ok(url_a), Ok(url_b)) = (Url::parse(&a), Url::parse(&b)) else {
            return Err(invalid("must be an absolute URL".to_owned()));
        };
        // Compared by parts: a URL of a non-special scheme (gopher:, javascript:) has an opaque
        // origin that never equals another, and would be misreported as a placeholder problem.
        let place = |u: &Url| {
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_owned),
                u.port(),
            )
        };
        if place(&url_a) != place(&url_b) {
            return Err(invalid(
                "may only use placeholders in the path and query".to_owned(),
            ));
        }
        policy.check(&url_a).map_err(invalid)?;
        Ok(Self(decoded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a template read back from storage (it was validated when accepted).
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// Substitutes percent-encoded values and re-checks the policy, as delivery must.
    pub fn render(&self, vars: &CallbackVars<'_>, policy: CallbackPolicy) -> Result<Url, String> {
        let url = Url::parse(&render_raw(&self.0, vars)).map_err(|e| e.to_string())?;
        policy.check(&url)?;
        Ok(url)
    }
}

fn check_placeholders(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some((before, after)) = rest.split_once(['{', '}']) {
        // `split_once` drops the brace; the byte before `after` tells which one it was.
        if rest.as_bytes().get(before.len()) == Some(&b'}') {
            return Err("has a `}` without a matching `{`".to_owned());
        }
        let Some((name, tail)) = after.split_once('}') else {
            return Err("has a `{` without a matching `}`".to_owned());
        };
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "uses the unknown placeholder `{{{name}}}`; only {{item}}, {{account}} and {{uuid}} are allowed"
            ));
        }
        rest = tail;
    }
    Ok(())
}

fn render_raw(template: &str, vars: &CallbackVars<'_>) -> String {
    let enc = |v: &str| utf8_percent_encode(v, VALUE_ENCODE).to_string();
    template
        .replace("{item}", &enc(vars.item))
        .replace("{account}", &enc(vars.account))
        .replace("{uuid}", &enc(vars.uuid))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dot_segments_are_refused() {
        for bad in [
            "https://a.example.com/{item}/..",
            "https://a.example.com/./x",
            "https://a.example.com/x/%2E%2e/y?q=1",
            "https://a.example.com/x/.%2e",
        ] {
            let e =
                CallbackTemplate::parse("callback", bad, CallbackPolicy::PRODUCTION).unwrap_err();
            assert!(e.message.contains("path segments"), "{bad}: {e:?}");
        }
        for good in [
            "https://a.example.com/x.y/..z/{item}?next=..",
            "https://a.example.com/...",
            "https://a.example.com",
        ] {
            assert!(
                CallbackTemplate::parse("callback", good, CallbackPolicy::PRODUCTION).is_ok(),
                "{good}"
            );
        }
    }

    use super::*;

    const PROD: CallbackPolicy = CallbackPolicy::PRODUCTION;
    const DEV: CallbackPolicy = CallbackPolicy {
        allow_insecure: true,
    };

    #[test]
    fn accepts_plain_and_url_encoded_templates() {
        let plain = CallbackTemplate::parse(
            "callback",
            "https://shop.example.com/cb/{item}?req={uuid}",
            PROD,
        )
        .unwrap();
        assert_eq!(
            plain.as_str(),
            "https://shop.example.com/cb/{item}?req={uuid}"
        );
        let encoded = CallbackTemplate::parse(
            "callback",
            "https%3A%2F%2Fshop.example.com%2Fcb%2F%7Bitem%7D%3Freq%3D%7Buuid%7D",
            PROD,
        )
        .unwrap();
        assert_eq!(encoded, plain);
    }

    #[test]
    fn decodes_exactly_once() {
        // %2520 decodes to %20 once, and stays %20 (not a space).
        let t = CallbackTemplate::parse("callback", "https%3A%2F%2Fa.example.com%2Fx%2520y", PROD)
            .unwrap();
        assert_eq!(t.as_str(), "https://a.example.com/x%20y");
    }

    #[test]
    fn refuses_bad_templates_naming_the_field() {
        let cases = [
            ("", "invalid"),
            ("not a url", "invalid"),
            ("/relative/{item}", "invalid"),
            ("https://a.example.com/{order}", "invalid"),
            ("https://a.example.com/{item", "invalid"),
            ("https://a.example.com/item}", "invalid"),
            ("https://{item}.example.com/", "invalid"),
            ("http://a.example.com/", "invalid"),
            ("https://127.0.0.1/", "invalid"),
            ("https%3A%2F%2F%FF", "invalid"),
        ];
        for (raw, code) in cases {
            let err = CallbackTemplate::parse("callback", raw, PROD).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("callback", code),
                "{raw:?}"
            );
        }
        let long = format!("https://a.example.com/{}", "x".repeat(2048));
        assert_eq!(
            CallbackTemplate::parse("callback", &long, PROD)
                .unwrap_err()
                .code,
            "too_long"
        );
    }

    #[test]
    fn other_schemes_are_refused_for_their_scheme() {
        for raw in [
            "gopher://a.example.com/",
            "javascript:alert(1)",
            "data:text/plain,hi",
            "wss://a.example.com/{item}",
        ] {
            let err = CallbackTemplate::parse("callback", raw, PROD).unwrap_err();
            assert!(err.message.contains("scheme"), "{raw:?}: {}", err.message);
        }
        // A placeholder in the host of a non-special scheme is still a placeholder problem.
        let err =
            CallbackTemplate::parse("callback", "gopher://{item}.example.com/", PROD).unwrap_err();
        assert!(err.message.contains("placeholders"), "{}", err.message);
    }

    #[test]
    fn renders_percent_encoded_values() {
        let t = CallbackTemplate::parse(
            "callback",
            "http://127.0.0.1:9/cb/{item}/{account}?id={uuid}",
            DEV,
        )
        .unwrap();
        let url = t
            .render(
                &CallbackVars {
                    item: "a b/c?d",
                    account: "0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f",
                    uuid: "abc",
                },
                DEV,
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/cb/a%20b%2Fc%3Fd/0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f?id=abc"
        );
        // The same template is refused at send time under the production policy.
        let vars = CallbackVars {
            item: "i",
            account: "a",
            uuid: "u",
        };
        assert!(t.render(&vars, PROD).is_err());
    }
}

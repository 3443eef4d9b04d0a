//! The sandbox web checkout demo: its assets, the credential it may prefill, and its security headers.
//!
//! The page is plain HTML, CSS and JavaScript compiled into the Worker (no
//! build step). It is only served while the sandbox is on; the edge decides
//! that, this module decides what is served.
//!
//! The credential: the page never carries a secret taken from the
//! deployment's configuration (the client registry keeps only digests, so it
//! could not). It may carry the *documented development credential*, a public
//! constant from `.dev.vars.example`, and only when the deployment actually
//! accepts it; otherwise the fields are empty and the shopper types a key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::auth::ClientRegistry;

/// The development API client of `.dev.vars.example` (public, development only).
pub const DEV_KEY_ID: &str = "dev_key";
pub const DEV_SECRET: &str = "dev_secret_0123456789";

const PAGE_TEMPLATE: &str = include_str!("../demo/checkout.html");
const SCRIPT: &str = include_str!("../demo/checkout.js");
const STYLE: &str = include_str!("../demo/checkout.css");

/// Same-origin scripts, styles and fetches only (images may also be `data:`, for the empty
/// favicon that spares a request for `/favicon.ico`); no framing, no plugins, no form posts, no
/// `<base>` tricks. The page has no inline script or style, so nothing needs `'unsafe-inline'`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Headers on every demo asset (the router adds `X-Content-Type-Options: nosniff` to all answers).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    // For browsers that predate `frame-ancestors`.
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    // The page may carry the development credential: never keep it in a shared cache.
    ("cache-control", "no-store"),
];

/// One file of the demo, by the path segments after `/demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAsset {
    Page,
    Script,
    Style,
}

impl DemoAsset {
    /// `/demo`, `/demo/` → the page; `/demo/checkout.js`, `/demo/checkout.css`; anything else `None`.
    pub fn from_segments(rest: &[&str]) -> Option<Self> {
        match rest {
            [] | [""] => Some(Self::Page),
            ["checkout.js"] => Some(Self::Script),
            ["checkout.css"] => Some(Self::Style),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Page => "text/html; charset=utf-8",
            Self::Script => "text/javascript; charset=utf-8",
            Self::Style => "text/css; charset=utf-8",
        }
    }
}

/// The credential the page is prefilled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefill {
    pub key_id: &'static str,
    pub secret: &'static str,
}

/// The development credential, when the sandbox is on and this deployment's clients accept it.
pub fn prefill(sandbox_enabled: bool, clients: &ClientRegistry) -> Option<Prefill> {
    if !sandbox_enabled {
        return None;
    }
    let header = format!("Basic {}", B64.encode(format!("{DEV_KEY_ID}:{DEV_SECRET}")));
    clients.authenticate(Some(&header)).ok().map(|_| Prefill {
        key_id: DEV_KEY_ID,
        secret: DEV_SECRET,
    })
}

/// Escapes text for an HTML attribute value or element content.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const NOTE_PREFILLED: &str = "Prefilled with the public development credential, because the \
     sandbox is on and this gateway accepts it.";
const NOTE_EMPTY: &str = "Enter an API key id and secret of this gateway. They stay in this \
     page and are sent only to this gateway.";

/// The body of an asset; the page with its credential fields filled (or left empty).
pub fn render(asset: DemoAsset, prefill: Option<Prefill>) -> String {
    match asset {
        DemoAsset::Page => {
            let (key_id, secret, note) = match prefill {
                Some(p) => (p.key_id, p.secret, NOTE_PREFILLED),
                None => ("", "", NOTE_EMPTY),
            };
            PAGE_TEMPLATE
                .replace("{{key_id}}", &escape_html(key_id))
                .replace("{{secret}}", &escape_html(secret))
                .replace("{{credential_note}}", &escape_html(note))
        }
        DemoAsset::Script => SCRIPT.to_owned(),
        DemoAsset::Style => STYLE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(clients: &str) -> ClientRegistry {
        ClientRegistry::from_json(clients).unwrap()
    }

    const WITH_DEV: &str =
        r#"[{"key_id":"dev_key","secret":"dev_secret_0123456789","tenant":"dev"}]"#;
    const PRODUCTION_LIKE: &str =
        r#"[{"key_id":"shop","secret":"sk_live_abcdefghijklmnop","tenant":"shop"}]"#;
    const SAME_KEY_OTHER_SECRET: &str =
        r#"[{"key_id":"dev_key","secret":"sk_live_abcdefghijklmnop","tenant":"dev"}]"#;

    #[test]
    fn the_development_credential_is_offered_only_in_the_sandbox_and_only_when_accepted() {
        assert_eq!(
            prefill(true, &registry(WITH_DEV)),
            Some(Prefill {
                key_id: DEV_KEY_ID,
                secret: DEV_SECRET
            })
        );
        assert_eq!(prefill(false, &registry(WITH_DEV)), None);
        assert_eq!(prefill(true, &registry(PRODUCTION_LIKE)), None);
        assert_eq!(prefill(true, &registry(SAME_KEY_OTHER_SECRET)), None);
    }

    #[test]
    fn the_constant_is_the_documented_development_client() {
        let example = include_str!("../../.dev.vars.example");
        assert!(example.contains(&format!(
            r#""key_id":"{DEV_KEY_ID}","secret":"{DEV_SECRET}""#
        )));
    }

    #[test]
    fn a_configured_secret_never_reaches_the_page() {
        let page = render(DemoAsset::Page, prefill(true, &registry(PRODUCTION_LIKE)));
        assert!(!page.contains("sk_live_abcdefghijklmnop"));
        assert!(!page.contains(DEV_SECRET));
        assert!(
            page.contains(r#"id="key-id" name="key-id" value="""#),
            "{page}"
        );
    }

    #[test]
    fn the_page_is_filled_without_leftover_placeholders() {
        let page = render(DemoAsset::Page, prefill(true, &registry(WITH_DEV)));
        assert!(!page.contains("{{"), "{page}");
        assert!(page.contains(r#"value="dev_key""#));
        assert!(page.contains(r#"value="dev_secret_0123456789""#));
        assert!(page.contains(NOTE_PREFILLED));
        let empty = render(DemoAsset::Page, None);
        assert!(!empty.contains("{{"));
        assert!(empty.contains(NOTE_EMPTY));
    }

    #[test]
    fn the_page_loads_only_its_own_assets_and_nothing_inline() {
        let page = render(DemoAsset::Page, None);
        assert!(page.contains(r#"<script src="/demo/checkout.js" defer></script>"#));
        assert!(page.contains(r#"<link rel="stylesheet" href="/demo/checkout.css">"#));
        // CSP forbids inline code; any would silently not run.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(!page.contains("<style") && !page.contains(" style="));
        assert!(!has_inline_handler(&page), "{page}");
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
    }

    /// ` onclick=`-style attributes.
    fn has_inline_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(i, _)| {
            let rest = html.get(i + 3..).unwrap_or_default();
            let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            name_len > 0 && rest.as_bytes().get(name_len) == Some(&b'=')
        })
    }

    #[test]
    fn the_inline_handler_check_sees_handlers() {
        assert!(has_inline_handler(r#"<img src=x onerror=alert(1)>"#));
        assert!(!has_inline_handler("the sandbox is on and only this"));
    }

    #[test]
    fn assets_by_path() {
        assert_eq!(DemoAsset::from_segments(&[]), Some(DemoAsset::Page));
        assert_eq!(DemoAsset::from_segments(&[""]), Some(DemoAsset::Page));
        assert_eq!(
            DemoAsset::from_segments(&["checkout.js"]),
            Some(DemoAsset::Script)
        );
        assert_eq!(
            DemoAsset::from_segments(&["checkout.css"]),
            Some(DemoAsset::Style)
        );
        assert_eq!(DemoAsset::from_segments(&["checkout.html"]), None);
        assert_eq!(DemoAsset::from_segments(&["checkout.js", "x"]), None);
    }

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn every_header_forbids_framing_by_other_origins() {
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(SECURITY_HEADERS.contains(&("x-frame-options", "DENY")));
    }
}

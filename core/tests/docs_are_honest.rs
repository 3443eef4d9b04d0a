//! Keeps the documentation honest where a machine can judge it: links and named files exist, every configuration variable is in the configuration table, every route is in the OpenAPI document and the API doc.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `README.md` and every Markdown file of `docs/`, as (repo-relative path, text).
fn documents() -> Vec<(String, String)> {
    let mut out = vec![("README.md".to_owned(), read("README.md"))];
    let mut names: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    for name in names {
        let path = format!("docs/{name}");
        let text = read(&path);
        out.push((path, text));
    }
    out
}

/// The text outside fenced code blocks (links in examples are not links).
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect::<String>()
        .to_lowercase()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// Every `](target)` of the prose.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        if let Some(end) = after.find(')') {
            out.push(after[..end].trim().to_owned());
        }
        rest = after;
    }
    out
}

#[test]
fn every_relative_link_reaches_a_file_and_its_heading() {
    let mut broken = Vec::new();
    for (path, text) in documents() {
        let dir = Path::new(&path)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        for target in link_targets(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let linked = if file.is_empty() {
                PathBuf::from(&path)
            } else {
                dir.join(file)
            };
            let full = repo().join(&linked);
            if !full.exists() {
                broken.push(format!("{path}: {target} (no such file)"));
                continue;
            }
            if !anchor.is_empty() && linked.extension().is_some_and(|e| e == "md") {
                let linked_text = std::fs::read_to_string(&full).unwrap_or_default();
                if !anchors(&linked_text).contains(anchor) {
                    broken.push(format!("{path}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Paths such as `core/src/config.rs` or `docs/api.md` named in backticks.
#[test]
fn every_file_path_the_docs_name_exists() {
    const ROOTS: [&str; 12] = [
        "core/",
        "src/",
        "docs/",
        "tests/",
        "static/",
        "migrations/",
        "bench/",
        "benches/",
        "demo/",
        "scripts/",
        "fuzz/",
        ".ci/",
    ];
    let mut missing = Vec::new();
    for (path, text) in documents() {
        for quoted in text.split('`').skip(1).step_by(2) {
            let candidate = quoted.trim();
            let named = ROOTS.iter().any(|r| candidate.starts_with(r))
                && !candidate.contains(char::is_whitespace)
                && !candidate.contains(['<', '>', '{', '}', '*', '…', '|', '=', '(', ')', ','])
                && candidate
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.contains('.') || candidate.ends_with('/'));
            if !named {
                continue;
            }
            let file = candidate.split(['#', ':']).next().unwrap_or(candidate);
            if !repo().join(file).exists() {
                missing.push(format!("{path}: `{candidate}`"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "named files that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_configuration_variable_is_in_the_configuration_table() {
    let config = read("core/src/config.rs");
    let code = config.split("#[cfg(test)]").next().unwrap_or_default();
    let variables: BTreeSet<&str> = code
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() > 3
                && s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(variables.contains("BACKEND_URL"), "{variables:?}");
    let operating = read("docs/operating.md");
    let table = operating
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/operating.md has a Configuration section");
    let missing: Vec<&&str> = variables.iter().filter(|v| !table.contains(**v)).collect();
    assert!(
        missing.is_empty(),
        "not in docs/operating.md's configuration: {missing:?}"
    );
}

/// `/request/{id}/status` and `/request/{request_id}/status` name the same route: every
/// `{name}` becomes `{}` (other braces, such as JSON's, are left alone).
fn normalised(route: &str) -> String {
    let mut out = String::with_capacity(route.len());
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.push_str("{}");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn every_route_of_the_router_is_in_openapi_and_in_the_api_doc() {
    // Routes that are not the public API: the CORS preflight of every route, the test-only
    // fault injection, and the development sandbox backend (each documented where it lives).
    const NOT_PUBLIC: [&str; 3] = ["(preflight)", "/__faults/{}", "/sandbox/payments"];
    let mut routes = BTreeSet::new();
    for file in std::fs::read_dir(repo().join("src/routes")).expect("src/routes") {
        let text = std::fs::read_to_string(file.expect("a file").path()).unwrap_or_default();
        for piece in text.split("facts.route(\"").skip(1) {
            if let Some(route) = piece.split('"').next() {
                routes.insert(normalised(route));
            }
        }
    }
    assert!(routes.contains("/items/{}/make_payment"), "{routes:?}");
    let openapi: serde_json::Value =
        serde_json::from_str(&read("static/openapi.json")).expect("openapi.json");
    let documented: BTreeSet<String> = openapi["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(|p| normalised(p))
        .collect();
    let api = normalised(&read("docs/api.md"));
    let mut missing = Vec::new();
    for route in routes.iter().filter(|r| !NOT_PUBLIC.contains(&r.as_str())) {
        if !documented.contains(route) {
            missing.push(format!("{route}: not in static/openapi.json"));
        }
        if !api.contains(route.as_str()) {
            missing.push(format!("{route}: not in docs/api.md"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_slug_is_githubs() {
    assert_eq!(
        slug(" The toolchain upgrade (wrangler 4.86.0 → 4.164.0)"),
        "the-toolchain-upgrade-wrangler-4860--41640"
    );
    assert_eq!(
        slug(" Operators: the payments index and the dashboard"),
        "operators-the-payments-index-and-the-dashboard"
    );
    assert_eq!(
        slug(" Wrangler's DevTools relay"),
        "wranglers-devtools-relay"
    );
}

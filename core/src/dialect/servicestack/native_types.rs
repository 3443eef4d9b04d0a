//! Serving "Add ServiceStack Reference": a language's DTO file made from its template, with the header options the client sent back and only the types it asked for.
//!
//! The templates (`static/types/<language>.txt`) are written by the renderers in
//! [`super::types`] on the host and served from Workers Static Assets, so a language costs the
//! wasm no bytes. A template is the language's file with a few marker lines, none of which any
//! language's code can contain:
//!
//! - `@@option //Name: default`: a header option, shown commented with its default. When the
//!   request's query names the option (the tools send back every option a user uncommented),
//!   the line becomes `Name: value`, uncommented, as ServiceStack writes an override.
//! - `@@type Name Dep1,Dep2` … `@@end`: one type's lines, and the types it uses directly.
//!   `IncludeTypes` keeps only the types it lists (`Name`, `Name.*` for the type and every type
//!   it uses, `Prefix*`); `ExcludeTypes` drops the ones it lists.
//! - `@@doc text`: a description, kept as `text` unless `AddDescriptionAsComments=False`.
//! - `@@if Name text`: `text` (maybe empty) only when option `Name` has a value.
//! - `{{Date}}`, `{{BaseUrl}}` and `{{opt Name}}` (an option's value, a dotted name;
//!   `{{opt Name|host}}` falls back to the base URL's host) or `{{ident Name}}` (a single
//!   name) anywhere in a line.
//!
//! Every option value is checked before use: it is echoed into a comment (so printable ASCII
//! only, without `\\`, which Java and Python read as an escape even there, and without
//! anything that opens or closes a comment), and a value used in code must be a (dotted)
//! identifier that is no keyword. A bad one is a `400` naming the option.

use crate::http::api_error::{ApiError, FieldError};

/// The languages served from templates, by their `/types/{language}` name (`metadata` is
/// ServiceStack's JSON description of the operation, with only `{{BaseUrl}}` to fill in).
pub const TEMPLATE_LANGUAGES: [&str; 8] = [
    "typescript",
    "csharp",
    "swift",
    "kotlin",
    "java",
    "dart",
    "python",
    "metadata",
];

/// The longest option value accepted.
const MAX_OPTION_CHARS: usize = 500;
/// The most query parameters read.
const MAX_PARAMS: usize = 64;

/// One header option of a template, and the value the query sent for it, if any.
struct TemplateOption<'t> {
    name: &'t str,
    default: &'t str,
    sent: Option<String>,
}

impl TemplateOption<'_> {
    /// The query's value, else (also when the query's is empty, as an uncommented option
    /// without a value is sent back) the template's default.
    fn value(&self) -> &str {
        self.sent
            .as_deref()
            .filter(|v| !v.is_empty())
            .unwrap_or(self.default)
    }
}

/// A type block's head: its name and the types it uses directly.
struct TypeHead<'t> {
    name: &'t str,
    uses: Vec<&'t str>,
}

fn option_of(line: &str) -> Option<(&str, TemplateOption<'_>)> {
    let rest = line.strip_prefix("@@option ")?;
    let start = rest.find(|c: char| c.is_ascii_alphanumeric())?;
    let (prefix, named) = rest.split_at(start);
    let (name, default) = named.split_once(':')?;
    Some((
        prefix,
        TemplateOption {
            name,
            default: default.strip_prefix(' ').unwrap_or(default),
            sent: None,
        },
    ))
}

fn type_head(line: &str) -> Option<TypeHead<'_>> {
    let rest = line.strip_prefix("@@type ")?;
    let (name, uses) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(TypeHead {
        name,
        uses: uses.split(',').filter(|u| !u.is_empty()).collect(),
    })
}

fn options(template: &str) -> Vec<TemplateOption<'_>> {
    template
        .lines()
        .filter_map(|l| option_of(l).map(|(_, o)| o))
        .collect()
}

fn type_heads(template: &str) -> Vec<TypeHead<'_>> {
    template.lines().filter_map(type_head).collect()
}

fn bad(option: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(option, "invalid", message)])
}

/// The template's options with the values the query sent for them, checked. Parameters that
/// name no option of this template are ignored, as ServiceStack does.
fn settings<'t>(
    template: &'t str,
    query: &[(String, String)],
) -> Result<Vec<TemplateOption<'t>>, ApiError> {
    if query.len() > MAX_PARAMS {
        return Err(bad(
            "query",
            &format!("at most {MAX_PARAMS} query parameters"),
        ));
    }
    let mut known = options(template);
    let names_after = |marker: &str| -> Vec<&'t str> {
        template
            .match_indices(marker)
            .filter_map(|(at, _)| {
                let rest = template.get(at + marker.len()..)?;
                rest.find("}}")
                    .and_then(|end| rest.get(..end))
                    .map(|name| name.trim_end_matches("|host"))
            })
            .collect()
    };
    let dotted = names_after("{{opt ");
    let single = names_after("{{ident ");
    for (key, value) in query {
        let Some(option) = known.iter_mut().find(|o| o.name.eq_ignore_ascii_case(key)) else {
            continue;
        };
        if option.sent.is_some() {
            return Err(bad(option.name, "given more than once"));
        }
        let value = value.trim();
        if value.chars().count() > MAX_OPTION_CHARS {
            return Err(bad(
                option.name,
                &format!("at most {MAX_OPTION_CHARS} characters"),
            ));
        }
        // Echoed into a comment (a Python string): printable ASCII only, no escapes, nothing
        // that opens or closes a comment, nothing this engine reads as its own.
        if !value.chars().all(|c| (' '..='~').contains(&c) && c != '\\')
            || ["/*", "*/", "\"\"\"", "{{", "@@"]
                .iter()
                .any(|s| value.contains(s))
        {
            return Err(bad(
                option.name,
                "printable ASCII, without \\ and without /* */ \"\"\" {{ @@",
            ));
        }
        let used_as_name = dotted.contains(&option.name) || single.contains(&option.name);
        if used_as_name && !value.is_empty() {
            let parts: Vec<&str> = value.split('.').collect();
            if (single.contains(&option.name) && parts.len() > 1)
                || !parts.iter().all(|p| is_identifier(p))
            {
                return Err(bad(
                    option.name,
                    if single.contains(&option.name) {
                        "an identifier (letters, digits and _, starting with a letter or _; not a keyword)"
                    } else {
                        "a dotted identifier (letters, digits and _, each part starting with a letter or _; no keyword)"
                    },
                ));
            }
        }
        let boolean = ["true", "false"];
        if boolean
            .iter()
            .any(|b| option.default.eq_ignore_ascii_case(b))
            && !value.is_empty()
            && !boolean.iter().any(|b| value.eq_ignore_ascii_case(b))
        {
            return Err(bad(option.name, "True or False"));
        }
        option.sent = Some(value.to_owned());
    }
    Ok(known)
}

/// Words no part of a name used in code may be: the keywords of the languages served.
const KEYWORDS: [&str; 45] = [
    "abstract",
    "and",
    "as",
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "def",
    "default",
    "do",
    "else",
    "enum",
    "extends",
    "false",
    "final",
    "for",
    "fun",
    "if",
    "import",
    "in",
    "interface",
    "is",
    "library",
    "new",
    "none",
    "not",
    "null",
    "object",
    "or",
    "package",
    "pass",
    "public",
    "return",
    "static",
    "super",
    "this",
    "true",
    "try",
    "val",
    "var",
    "while",
];

/// A name a language can declare: letters, digits and `_`, not starting with a digit, and
/// no keyword (in any case: Python's `None` and `True` included).
fn is_identifier(part: &str) -> bool {
    part.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(part))
}

/// The value of option `name` ([`TemplateOption::value`]); `""` for no such option.
fn value_of<'a>(settings: &'a [TemplateOption<'_>], name: &str) -> &'a str {
    settings
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(name))
        .map_or("", TemplateOption::value)
}

fn list(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The types kept: all, or those `IncludeTypes` names, less those `ExcludeTypes` names.
fn kept_types<'t>(heads: &[TypeHead<'t>], include: &str, exclude: &str) -> Vec<&'t str> {
    let matches = |pattern: &str, name: &str| match pattern.strip_suffix('*') {
        Some(prefix) if !pattern.ends_with(".*") => name.starts_with(prefix),
        _ => pattern == name,
    };
    let mut kept: Vec<&str> = Vec::new();
    let include = list(include);
    if include.is_empty() {
        kept.extend(heads.iter().map(|h| h.name));
    } else {
        for pattern in include {
            let (base, with_uses) = match pattern.strip_suffix(".*") {
                Some(base) => (base, true),
                None => (pattern, false),
            };
            let mut todo: Vec<&str> = heads
                .iter()
                .filter(|h| matches(base, h.name))
                .map(|h| h.name)
                .collect();
            while let Some(name) = todo.pop() {
                if kept.contains(&name) {
                    continue;
                }
                kept.push(name);
                if !with_uses {
                    continue;
                }
                if let Some(head) = heads.iter().find(|h| h.name == name) {
                    todo.extend(head.uses.iter().copied());
                }
            }
        }
    }
    for pattern in list(exclude) {
        kept.retain(|name| !matches(pattern, name));
    }
    kept
}

/// The DTO file for `template` (one of `static/types/`), for a host at `base_url`, dated
/// `now_date` (`yyyy-MM-dd HH:mm:ss`), with the options and type filters of `query`.
pub fn render(
    template: &str,
    base_url: &str,
    now_date: &str,
    query: &[(String, String)],
) -> Result<String, ApiError> {
    let settings = settings(template, query)?;
    let heads = type_heads(template);
    let kept = kept_types(
        &heads,
        value_of(&settings, "IncludeTypes"),
        value_of(&settings, "ExcludeTypes"),
    );
    let docs = !value_of(&settings, "AddDescriptionAsComments").eq_ignore_ascii_case("false");
    let mut out = String::with_capacity(template.len() + 256);
    let mut skipping = false;
    for line in template.lines() {
        if let Some(head) = type_head(line) {
            skipping = !kept.contains(&head.name);
            continue;
        }
        if line == "@@end" {
            skipping = false;
            continue;
        }
        if skipping {
            continue;
        }
        if let Some((prefix, option)) = option_of(line) {
            let sent = settings
                .iter()
                .find(|o| o.name == option.name)
                .and_then(|o| o.sent.as_deref());
            match sent {
                Some(value) => out.push_str(&format!("{}: {value}\n", option.name)),
                None => out.push_str(&format!("{prefix}{}: {}\n", option.name, option.default)),
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("@@if ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            if !value_of(&settings, name).is_empty() {
                out.push_str(&substitute(text, &settings, base_url, now_date));
                out.push('\n');
            }
            continue;
        }
        let line = match line.strip_prefix("@@doc ") {
            Some(_) if !docs => continue,
            Some(text) => text,
            None => line,
        };
        out.push_str(&substitute(line, &settings, base_url, now_date));
        out.push('\n');
    }
    Ok(out)
}

/// `https://pay.example.com:8443/x` → `pay.example.com`.
fn host_of(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn substitute(
    line: &str,
    settings: &[TemplateOption<'_>],
    base_url: &str,
    now_date: &str,
) -> String {
    if !line.contains("{{") {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len() + 32);
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find("}}") else {
            out.push_str(rest.get(start..).unwrap_or_default());
            return out;
        };
        let key = after.get(..end).unwrap_or_default();
        match key {
            "Date" => out.push_str(now_date),
            "BaseUrl" => out.push_str(base_url),
            _ => match key
                .strip_prefix("opt ")
                .or_else(|| key.strip_prefix("ident "))
            {
                Some(name) => match name.strip_suffix("|host") {
                    Some(name) => match value_of(settings, name) {
                        "" => out.push_str(host_of(base_url)),
                        value => out.push_str(value),
                    },
                    None => out.push_str(value_of(settings, name)),
                },
                None => out.push_str(rest.get(start..start + end + 4).unwrap_or_default()),
            },
        }
        rest = after.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "/* Options:\nDate: {{Date}}\nBaseUrl: {{BaseUrl}}\n\n\
        @@option //Package: dtos\n@@option //AddDescriptionAsComments: True\n\
        @@option //IncludeTypes: \n@@option //ExcludeTypes: \n@@option //Library: \n*/\n\n\
        package {{opt Package}}\n@@if Library library {{opt Library}};\n@@if Library\n\
        lib {{opt Library|host}}\n\
        @@type A B\n@@doc /** A thing. */\nclass A : B\n@@end\n\
        @@type B C\nclass B\n@@end\n@@type C\nclass C\n@@end\n@@type D\nclass D\n@@end\n";

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn classes(out: &str) -> Vec<&str> {
        out.lines().filter(|l| l.starts_with("class ")).collect()
    }

    #[test]
    fn without_options_every_type_and_the_commented_defaults() {
        let out = render(T, "https://pay.example.com", "2026-12-06 10:00:00", &[]).unwrap();
        assert!(out.starts_with("/* Options:\nDate: 2026-12-06 10:00:00\nBaseUrl: https://pay.example.com\n\n//Package: dtos\n"));
        assert!(out.contains("//IncludeTypes: \n"));
        assert!(out.contains("package dtos\nlib pay.example.com\n/** A thing. */\nclass A : B\n"));
        assert_eq!(
            classes(&out),
            ["class A : B", "class B", "class C", "class D"]
        );
        assert!(!out.contains("@@"));
    }

    #[test]
    fn an_option_sent_back_is_written_uncommented_and_used() {
        let out = render(
            T,
            "h",
            "d",
            &q(&[
                ("package", "com.shop.dtos"),
                ("AddDescriptionAsComments", "false"),
            ]),
        )
        .unwrap();
        assert!(out.contains("\nPackage: com.shop.dtos\n"), "{out}");
        assert!(out.contains("\nAddDescriptionAsComments: false\n"));
        assert!(out.contains("package com.shop.dtos\n"));
        assert!(!out.contains("A thing"));
        let out = render(T, "http://127.0.0.1:8787", "d", &q(&[("Library", "shop")])).unwrap();
        assert!(
            out.contains("\npackage dtos\nlibrary shop;\n\nlib shop\n"),
            "{out}"
        );
    }

    #[test]
    fn include_types_with_dot_star_brings_what_the_type_uses() {
        let out = render(T, "h", "d", &q(&[("IncludeTypes", "A.*")])).unwrap();
        assert_eq!(classes(&out), ["class A : B", "class B", "class C"]);
        assert!(out.contains("\nIncludeTypes: A.*\n"));
        let out = render(T, "h", "d", &q(&[("IncludeTypes", "B, D")])).unwrap();
        assert_eq!(classes(&out), ["class B", "class D"]);
        let out = render(T, "h", "d", &q(&[("ExcludeTypes", "A,C")])).unwrap();
        assert_eq!(classes(&out), ["class B", "class D"]);
        let out = render(T, "h", "d", &q(&[("IncludeTypes", "Nothing")])).unwrap();
        assert!(classes(&out).is_empty());
    }

    #[test]
    fn bad_option_values_are_400s_naming_the_option() {
        for (key, value, named) in [
            ("Package", "com.x;evil()", "Package"),
            ("Package", "1abc", "Package"),
            ("IncludeTypes", "A*/ hack", "IncludeTypes"),
            ("IncludeTypes", "A\nB", "IncludeTypes"),
            ("IncludeTypes", "A/*", "IncludeTypes"),
            ("ExcludeTypes", "\\u002a/", "ExcludeTypes"),
            ("ExcludeTypes", "A\u{202e}B", "ExcludeTypes"),
            ("Package", "com.class.x", "Package"),
            ("Package", "None", "Package"),
            (
                "AddDescriptionAsComments",
                "maybe",
                "AddDescriptionAsComments",
            ),
        ] {
            match render(T, "h", "d", &q(&[(key, value)])) {
                Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, named, "{value}"),
                other => panic!("{key}={value:?}: {other:?}"),
            }
        }
        let long = "A".repeat(MAX_OPTION_CHARS + 1);
        assert!(render(T, "h", "d", &q(&[("IncludeTypes", &long)])).is_err());
        assert!(render(T, "h", "d", &q(&[("Package", "a"), ("package", "b")])).is_err());
        let many: Vec<(String, String)> = (0..=MAX_PARAMS)
            .map(|i| (format!("x{i}"), String::new()))
            .collect();
        assert!(render(T, "h", "d", &many).is_err());
        // An option sent back without a value keeps its default where it is used.
        let out = render(T, "h", "d", &q(&[("Package", "")])).unwrap();
        assert!(
            out.contains("\nPackage: \n") && out.contains("package dtos\n"),
            "{out}"
        );
        // A parameter that is no option of this language is ignored.
        assert!(render(T, "h", "d", &q(&[("MakePartial", "whatever")])).is_ok());
    }
}

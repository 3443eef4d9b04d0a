//! "Add ServiceStack Reference": the DTOs of the one operation, described once, rendered as the templates of `/types/typescript` and `/types/csharp` (the mobile languages are in `mobile_types`) and as `/types/metadata`.
//!
//! The DTOs are described once, as data ([`TYPES`]), and each language is a
//! renderer over that description, in the shape ServiceStack's NativeTypes
//! feature produces (an `/* Options: … */` header the official tooling reads,
//! then the types in dependency order). A unit test holds the description to
//! `openapi.json`'s ServiceStack schemas, so the two cannot drift.

use serde_json::{json, Map, Value};

use crate::dialect::servicestack::mobile_types;
use crate::dialect::servicestack::operation::OPERATION;

/// The .NET namespace the DTOs live in.
pub const NAMESPACE: &str = "Edgepay.ServiceModel";
/// The ServiceStack release whose NativeTypes output these renderers follow.
const SERVICESTACK_VERSION: &str = "8.40";

/// A property's type, as the three renderers need to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Guid,
    /// `bool?`
    OptBool,
    /// `int?`
    OptInt,
    /// `Dictionary<string,string>` (ServiceStack's `JsonObject` on the wire).
    StringMap,
    /// `List<T>` of a described class.
    ListOf(&'static str),
    /// A described enum.
    Enum(&'static str),
    /// A described class.
    Class(&'static str),
}

#[derive(Debug)]
pub struct Prop {
    /// The .NET (PascalCase) name; JSON and TypeScript use it camelCased.
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub description: &'static str,
}

#[derive(Debug)]
pub enum Kind {
    Class {
        inherits: Option<&'static str>,
        /// The response type of a request DTO (`IReturn<T>`).
        returns: Option<&'static str>,
        props: &'static [Prop],
    },
    /// Members with their integer values (clients may send either).
    Enum(&'static [(&'static str, i64)]),
}

#[derive(Debug)]
pub struct TypeDef {
    pub name: &'static str,
    pub description: &'static str,
    /// ServiceStack's own types (`ResponseStatus`, `ResponseError`): `[DataContract]`, namespace
    /// `ServiceStack`, and not emitted in C#, where `using ServiceStack;` provides them.
    pub servicestack_type: bool,
    pub kind: Kind,
}

const fn prop(name: &'static str, ty: Ty, required: bool, description: &'static str) -> Prop {
    Prop {
        name,
        ty,
        required,
        description,
    }
}

/// Every type of the operation, each after the types it uses.
pub const TYPES: &[TypeDef] = &[
    TypeDef {
        name: "ResponseError",
        description: "One invalid field.",
        servicestack_type: true,
        kind: Kind::Class {
            inherits: None,
            returns: None,
            props: &[
                prop("ErrorCode", Ty::Str, true, "The validator's code, e.g. NotEmpty."),
                prop("FieldName", Ty::Str, true, "The DTO property, as the DTO spells it."),
                prop("Message", Ty::Str, true, "What is wrong with it."),
                prop("Meta", Ty::StringMap, false, ""),
            ],
        },
    },
    TypeDef {
        name: "ResponseStatus",
        description: "The error (or pending) status of an answer.",
        servicestack_type: true,
        kind: Kind::Class {
            inherits: None,
            returns: None,
            props: &[
                prop("ErrorCode", Ty::Str, true, "Machine-readable: NotEmpty, Unauthorized, Conflict, Pending, PaymentFailed, …"),
                prop("Message", Ty::Str, true, "Human-readable."),
                prop("StackTrace", Ty::Str, false, "Never sent."),
                prop("Errors", Ty::ListOf("ResponseError"), false, "Every invalid field."),
                prop("Meta", Ty::StringMap, false, "requestId, status and location of the payment, where there is one."),
            ],
        },
    },
    TypeDef {
        name: "ClientType",
        description: "Where the client pays from.",
        servicestack_type: false,
        kind: Kind::Enum(&[("IOS", 1), ("Android", 2), ("Web", 3)]),
    },
    TypeDef {
        name: "BaseRequest",
        description: "Fields every request carries.",
        servicestack_type: false,
        kind: Kind::Class {
            inherits: None,
            returns: None,
            props: &[prop("Version", Ty::OptInt, false, "The client's API version.")],
        },
    },
    TypeDef {
        name: "BaseResponse",
        description: "Fields every response carries.",
        servicestack_type: false,
        kind: Kind::Class {
            inherits: None,
            returns: None,
            props: &[prop(
                "ResponseStatus",
                Ty::Class("ResponseStatus"),
                false,
                "Absent on success; errorCode Pending on a 202.",
            )],
        },
    },
    TypeDef {
        name: "MakePaymentResponse",
        description: "The payment's answer.",
        servicestack_type: false,
        kind: Kind::Class {
            inherits: Some("BaseResponse"),
            returns: None,
            props: &[prop(
                "Data",
                Ty::Str,
                false,
                "The backend's result (a JSON body serialised into the string); null while pending.",
            )],
        },
    },
    TypeDef {
        name: OPERATION,
        description: "Make a payment.",
        servicestack_type: false,
        kind: Kind::Class {
            inherits: Some("BaseRequest"),
            returns: Some("MakePaymentResponse"),
            props: &[
                prop("PaymentId", Ty::Guid, true, "A GUID; at most one payment per id is in flight."),
                prop("PaymentMethod", Ty::StringMap, true, "The payment method, as a JsonObject."),
                prop("ClientType", Ty::Enum("ClientType"), true, "IOS, Android or Web (or 1, 2, 3)."),
                prop("StorePaymentMethod", Ty::OptBool, false, "Keep the payment method for later payments."),
                prop("ReturnUrl", Ty::Str, false, "Absolute URL (custom app schemes allowed), at most 2048 characters."),
            ],
        },
    },
];

/// The route and verb of the operation, as its `[Route]` attribute says.
pub const ROUTE: (&str, &str) = ("/mobile/payments/makePayment", "POST");

/// `PaymentId` → `paymentId`, as ServiceStack's camelCase JSON spells it.
pub fn camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// The `/* Options: … */` header of a template (`native_types`): the date and base URL are
/// filled in when served, and each option can be overridden by the client.
fn header(options: &[(&str, &str)]) -> String {
    header_in("/* Options:", "*/", "//", "", options)
}

/// [`header`] with a language's own comment delimiters, option prefix, and lines before
/// `Version:` (Swift's `SwiftVersion:`).
pub(crate) fn header_in(
    open: &str,
    close: &str,
    prefix: &str,
    before_version: &str,
    options: &[(&str, &str)],
) -> String {
    let mut out = format!(
        "{open}\nDate: {{{{Date}}}}\n{before_version}Version: {SERVICESTACK_VERSION}\n\
         Tip: To override a DTO option, remove \"{prefix}\" prefix before updating\n\
         BaseUrl: {{{{BaseUrl}}}}\n\n"
    );
    for (name, value) in options {
        out.push_str(&format!("@@option {prefix}{name}: {value}\n"));
    }
    out.push_str(close);
    out.push_str("\n\n");
    out
}

/// The types `t` uses directly: its base, its response and its properties' types.
pub(crate) fn uses(t: &TypeDef) -> Vec<&'static str> {
    let Kind::Class {
        inherits,
        returns,
        props,
    } = &t.kind
    else {
        return Vec::new();
    };
    let mut out: Vec<&'static str> = inherits.iter().chain(returns.iter()).copied().collect();
    for p in *props {
        if let Ty::ListOf(n) | Ty::Enum(n) | Ty::Class(n) = p.ty {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// A type block's first line (`native_types`).
pub(crate) fn type_open(t: &TypeDef) -> String {
    format!("@@type {} {}\n", t.name, uses(t).join(","))
}

/// `yyyy-MM-dd HH:mm:ss`, as NativeTypes dates its header.
pub fn header_date(now_ms: u64) -> String {
    let stamp = crate::time::rfc3339_millis(now_ms);
    stamp
        .get(..19)
        .map_or_else(|| stamp.clone(), |s| s.replace('T', " "))
}

fn ts_type(ty: Ty) -> String {
    match ty {
        Ty::Str | Ty::Guid => "string".into(),
        Ty::OptBool => "boolean".into(),
        Ty::OptInt => "number".into(),
        Ty::StringMap => "{ [index:string]: string; }".into(),
        Ty::ListOf(name) => format!("{name}[]"),
        Ty::Enum(name) | Ty::Class(name) => name.into(),
    }
}

/// `/types/typescript`'s template: classes with `getTypeName`, `getMethod` and
/// `createResponse`, as `JsonServiceClient` needs them.
pub fn typescript() -> String {
    let mut out = header(&[
        ("GlobalNamespace", ""),
        ("MakePropertiesOptional", "False"),
        ("AddServiceStackTypes", "True"),
        ("AddResponseStatus", "False"),
        ("AddImplicitVersion", ""),
        ("AddDescriptionAsComments", "True"),
        ("IncludeTypes", ""),
        ("ExcludeTypes", ""),
        ("DefaultImports", ""),
    ]);
    out.push_str("export interface IReturn<T>\n{\n    createResponse(): T;\n}\n");
    for t in TYPES {
        out.push_str(&type_open(t));
        out.push('\n');
        if !t.description.is_empty() {
            out.push_str(&format!("@@doc /** @description {} */\n", t.description));
        }
        match &t.kind {
            Kind::Enum(members) => {
                out.push_str(&format!("export enum {}\n{{\n", t.name));
                for (member, _) in *members {
                    out.push_str(&format!("    {member} = '{member}',\n"));
                }
                out.push_str("}\n@@end\n");
            }
            Kind::Class {
                inherits,
                returns,
                props,
            } => {
                if returns.is_some() {
                    out.push_str(&format!("// @Route(\"{}\", \"{}\")\n", ROUTE.0, ROUTE.1));
                }
                if t.servicestack_type {
                    out.push_str("// @DataContract\n");
                }
                out.push_str(&format!("export class {}", t.name));
                if let Some(base) = inherits {
                    out.push_str(&format!(" extends {base}"));
                }
                if let Some(response) = returns {
                    out.push_str(&format!(" implements IReturn<{response}>"));
                }
                out.push_str("\n{\n");
                for (i, p) in props.iter().enumerate() {
                    if t.servicestack_type {
                        out.push_str(&format!("    // @DataMember(Order={})\n", i + 1));
                    }
                    let optional = if p.required { "" } else { "?" };
                    out.push_str(&format!(
                        "    public {}{optional}: {};\n",
                        camel(p.name),
                        ts_type(p.ty)
                    ));
                    if t.servicestack_type {
                        out.push('\n');
                    }
                }
                if !t.servicestack_type {
                    out.push('\n');
                }
                let init = if inherits.is_some() {
                    "super(init); "
                } else {
                    ""
                };
                out.push_str(&format!(
                    "    public constructor(init?: Partial<{name}>) {{ {init}(Object as any).assign(this, init); }}\n",
                    name = t.name
                ));
                if let Some(response) = returns {
                    out.push_str(&format!(
                        "    public getTypeName() {{ return '{}'; }}\n    public getMethod() {{ return '{}'; }}\n    public createResponse() {{ return new {response}(); }}\n",
                        t.name, ROUTE.1
                    ));
                }
                out.push_str("}\n@@end\n");
            }
        }
    }
    out
}

fn cs_type(ty: Ty) -> String {
    match ty {
        Ty::Str => "string".into(),
        Ty::Guid => "Guid".into(),
        Ty::OptBool => "bool?".into(),
        Ty::OptInt => "int?".into(),
        Ty::StringMap => "Dictionary<string, string>".into(),
        Ty::ListOf(name) => format!("List<{name}>"),
        Ty::Enum(name) | Ty::Class(name) => name.into(),
    }
}

/// `/types/csharp`'s template: partial classes for ServiceStack's C# `JsonServiceClient`.
/// `ResponseStatus` and `ResponseError` are ServiceStack's own (`using ServiceStack;`), as
/// NativeTypes leaves them.
pub fn csharp() -> String {
    let mut out = header(&[
        ("GlobalNamespace", ""),
        ("MakePartial", "True"),
        ("MakeVirtual", "True"),
        ("MakeInternal", "False"),
        ("MakeDataContractsExtensible", "False"),
        ("AddNullableAnnotations", "False"),
        ("AddReturnMarker", "True"),
        ("AddDescriptionAsComments", "True"),
        ("AddDataContractAttributes", "False"),
        ("AddIndexesToDataMembers", "False"),
        ("AddGeneratedCodeAttributes", "False"),
        ("AddResponseStatus", "False"),
        ("AddImplicitVersion", ""),
        ("InitializeCollections", "False"),
        ("ExportValueTypes", "False"),
        ("IncludeTypes", ""),
        ("ExcludeTypes", ""),
        ("AddNamespaces", ""),
        (
            "AddDefaultXmlNamespace",
            "http://schemas.servicestack.net/types",
        ),
    ]);
    out.push_str(&format!(
        "using System;\nusing System.Collections;\nusing System.Collections.Generic;\nusing System.Runtime.Serialization;\nusing ServiceStack;\nusing ServiceStack.DataAnnotations;\nusing {NAMESPACE};\n\nnamespace {NAMESPACE}\n{{\n"
    ));
    let mut first = true;
    for t in TYPES.iter().filter(|t| !t.servicestack_type) {
        out.push_str(&type_open(t));
        if !first {
            out.push('\n');
        }
        first = false;
        if !t.description.is_empty() {
            out.push_str(&format!(
                "@@doc     ///<summary>\n@@doc     ///{}\n@@doc     ///</summary>\n",
                t.description
            ));
        }
        match &t.kind {
            Kind::Enum(members) => {
                out.push_str(&format!("    public enum {}\n    {{\n", t.name));
                for (member, value) in *members {
                    out.push_str(&format!("        {member} = {value},\n"));
                }
                out.push_str("    }\n@@end\n");
            }
            Kind::Class {
                inherits,
                returns,
                props,
            } => {
                if returns.is_some() {
                    out.push_str(&format!("    [Route(\"{}\", \"{}\")]\n", ROUTE.0, ROUTE.1));
                }
                out.push_str(&format!("    public partial class {}\n", t.name));
                let bases: Vec<String> = inherits
                    .map(str::to_owned)
                    .into_iter()
                    .chain(returns.map(|r| format!("IReturn<{r}>")))
                    .collect();
                if !bases.is_empty() {
                    out.push_str(&format!("        : {}\n", bases.join(", ")));
                }
                out.push_str("    {\n");
                for p in *props {
                    out.push_str(&format!(
                        "        public virtual {} {} {{ get; set; }}\n",
                        cs_type(p.ty),
                        p.name
                    ));
                }
                out.push_str("    }\n@@end\n");
            }
        }
    }
    out.push_str("}\n\n");
    out
}

/// Every template the Worker serves, by `/types/{language}` name (`native_types::TEMPLATE_LANGUAGES`).
pub fn templates() -> Vec<(&'static str, String)> {
    vec![
        ("typescript", typescript()),
        ("csharp", csharp()),
        ("swift", mobile_types::swift()),
        ("kotlin", mobile_types::kotlin()),
        ("java", mobile_types::java()),
        ("dart", mobile_types::dart()),
        ("python", mobile_types::python()),
        ("metadata", metadata_template()),
    ]
}

fn type_namespace(t: &TypeDef) -> &'static str {
    if t.servicestack_type {
        "ServiceStack"
    } else {
        NAMESPACE
    }
}

pub(crate) fn find(name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|t| t.name == name)
}

fn metadata_property(p: &Prop) -> Value {
    let (ty, namespace, generic, value_type, is_enum): (&str, &str, Vec<&str>, bool, bool) =
        match p.ty {
            Ty::Str => ("String", "System", vec![], false, false),
            Ty::Guid => ("Guid", "System", vec![], true, false),
            Ty::OptBool => ("Nullable`1", "System", vec!["Boolean"], true, false),
            Ty::OptInt => ("Nullable`1", "System", vec!["Int32"], true, false),
            Ty::StringMap => (
                "Dictionary`2",
                "System.Collections.Generic",
                vec!["String", "String"],
                false,
                false,
            ),
            Ty::ListOf(name) => (
                "List`1",
                "System.Collections.Generic",
                vec![name],
                false,
                false,
            ),
            Ty::Enum(name) => (name, NAMESPACE, vec![], true, true),
            Ty::Class(name) => (
                name,
                find(name).map_or(NAMESPACE, type_namespace),
                vec![],
                false,
                false,
            ),
        };
    let mut member = Map::new();
    member.insert("name".into(), json!(p.name));
    member.insert("type".into(), json!(ty));
    member.insert("namespace".into(), json!(namespace));
    if !generic.is_empty() {
        member.insert("genericArgs".into(), json!(generic));
    }
    if value_type {
        member.insert("isValueType".into(), json!(true));
    }
    if is_enum {
        member.insert("isEnum".into(), json!(true));
    }
    if p.required {
        member.insert("isRequired".into(), json!(true));
    }
    if !p.description.is_empty() {
        member.insert("description".into(), json!(p.description));
    }
    Value::Object(member)
}

fn metadata_type(t: &TypeDef) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(t.name));
    out.insert("namespace".into(), json!(type_namespace(t)));
    if !t.description.is_empty() {
        out.insert("description".into(), json!(t.description));
    }
    match &t.kind {
        Kind::Enum(members) => {
            out.insert("isEnum".into(), json!(true));
            out.insert("isEnumInt".into(), json!(true));
            out.insert(
                "enumNames".into(),
                json!(members.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
            );
            out.insert(
                "enumValues".into(),
                json!(members
                    .iter()
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()),
            );
        }
        Kind::Class {
            inherits,
            returns,
            props,
        } => {
            if let Some(base) = inherits {
                out.insert(
                    "inherits".into(),
                    json!({"name": base, "namespace": NAMESPACE}),
                );
            }
            let implements: Vec<Value> = returns
                .iter()
                .map(|r| json!({"name": "IReturn`1", "namespace": "ServiceStack", "genericArgs": [r]}))
                .collect();
            out.insert("implements".into(), json!(implements));
            if t.servicestack_type {
                out.insert("dataContract".into(), json!({}));
            }
            out.insert(
                "properties".into(),
                json!(props.iter().map(metadata_property).collect::<Vec<_>>()),
            );
        }
    }
    Value::Object(out)
}

/// `/types/metadata`'s template: [`metadata`] for a base URL filled in when served.
fn metadata_template() -> String {
    let mut out = serde_json::to_string_pretty(&metadata("{{BaseUrl}}")).unwrap_or_default();
    out.push('\n');
    out
}

/// `/types/metadata`: ServiceStack's `MetadataTypes` document for the operation.
pub fn metadata(base_url: &str) -> Value {
    let (request, response) = match (find(OPERATION), find("MakePaymentResponse")) {
        (Some(req), Some(resp)) => (metadata_type(req), metadata_type(resp)),
        _ => (Value::Null, Value::Null),
    };
    json!({
        "config": {
            "baseUrl": base_url,
            "makePartial": true,
            "makeVirtual": true,
            "addReturnMarker": true,
            "addDescriptionAsComments": true,
            "addServiceStackTypes": true,
            "addResponseStatus": false,
            "makePropertiesOptional": false,
            "initializeCollections": false,
            "addDefaultXmlNamespace": "http://schemas.servicestack.net/types",
            "defaultNamespaces": ["System", "System.Collections", "System.Collections.Generic", "System.Runtime.Serialization", "ServiceStack", "ServiceStack.DataAnnotations", NAMESPACE],
        },
        "namespaces": ["System", "System.Collections.Generic", "ServiceStack", NAMESPACE],
        "types": TYPES
            .iter()
            .filter(|t| t.name != OPERATION && t.name != "MakePaymentResponse")
            .map(metadata_type)
            .collect::<Vec<_>>(),
        "operations": [{
            "request": request,
            "response": response,
            "actions": [ROUTE.1],
            "method": ROUTE.1,
            "returnType": {"name": "MakePaymentResponse", "namespace": NAMESPACE},
            "routes": [{"path": ROUTE.0, "verbs": ROUTE.1}],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::servicestack::native_types::{render, TEMPLATE_LANGUAGES};

    const OPENAPI: &str = include_str!("../../../../static/openapi.json");

    /// A template as the Worker serves it without options.
    fn served(template: &str, base_url: &str, now_ms: u64) -> String {
        render(template, base_url, &header_date(now_ms), &[]).unwrap()
    }

    /// `static/types/` holds exactly what the renderers write: the Worker serves those files.
    /// `UPDATE_TYPES=1 cargo test -p edgepay-core committed_templates` writes them afresh.
    #[test]
    fn committed_templates_are_the_renderers_output() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../static/types");
        for (language, template) in templates() {
            let path = dir.join(format!("{language}.txt"));
            if std::env::var_os("UPDATE_TYPES").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &template).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == template,
                "{} is stale: run UPDATE_TYPES=1 cargo test -p edgepay-core committed_templates",
                path.display()
            );
        }
        assert_eq!(
            templates().iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            TEMPLATE_LANGUAGES
        );
    }

    fn schemas() -> Value {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        doc["components"]["schemas"].clone()
    }

    /// A class's properties with its base classes' (base first), camelCased.
    fn flattened(name: &str) -> Vec<(String, &'static Prop)> {
        let Some(TypeDef {
            kind: Kind::Class {
                inherits, props, ..
            },
            ..
        }) = find(name)
        else {
            panic!("{name} is not a described class");
        };
        let mut all = inherits.map(flattened).unwrap_or_default();
        all.extend(props.iter().map(|p| (camel(p.name), p)));
        all
    }

    /// Whether an OpenAPI property schema describes what `ty` carries.
    fn matches(ty: Ty, schema: &Value) -> bool {
        let kind = schema["type"].as_str().unwrap_or_default();
        match ty {
            Ty::Str => kind == "string",
            Ty::Guid => kind == "string" && schema["format"] == "uuid",
            Ty::OptBool => kind == "boolean",
            Ty::OptInt => kind == "integer",
            Ty::StringMap => kind == "object" && schema["additionalProperties"]["type"] == "string",
            Ty::ListOf(_) => kind == "array",
            Ty::Enum(name) => match find(name).map(|t| &t.kind) {
                Some(Kind::Enum(members)) => {
                    let allowed = schema["enum"].as_array().cloned().unwrap_or_default();
                    members.iter().all(|(m, v)| {
                        allowed.contains(&json!(m)) && allowed.contains(&json!(v.to_string()))
                    })
                }
                _ => false,
            },
            Ty::Class(_) => schema.get("$ref").is_some() || kind == "object",
        }
    }

    fn names(schema: &Value) -> Vec<String> {
        let mut keys: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    #[test]
    fn the_request_dto_is_the_openapi_request_schema() {
        let schema = &schemas()["ServiceStackPaymentRequest"];
        let props = flattened(OPERATION);
        let mut ours: Vec<String> = props.iter().map(|(n, _)| n.clone()).collect();
        ours.sort();
        assert_eq!(ours, names(schema));
        let mut required: Vec<String> = props
            .iter()
            .filter(|(_, p)| p.required)
            .map(|(n, _)| n.clone())
            .collect();
        required.sort();
        let mut theirs: Vec<String> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        theirs.sort();
        assert_eq!(required, theirs);
        for (name, p) in &props {
            assert!(
                matches(p.ty, &schema["properties"][name]),
                "{name}: {:?} vs {}",
                p.ty,
                schema["properties"][name]
            );
        }
    }

    #[test]
    fn the_response_dto_covers_every_openapi_answer() {
        let s = schemas();
        let props = flattened("MakePaymentResponse");
        for answer in [
            "ServiceStackData",
            "ServiceStackPending",
            "ServiceStackError",
        ] {
            for name in names(&s[answer]) {
                assert!(
                    props.iter().any(|(n, _)| *n == name),
                    "{answer}.{name} is not in MakePaymentResponse"
                );
            }
        }
        let data = props.iter().find(|(n, _)| n == "data").unwrap();
        assert!(matches(
            data.1.ty,
            &s["ServiceStackData"]["properties"]["data"]
        ));
        let status = flattened("ResponseStatus");
        let openapi_status = &s["ServiceStackResponseStatus"];
        for name in names(openapi_status) {
            let (_, p) = status
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("ResponseStatus has no {name}"));
            assert!(
                matches(p.ty, &openapi_status["properties"][&name]),
                "{name}"
            );
        }
        let error = flattened("ResponseError");
        for name in names(&openapi_status["properties"]["errors"]["items"]) {
            assert!(
                error.iter().any(|(n, _)| *n == name),
                "ResponseError.{name}"
            );
        }
    }

    #[test]
    fn every_referenced_type_is_described_before_its_use() {
        // Its base, its response and its properties' types: Python, for one, needs each
        // class defined before a class that names it.
        for (i, t) in TYPES.iter().enumerate() {
            for name in uses(t) {
                let at = TYPES.iter().position(|u| u.name == name);
                assert!(at.is_some_and(|at| at < i), "{} uses {name}", t.name);
            }
        }
    }

    #[test]
    fn typescript_has_the_options_header_and_what_the_client_calls() {
        let ts = served(&typescript(), "http://127.0.0.1:8787", 1_795_245_413_123);
        assert!(ts.starts_with("/* Options:\nDate: 2026-11-21 "), "{ts}");
        assert!(ts.contains("\nBaseUrl: http://127.0.0.1:8787\n\n//GlobalNamespace: \n"));
        assert!(ts.contains("//DefaultImports: \n*/\n"));
        assert!(ts.contains(
            "export class MakePaymentRequest extends BaseRequest implements IReturn<MakePaymentResponse>\n{"
        ));
        assert!(ts.contains("    public getTypeName() { return 'MakePaymentRequest'; }\n"));
        assert!(ts.contains("    public getMethod() { return 'POST'; }\n"));
        assert!(ts.contains("    public createResponse() { return new MakePaymentResponse(); }\n"));
        assert!(ts.contains("    public paymentId: string;\n"));
        assert!(ts.contains("    public storePaymentMethod?: boolean;\n"));
        assert!(ts.contains("    public paymentMethod: { [index:string]: string; };\n"));
        assert!(ts.contains("    IOS = 'IOS',\n"));
        assert!(ts.contains("export class ResponseStatus\n{\n    // @DataMember(Order=1)\n"));
        assert!(ts.contains(
            "    public constructor(init?: Partial<MakePaymentResponse>) { super(init); (Object as any).assign(this, init); }"
        ));
        assert!(ts.contains("// @Route(\"/mobile/payments/makePayment\", \"POST\")\n"));
    }

    #[test]
    fn csharp_leaves_servicestack_types_to_servicestack() {
        let cs = served(&csharp(), "https://pay.example.com", 0);
        assert!(cs.starts_with("/* Options:\nDate: 1970-01-01 00:00:00\n"));
        assert!(
            cs.contains("//AddDefaultXmlNamespace: http://schemas.servicestack.net/types\n*/\n")
        );
        assert!(cs.contains("namespace Edgepay.ServiceModel\n{\n"));
        assert!(cs.contains(
            "    [Route(\"/mobile/payments/makePayment\", \"POST\")]\n    public partial class MakePaymentRequest\n        : BaseRequest, IReturn<MakePaymentResponse>\n    {\n"
        ));
        assert!(cs.contains("        public virtual Guid PaymentId { get; set; }\n"));
        assert!(cs.contains("        public virtual ResponseStatus ResponseStatus { get; set; }\n"));
        assert!(cs.contains("        IOS = 1,\n"));
        assert!(!cs.contains("class ResponseStatus"));
    }

    #[test]
    fn metadata_describes_the_one_operation() {
        let m = metadata("https://pay.example.com");
        assert_eq!(m["config"]["baseUrl"], "https://pay.example.com");
        let op = &m["operations"][0];
        assert_eq!(op["request"]["name"], OPERATION);
        assert_eq!(op["request"]["inherits"]["name"], "BaseRequest");
        assert_eq!(op["response"]["name"], "MakePaymentResponse");
        assert_eq!(op["routes"][0]["path"], ROUTE.0);
        assert_eq!(op["method"], "POST");
        let type_names: Vec<&str> = m["types"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        for name in [
            "ClientType",
            "BaseRequest",
            "BaseResponse",
            "ResponseStatus",
            "ResponseError",
        ] {
            assert!(type_names.contains(&name), "{name}");
        }
        let payment_id = &op["request"]["properties"][0];
        assert_eq!(payment_id["name"], "PaymentId");
        assert_eq!(payment_id["type"], "Guid");
        assert_eq!(payment_id["isValueType"], true);
    }
}

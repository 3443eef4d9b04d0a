//! The Swift, Kotlin, Java, Dart and Python templates of "Add ServiceStack Reference", rendered on the host from the one description in `types`.
//!
//! Each follows the structure ServiceStack's own NativeTypes generators give these languages
//! (their option headers, in their order and with their defaults, and each language's way of
//! writing a request DTO, its response, an enum and the base classes). ServiceStack's own
//! types (`ResponseStatus`, `ResponseError`) are left to each language's client library, as
//! NativeTypes leaves them. The options a client sends back are applied by `native_types`:
//! `IncludeTypes`, `ExcludeTypes`, `AddDescriptionAsComments`, and the names used in code
//! (`Package`, `GlobalNamespace`); the others are echoed as sent and change nothing here.

use crate::dialect::servicestack::types::{
    camel, header_in, type_open, Kind, Prop, Ty, TypeDef, ROUTE, TYPES,
};

/// The types a mobile file carries: the operation's own, not ServiceStack's.
fn own_types() -> impl Iterator<Item = &'static TypeDef> {
    TYPES.iter().filter(|t| !t.servicestack_type)
}

/// A class's parts, for the renderers below.
struct Class {
    inherits: Option<&'static str>,
    returns: Option<&'static str>,
    props: &'static [Prop],
}

fn class_of(t: &TypeDef) -> Option<Class> {
    match &t.kind {
        Kind::Class {
            inherits,
            returns,
            props,
        } => Some(Class {
            inherits: *inherits,
            returns: *returns,
            props,
        }),
        Kind::Enum(_) => None,
    }
}

fn members(t: &TypeDef) -> &'static [(&'static str, i64)] {
    match &t.kind {
        Kind::Enum(members) => members,
        Kind::Class { .. } => &[],
    }
}

/// A collection a client must always send: initialised, never null.
fn required_collection(p: &Prop) -> bool {
    p.required && matches!(p.ty, Ty::StringMap | Ty::ListOf(_))
}

/// `/** description */` as Swift, Kotlin and Java write it, at `indent`.
fn block_doc(out: &mut String, indent: &str, description: &str) {
    if !description.is_empty() {
        out.push_str(&format!(
            "@@doc {indent}/**\n@@doc {indent}* {description}\n@@doc {indent}*/\n"
        ));
    }
}

// ---- Swift -------------------------------------------------------------------------------

fn swift_type(ty: Ty) -> String {
    match ty {
        Ty::Str | Ty::Guid => "String".into(),
        Ty::OptBool => "Bool".into(),
        Ty::OptInt => "Int".into(),
        Ty::StringMap => "[String:String]".into(),
        Ty::ListOf(n) => format!("[{n}]"),
        Ty::Enum(n) | Ty::Class(n) => n.into(),
    }
}

fn swift_empty(ty: Ty) -> &'static str {
    if matches!(ty, Ty::StringMap) {
        "[:]"
    } else {
        "[]"
    }
}

/// `/types/swift`: `Codable` classes with `IReturn`'s `Return` typealias, as the Swift
/// `JsonServiceClient` needs them; a subclass codes its own keys after its base's.
pub fn swift() -> String {
    let mut out = header_in(
        "/* Options:",
        "*/",
        "//",
        "SwiftVersion: 6.0\n",
        &[
            ("BaseClass", ""),
            ("AddModelExtensions", "True"),
            ("AddServiceStackTypes", "True"),
            ("MakePropertiesOptional", "True"),
            ("IncludeTypes", ""),
            ("ExcludeTypes", ""),
            ("ExcludeGenericBaseTypes", "False"),
            ("AddResponseStatus", "False"),
            ("AddImplicitVersion", ""),
            ("AddDescriptionAsComments", "True"),
            ("InitializeCollections", "False"),
            ("TreatTypesAsStrings", ""),
            ("DefaultImports", "Foundation,ServiceStack"),
        ],
    );
    out.push_str("import Foundation\nimport ServiceStack\n");
    for t in own_types() {
        out.push_str(&type_open(t));
        out.push('\n');
        block_doc(&mut out, "", t.description);
        let Some(c) = class_of(t) else {
            out.push_str(&format!("public enum {} : Int, Codable\n{{\n", t.name));
            for (member, value) in members(t) {
                out.push_str(&format!("    case {member} = {value}\n"));
            }
            out.push_str("}\n@@end\n");
            continue;
        };
        if c.returns.is_some() {
            out.push_str(&format!("// @Route(\"{}\", \"{}\")\n", ROUTE.0, ROUTE.1));
        }
        let mut bases: Vec<&str> = c.inherits.into_iter().collect();
        if c.returns.is_some() {
            bases.push("IReturn");
        }
        if c.inherits.is_none() {
            bases.push("Codable");
        }
        out.push_str(&format!(
            "public class {} : {}\n{{\n",
            t.name,
            bases.join(", ")
        ));
        if let Some(r) = c.returns {
            out.push_str(&format!("    public typealias Return = {r}\n\n"));
        }
        for p in c.props {
            let name = camel(p.name);
            let ty = swift_type(p.ty);
            if required_collection(p) {
                out.push_str(&format!(
                    "    public var {name}:{ty} = {}\n",
                    swift_empty(p.ty)
                ));
            } else {
                out.push_str(&format!("    public var {name}:{ty}?\n"));
            }
        }
        if c.inherits.is_none() {
            out.push_str("\n    required public init(){}\n}\n@@end\n");
            continue;
        }
        out.push_str("\n    required public init(){ super.init() }\n\n");
        out.push_str("    private enum CodingKeys : String, CodingKey {\n");
        for p in c.props {
            out.push_str(&format!("        case {}\n", camel(p.name)));
        }
        out.push_str("    }\n\n    required public init(from decoder: Decoder) throws {\n");
        out.push_str("        try super.init(from: decoder)\n");
        out.push_str("        let container = try decoder.container(keyedBy: CodingKeys.self)\n");
        for p in c.props {
            let name = camel(p.name);
            let fallback = if required_collection(p) {
                format!(" ?? {}", swift_empty(p.ty))
            } else {
                String::new()
            };
            out.push_str(&format!(
                "        {name} = try container.decodeIfPresent({}.self, forKey: .{name}){fallback}\n",
                swift_type(p.ty)
            ));
        }
        out.push_str("    }\n\n    public override func encode(to encoder: Encoder) throws {\n");
        out.push_str("        try super.encode(to: encoder)\n");
        out.push_str("        var container = encoder.container(keyedBy: CodingKeys.self)\n");
        for p in c.props {
            let name = camel(p.name);
            let present = if required_collection(p) {
                format!("{name}.count > 0")
            } else {
                format!("{name} != nil")
            };
            out.push_str(&format!(
                "        if {present} {{ try container.encode({name}, forKey: .{name}) }}\n"
            ));
        }
        out.push_str("    }\n}\n@@end\n");
    }
    out.push_str("\n\n");
    out
}

// ---- Kotlin and Java -----------------------------------------------------------------------

/// `IOS` → `Ios`, as ServiceStack's Kotlin and Java enums spell members.
fn pascal_member(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
    })
}

fn jvm_type(ty: Ty, kotlin: bool) -> String {
    match ty {
        Ty::Str => "String".into(),
        Ty::Guid => "UUID".into(),
        Ty::OptBool => "Boolean".into(),
        Ty::OptInt if kotlin => "Int".into(),
        Ty::OptInt => "Integer".into(),
        Ty::StringMap => "HashMap<String,String>".into(),
        Ty::ListOf(n) => format!("ArrayList<{n}>"),
        Ty::Enum(n) | Ty::Class(n) => n.into(),
    }
}

const JVM_IMPORTS: &str = "java.math.*,java.util.*,java.io.InputStream,net.servicestack.client.*";

fn route_annotation() -> String {
    format!("@Route(Path=\"{}\", Verbs=\"{}\")", ROUTE.0, ROUTE.1)
}

/// `/types/kotlin`: open classes for the `net.servicestack.client` `JsonServiceClient`.
pub fn kotlin() -> String {
    let mut out = header_in(
        "/* Options:",
        "*/",
        "//",
        "",
        &[
            ("Package", ""),
            ("AddServiceStackTypes", "True"),
            ("AddResponseStatus", "False"),
            ("AddImplicitVersion", ""),
            ("AddDescriptionAsComments", "True"),
            ("IncludeTypes", ""),
            ("ExcludeTypes", ""),
            ("InitializeCollections", "False"),
            ("TreatTypesAsStrings", ""),
            ("DefaultImports", JVM_IMPORTS),
        ],
    );
    out.push_str("@@if Package package {{opt Package}}\n@@if Package\n");
    for import in JVM_IMPORTS.split(',') {
        out.push_str(&format!("import {import}\n"));
    }
    out.push('\n');
    for t in own_types() {
        out.push_str(&type_open(t));
        out.push('\n');
        block_doc(&mut out, "", t.description);
        let Some(c) = class_of(t) else {
            out.push_str(&format!("enum class {}(val value:Int)\n{{\n", t.name));
            for (member, value) in members(t) {
                out.push_str(&format!("    {}({value}),\n", pascal_member(member)));
            }
            out.push_str("}\n@@end\n");
            continue;
        };
        if c.returns.is_some() {
            out.push_str(&format!("{}\n", route_annotation()));
        }
        let bases: Vec<String> = c
            .inherits
            .map(|b| format!("{b}()"))
            .into_iter()
            .chain(c.returns.map(|r| format!("IReturn<{r}>")))
            .collect();
        out.push_str(&format!("open class {}", t.name));
        if !bases.is_empty() {
            out.push_str(&format!(" : {}", bases.join(", ")));
        }
        out.push_str("\n{\n");
        for p in c.props {
            let ty = jvm_type(p.ty, true);
            if required_collection(p) {
                out.push_str(&format!("    open var {}:{ty} = {ty}()\n", camel(p.name)));
            } else {
                out.push_str(&format!("    open var {}:{ty}? = null\n", camel(p.name)));
            }
        }
        if let Some(r) = c.returns {
            out.push_str(&format!(
                "    companion object {{ private val responseType = {r}::class.java }}\n    override fun getResponseType(): Any? = {}.responseType\n",
                t.name
            ));
        }
        out.push_str("}\n@@end\n");
    }
    out
}

/// `/types/java`: static classes with fluent accessors inside one `dtos` class, for the
/// `net.servicestack.client` `JsonServiceClient`.
pub fn java() -> String {
    let mut out = header_in(
        "/* Options:",
        "*/",
        "//",
        "",
        &[
            ("Package", ""),
            ("GlobalNamespace", "dtos"),
            ("AddPropertyAccessors", "True"),
            ("SettersReturnThis", "True"),
            ("AddServiceStackTypes", "True"),
            ("AddResponseStatus", "False"),
            ("AddDescriptionAsComments", "True"),
            ("AddImplicitVersion", ""),
            ("IncludeTypes", ""),
            ("ExcludeTypes", ""),
            ("TreatTypesAsStrings", ""),
            ("DefaultImports", JVM_IMPORTS),
        ],
    );
    out.push_str("@@if Package package {{opt Package}};\n@@if Package\n");
    for import in JVM_IMPORTS.split(',') {
        out.push_str(&format!("import {import};\n"));
    }
    out.push_str("\npublic class {{ident GlobalNamespace}}\n{\n");
    for t in own_types() {
        out.push_str(&type_open(t));
        out.push('\n');
        block_doc(&mut out, "    ", t.description);
        let Some(c) = class_of(t) else {
            out.push_str(&format!("    public static enum {}\n    {{\n", t.name));
            let list = members(t);
            for (i, (member, value)) in list.iter().enumerate() {
                let end = if i + 1 == list.len() { ';' } else { ',' };
                out.push_str(&format!(
                    "        {}({value}){end}\n",
                    pascal_member(member)
                ));
            }
            out.push_str(&format!(
                "\n        private final int value;\n        {}(final int intValue) {{ value = intValue; }}\n        public int getValue() {{ return value; }}\n    }}\n@@end\n",
                t.name
            ));
            continue;
        };
        if c.returns.is_some() {
            out.push_str(&format!("    {}\n", route_annotation()));
        }
        out.push_str(&format!("    public static class {}", t.name));
        if let Some(b) = c.inherits {
            out.push_str(&format!(" extends {b}"));
        }
        if let Some(r) = c.returns {
            out.push_str(&format!(" implements IReturn<{r}>"));
        }
        out.push_str("\n    {\n");
        for p in c.props {
            let ty = jvm_type(p.ty, false);
            let init = if required_collection(p) {
                format!("new {ty}()")
            } else {
                "null".into()
            };
            out.push_str(&format!(
                "        public {ty} {} = {init};\n",
                camel(p.name)
            ));
        }
        out.push_str("        \n");
        for p in c.props {
            let name = camel(p.name);
            let ty = jvm_type(p.ty, false);
            let getter = if matches!(p.ty, Ty::OptBool) {
                "is"
            } else {
                "get"
            };
            out.push_str(&format!(
                "        public {ty} {getter}{}() {{ return {name}; }}\n        public {} set{}({ty} value) {{ this.{name} = value; return this; }}\n",
                p.name, t.name, p.name
            ));
        }
        if let Some(r) = c.returns {
            out.push_str(&format!(
                "        private static Object responseType = {r}.class;\n        public Object getResponseType() {{ return responseType; }}\n"
            ));
        }
        out.push_str("    }\n@@end\n");
    }
    out.push_str("\n}\n\n");
    out
}

// ---- Dart -----------------------------------------------------------------------------------

fn dart_type(ty: Ty) -> String {
    match ty {
        Ty::Str | Ty::Guid => "String".into(),
        Ty::OptBool => "bool".into(),
        Ty::OptInt => "int".into(),
        Ty::StringMap => "Map<String,String?>".into(),
        Ty::ListOf(n) => format!("List<{n}>"),
        Ty::Enum(n) | Ty::Class(n) => n.into(),
    }
}

/// A Dart property: its declaration, its constructor parameter, how `fromMap` reads it and
/// how `toJson` writes it.
fn dart_prop(p: &Prop) -> (String, String, String, String) {
    let name = camel(p.name);
    let ty = dart_type(p.ty);
    let key = format!("json['{name}']");
    let via_context = |from: bool| {
        if from {
            format!("JsonConverters.fromJson({key},'{ty}',context!)")
        } else {
            format!("JsonConverters.toJson({name},'{ty}',context!)")
        }
    };
    match p.ty {
        Ty::Guid if p.required => (
            format!("{ty} {name} = \"\";"),
            format!("this.{name}=\"\""),
            format!("{key} ?? \"\""),
            name.clone(),
        ),
        Ty::StringMap => (
            format!("{ty}? {name};"),
            format!("this.{name}"),
            format!("JsonConverters.toStringMap({key})"),
            name.clone(),
        ),
        Ty::Str | Ty::Guid | Ty::OptBool | Ty::OptInt => (
            format!("{ty}? {name};"),
            format!("this.{name}"),
            key,
            name.clone(),
        ),
        Ty::ListOf(_) | Ty::Enum(_) | Ty::Class(_) => (
            format!("{ty}? {name};"),
            format!("this.{name}"),
            via_context(true),
            via_context(false),
        ),
    }
}

/// `/types/dart`: `IConvertible` classes and the `TypeContext` the Dart `JsonServiceClient`
/// builds responses with.
pub fn dart() -> String {
    let mut out = header_in(
        "/* Options:",
        "*/",
        "//",
        "",
        &[
            ("GlobalNamespace", ""),
            ("AddServiceStackTypes", "True"),
            ("AddResponseStatus", "False"),
            ("AddImplicitVersion", ""),
            ("AddDescriptionAsComments", "True"),
            ("IncludeTypes", ""),
            ("ExcludeTypes", ""),
            ("DefaultImports", "package:servicestack/servicestack.dart"),
        ],
    );
    out.push_str("@@if GlobalNamespace library {{opt GlobalNamespace}};\n@@if GlobalNamespace\n");
    out.push_str("import 'package:servicestack/servicestack.dart';\n");
    for t in own_types() {
        out.push_str(&type_open(t));
        out.push('\n');
        block_doc(&mut out, "", t.description);
        let Some(c) = class_of(t) else {
            out.push_str(&format!("enum {}\n{{\n", t.name));
            for (member, _) in members(t) {
                out.push_str(&format!("    {member},\n"));
            }
            out.push_str("}\n@@end\n");
            continue;
        };
        if c.returns.is_some() {
            out.push_str(&format!("// @Route(\"{}\", \"{}\")\n", ROUTE.0, ROUTE.1));
        }
        out.push_str(&format!("class {}", t.name));
        if let Some(b) = c.inherits {
            out.push_str(&format!(" extends {b}"));
        }
        let mut implements: Vec<String> = c
            .returns
            .map(|r| format!("IReturn<{r}>"))
            .into_iter()
            .collect();
        implements.push("IConvertible".into());
        if c.returns.is_some() {
            implements.push("IPost".into());
        }
        out.push_str(&format!(" implements {}\n{{\n", implements.join(", ")));
        let props: Vec<_> = c.props.iter().map(dart_prop).collect();
        for (decl, _, _, _) in &props {
            out.push_str(&format!("    {decl}\n"));
        }
        let params: Vec<&str> = props.iter().map(|(_, p, _, _)| p.as_str()).collect();
        out.push_str(&format!(
            "\n    {name}({{{}}});\n    {name}.fromJson(Map<String, dynamic> json) {{ fromMap(json); }}\n\n    fromMap(Map<String, dynamic> json) {{\n",
            params.join(","),
            name = t.name
        ));
        if c.inherits.is_some() {
            out.push_str("        super.fromMap(json);\n");
        }
        for (p, (_, _, read, _)) in c.props.iter().zip(&props) {
            out.push_str(&format!("        {} = {read};\n", camel(p.name)));
        }
        out.push_str("        return this;\n    }\n\n");
        let writes: Vec<String> = c
            .props
            .iter()
            .zip(&props)
            .map(|(p, (_, _, _, write))| format!("        '{}': {write}", camel(p.name)))
            .collect();
        let open = if c.inherits.is_some() {
            "super.toJson()..addAll({"
        } else {
            "{"
        };
        let close = if c.inherits.is_some() { "});" } else { "};" };
        out.push_str(&format!(
            "    Map<String, dynamic> toJson() => {open}\n{}\n    {close}\n\n",
            writes.join(",\n")
        ));
        if let Some(r) = c.returns {
            out.push_str(&format!(
                "    createResponse() => {r}();\n    getResponseTypeName() => \"{r}\";\n"
            ));
        }
        out.push_str(&format!(
            "    getTypeName() => \"{}\";\n    TypeContext? context = _ctx;\n}}\n@@end\n",
            t.name
        ));
    }
    out.push_str("\nTypeContext _ctx = TypeContext(library: '{{opt GlobalNamespace|host}}', types: <String, TypeInfo> {\n");
    for t in own_types() {
        out.push_str(&type_open(t));
        match &t.kind {
            Kind::Enum(_) => out.push_str(&format!(
                "    '{0}': TypeInfo(TypeOf.Enum, enumValues:{0}.values),\n",
                t.name
            )),
            Kind::Class { .. } => out.push_str(&format!(
                "    '{0}': TypeInfo(TypeOf.Class, create:() => {0}()),\n",
                t.name
            )),
        }
        out.push_str("@@end\n");
    }
    out.push_str("});\n\n");
    out
}

// ---- Python --------------------------------------------------------------------------------

/// `PaymentId` → `payment_id`, as ServiceStack's Python DTOs name fields.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn python_type(ty: Ty) -> String {
    match ty {
        Ty::Str | Ty::Guid => "str".into(),
        Ty::OptBool => "bool".into(),
        Ty::OptInt => "int".into(),
        Ty::StringMap => "Dict[str, str]".into(),
        Ty::ListOf(n) => format!("List[{n}]"),
        Ty::Enum(n) | Ty::Class(n) => n.into(),
    }
}

const PYTHON_IMPORTS: &str = "datetime,decimal,marshmallow.fields:*,servicestack:*,typing:*,dataclasses:dataclass/field,dataclasses_json:dataclass_json/LetterCase/Undefined/config,enum:Enum/IntEnum";

/// `/types/python`: dataclasses for the PyPI `servicestack` `JsonServiceClient`, which posts
/// a request to `/api/{its class name}` and reads the answer as its `IReturn` type.
pub fn python() -> String {
    let mut out = header_in(
        "\"\"\" Options:",
        "\"\"\"",
        "#",
        "",
        &[
            ("GlobalNamespace", ""),
            ("AddServiceStackTypes", "True"),
            ("AddResponseStatus", "False"),
            ("AddImplicitVersion", ""),
            ("AddDescriptionAsComments", "True"),
            ("IncludeTypes", ""),
            ("ExcludeTypes", ""),
            ("DefaultImports", PYTHON_IMPORTS),
            ("DataClass", ""),
            ("DataClassJson", ""),
        ],
    );
    for import in PYTHON_IMPORTS.split(',') {
        match import.split_once(':') {
            Some((module, names)) => out.push_str(&format!(
                "from {module} import {}\n",
                names.split('/').collect::<Vec<_>>().join(", ")
            )),
            None => out.push_str(&format!("import {import}\n")),
        }
    }
    out.push_str("Object = TypeVar('Object')\n");
    out.push_str("@@if GlobalNamespace\n@@if GlobalNamespace # module {{opt GlobalNamespace}}\n");
    for t in own_types() {
        out.push_str(&type_open(t));
        out.push_str("\n\n");
        let Some(c) = class_of(t) else {
            out.push_str(&format!("class {}(IntEnum):\n", t.name));
            for (member, value) in members(t) {
                out.push_str(&format!("    {} = {value}\n", member.to_ascii_uppercase()));
            }
            out.push_str("@@end\n");
            continue;
        };
        if c.returns.is_some() {
            out.push_str(&format!("# @Route(\"{}\", \"{}\")\n", ROUTE.0, ROUTE.1));
        }
        out.push_str(
            "@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)\n@dataclass\n",
        );
        let bases: Vec<String> = c
            .inherits
            .map(str::to_owned)
            .into_iter()
            .chain(c.returns.map(|r| format!("IReturn[{r}]")))
            .collect();
        out.push_str(&format!("class {}", t.name));
        if !bases.is_empty() {
            out.push_str(&format!("({})", bases.join(", ")));
        }
        out.push_str(":\n");
        if !t.description.is_empty() {
            out.push_str(&format!(
                "@@doc     \"\"\"\n@@doc     {}\n@@doc     \"\"\"\n\n",
                t.description
            ));
        }
        for p in c.props {
            let ty = python_type(p.ty);
            let name = snake(p.name);
            if required_collection(p) {
                let factory = if matches!(p.ty, Ty::StringMap) {
                    "dict"
                } else {
                    "list"
                };
                out.push_str(&format!(
                    "    {name}: {ty} = field(default_factory={factory})\n"
                ));
            } else {
                out.push_str(&format!("    {name}: Optional[{ty}] = None\n"));
            }
        }
        out.push_str("@@end\n");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::servicestack::native_types::render;

    fn served(template: &str) -> String {
        render(
            template,
            "http://127.0.0.1:8787",
            "2026-12-06 10:00:00",
            &[],
        )
        .unwrap()
    }

    #[test]
    fn every_language_has_the_operation_and_leaves_servicestacks_types_to_its_client() {
        for (language, template, request) in [
            ("swift", swift(), "public class MakePaymentRequest : BaseRequest, IReturn\n"),
            ("kotlin", kotlin(), "open class MakePaymentRequest : BaseRequest(), IReturn<MakePaymentResponse>\n"),
            ("java", java(), "    public static class MakePaymentRequest extends BaseRequest implements IReturn<MakePaymentResponse>\n"),
            ("dart", dart(), "class MakePaymentRequest extends BaseRequest implements IReturn<MakePaymentResponse>, IConvertible, IPost\n"),
            ("python", python(), "class MakePaymentRequest(BaseRequest, IReturn[MakePaymentResponse]):\n"),
        ] {
            let file = served(&template);
            assert!(file.contains(request), "{language}:\n{file}");
            assert!(file.contains("BaseUrl: http://127.0.0.1:8787\n"), "{language}");
            assert!(!file.contains("class ResponseStatus"), "{language}");
            assert!(!file.contains("@@") && !file.contains("{{"), "{language}:\n{file}");
            for t in own_types() {
                assert!(file.contains(t.name), "{language} lacks {}", t.name);
            }
        }
    }

    #[test]
    fn each_language_names_properties_and_members_its_way() {
        let swift = served(&swift());
        assert!(swift.contains("    public typealias Return = MakePaymentResponse\n"));
        assert!(swift.contains("    public var paymentMethod:[String:String] = [:]\n"));
        assert!(swift.contains("    case IOS = 1\n"));
        assert!(swift
            .starts_with("/* Options:\nDate: 2026-12-06 10:00:00\nSwiftVersion: 6.0\nVersion: "));
        let kotlin = served(&kotlin());
        assert!(kotlin.contains("    open var paymentId:UUID? = null\n"));
        assert!(kotlin.contains("    Ios(1),\n"));
        assert!(!kotlin.contains("\npackage "));
        let java = served(&java());
        assert!(java.contains("\npublic class dtos\n{\n"));
        assert!(java.contains(
            "        public Boolean isStorePaymentMethod() { return storePaymentMethod; }\n"
        ));
        assert!(java.contains("        Web(3);\n"));
        let dart = served(&dart());
        assert!(dart.contains("    String paymentId = \"\";\n"));
        assert!(dart.contains("TypeContext _ctx = TypeContext(library: '127.0.0.1', types:"));
        let python = served(&python());
        assert!(python.starts_with("\"\"\" Options:\n"));
        assert!(
            python.contains("Tip: To override a DTO option, remove \"#\" prefix before updating\n")
        );
        assert!(
            python.contains("    payment_method: Dict[str, str] = field(default_factory=dict)\n")
        );
        assert!(python.contains("class ClientType(IntEnum):\n    IOS = 1\n    ANDROID = 2\n"));
        assert_eq!(snake("StorePaymentMethod"), "store_payment_method");
    }

    #[test]
    fn include_types_with_dot_star_keeps_the_request_and_everything_it_uses() {
        let q = vec![(
            "IncludeTypes".to_owned(),
            "MakePaymentResponse.*".to_owned(),
        )];
        let kotlin = render(&kotlin(), "http://h", "d", &q).unwrap();
        assert!(kotlin.contains("open class MakePaymentResponse : BaseResponse()"));
        assert!(kotlin.contains("open class BaseResponse\n"));
        assert!(!kotlin.contains("MakePaymentRequest"));
        assert!(!kotlin.contains("enum class ClientType"));
    }
}

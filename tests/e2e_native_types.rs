//! "Add ServiceStack Reference" for the mobile languages, driven by the real tools: `@servicestack/cli` adds and updates Swift, Kotlin, Java and Dart references from a running gateway, javac compiles the Java, and the PyPI `servicestack` client pays with the Python DTOs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use support::gateway::Gateway;
use support::*;

/// A tool run takes a second or two; generous for a machine shared by several builds.
const TOOL_DEADLINE: Duration = Duration::from_secs(120);

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| sandbox_gateway("native-types", &[]))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh working directory for one test.
fn work_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("edgepay-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program args…` in `cwd`, killed at the deadline.
async fn run(program: &Path, args: &[&str], cwd: &Path) -> Ran {
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        // The CLI reports each use to servicestack.net unless told not to; offline that
        // request fails and crashes it after the file is written.
        .env("SERVICESTACK_TELEMETRY_OPTOUT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} runs (make test installs it): {e}", program.display()));
    let out = tokio::time::timeout(TOOL_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish in {TOOL_DEADLINE:?}", program.display()))
        .expect("its output");
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Adds the reference with `<tool> <gateway>` in a fresh directory: the file it wrote.
async fn add_reference(tool: &str, file: &str) -> (PathBuf, String) {
    let dir = work_dir(tool);
    let cli = root().join("node_modules/.bin").join(tool);
    let added = run(&cli, &[&gateway().base], &dir).await;
    assert!(
        added.ok && added.stdout.contains("Saved to: dtos."),
        "{tool}: {}{}",
        added.stdout,
        added.stderr
    );
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    (path, text)
}

#[tokio::test]
async fn each_reference_tool_adds_its_file_and_an_update_sends_its_options_back() {
    let base = &gateway().base;
    for (tool, file, request, package_line) in [
        ("swift-ref", "dtos.swift", "public class MakePaymentRequest : BaseRequest, IReturn\n", None),
        (
            "kotlin-ref",
            "dtos.kt",
            "open class MakePaymentRequest : BaseRequest(), IReturn<MakePaymentResponse>\n",
            Some("\npackage com.shop.dtos\n"),
        ),
        (
            "java-ref",
            "dtos.java",
            "    public static class MakePaymentRequest extends BaseRequest implements IReturn<MakePaymentResponse>\n",
            Some("\npackage com.shop.dtos;\n"),
        ),
        (
            "dart-ref",
            "dtos.dart",
            "class MakePaymentRequest extends BaseRequest implements IReturn<MakePaymentResponse>, IConvertible, IPost\n",
            None,
        ),
    ] {
        let (path, added) = add_reference(tool, file).await;
        assert!(added.starts_with("/* Options:\nDate: "), "{tool}: {added}");
        assert!(added.contains(&format!("\nBaseUrl: {base}\n")), "{tool}: {added}");
        assert!(added.contains(request), "{tool}: {added}");
        assert!(added.contains("\n//IncludeTypes: \n"), "{tool}: {added}");

        // A user overrides options by uncommenting them, then runs the same tool on the file.
        let mut edited = added.replace(
            "\n//IncludeTypes: \n",
            "\nIncludeTypes: MakePaymentResponse.*\n",
        );
        if package_line.is_some() {
            edited = edited.replace("\n//Package: \n", "\nPackage: com.shop.dtos\n");
        }
        std::fs::write(&path, &edited).expect("the edited file");
        let cli = root().join("node_modules/.bin").join(tool);
        let dir = path.parent().expect("its directory").to_path_buf();
        let updated = run(&cli, &[file], &dir).await;
        assert!(
            updated.ok && updated.stdout.contains("Updated: "),
            "{tool}: {}{}",
            updated.stdout,
            updated.stderr
        );
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.contains("\nIncludeTypes: MakePaymentResponse.*\n"), "{tool}: {text}");
        assert!(text.contains("MakePaymentResponse"), "{tool}: {text}");
        assert!(text.contains("BaseResponse"), "{tool}: what the response uses: {text}");
        assert!(!text.contains(request), "{tool}: only the response's types: {text}");
        if let Some(line) = package_line {
            assert!(text.contains("\nPackage: com.shop.dtos\n"), "{tool}: {text}");
            assert!(text.contains(line), "{tool}: {text}");
        }

        // An update that sends back an option the gateway refuses leaves the file as it was.
        let bad = text.replace(
            "\nIncludeTypes: MakePaymentResponse.*\n",
            "\nIncludeTypes: A*/B\n",
        );
        std::fs::write(&path, &bad).expect("the edited file");
        let refused = run(&cli, &[file], &dir).await;
        assert!(!refused.ok, "{tool}: {}", refused.stdout);
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), bad, "{tool}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_bad_option_is_a_400_naming_it_and_an_unknown_one_is_ignored() {
    let base = &gateway().base;
    let refused = Call::new("GET", format!("{base}/types/java?Package=com.shop;evil"))
        .without("authorization")
        .send()
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("Package"), "{}", refused.text);
    let fine = Call::new(
        "GET",
        format!("{base}/types/swift?NoSuchOption=1&IncludeTypes=ClientType"),
    )
    .without("authorization")
    .send()
    .await;
    assert_eq!(fine.status, 200, "{}", fine.text);
    assert!(fine
        .text
        .contains("public enum ClientType : Int, Codable\n"));
    assert!(!fine.text.contains("class MakePaymentRequest"));
}

/// The Java reference compiles with javac against stand-ins for the three types it takes from
/// the ServiceStack Java client (`net.servicestack.client`: `IReturn`, `Route`,
/// `ResponseStatus`; tests/java/). That client is on Maven Central, which is not reachable
/// here, so this proves the file is valid Java that uses those names consistently, not that
/// the real client accepts it.
#[tokio::test]
async fn the_java_reference_compiles() {
    let (path, _) = add_reference("java-ref", "dtos.java").await;
    let dir = path.parent().expect("its directory").to_path_buf();
    let stubs = root().join("tests/java/net/servicestack/client");
    let mut args: Vec<String> = ["-d", "classes", "-Xlint:none"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for stub in ["IReturn.java", "Route.java", "ResponseStatus.java"] {
        args.push(stubs.join(stub).to_string_lossy().into_owned());
    }
    args.push("dtos.java".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let compiled = run(Path::new("javac"), &args, &dir).await;
    assert!(compiled.ok, "javac: {}{}", compiled.stdout, compiled.stderr);
    assert!(dir.join("classes/dtos$MakePaymentRequest.class").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_pypi_client_pays_and_reads_a_validation_error_with_the_python_dtos() {
    let dir = work_dir("python-client");
    let python = root().join(".venv/bin/python");
    let script = root().join("tests/python/servicestack_client.py");
    let dir_text = dir.to_string_lossy().into_owned();
    let ran = run(
        &python,
        &[
            &script.to_string_lossy(),
            &gateway().base,
            &dir_text,
            TENANT_A_KEY,
            TENANT_A_SECRET,
        ],
        &root(),
    )
    .await;
    assert!(ran.ok, "{}{}", ran.stdout, ran.stderr);
    let report: serde_json::Value =
        serde_json::from_str(ran.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout));
    let paid = &report["paid"];
    assert_eq!(paid["type"], "MakePaymentResponse", "{report}");
    assert_eq!(paid["response_status"], serde_json::Value::Null, "{report}");
    let data: serde_json::Value =
        serde_json::from_str(paid["data"].as_str().unwrap_or_default()).unwrap_or_default();
    assert!(data["items"].is_object(), "the backend's item: {report}");
    let invalid = &report["invalid"];
    assert_eq!(invalid["thrown"], true, "{report}");
    assert_eq!(invalid["status_code"], 400, "{report}");
    let fields: Vec<&str> = invalid["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&"paymentId") && fields.contains(&"clientType"),
        "every bad field named: {report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

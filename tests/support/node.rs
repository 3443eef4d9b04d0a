//! Runs a Node.js script of the tests (a real client or browser driving the gateway) and reads its JSON report.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// Runs `node <script> <args…>` from the crate root, killing it (and whatever it started, such as
/// Chromium) at `deadline`; the script's stdout must be one JSON document, which is returned.
pub async fn run_script(script: &str, args: &[&str], deadline: Duration) -> Value {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .expect("node runs (Node.js 20 and `npm ci` are part of `make setup`)");
    let pgid = child.id().expect("node's pid");
    let output = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(output) => output.expect("node's output"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            panic!("{script} did not finish within {deadline:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

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
        .expect("node runs (Node.js 22.12+ and `npm ci` are part of `make setup`; run the tests through make, which puts its Node first on PATH)");
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

/// A long-running Node.js server of the repository (the demo's merchant server), killed with its
/// process group on drop. Its stdout lines are kept for the test to read.
pub struct NodeServer {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl NodeServer {
    /// Runs `node <script>` from the crate root with `env` (under the watchdog, so it ends with
    /// the test process), and waits up to `deadline` for a stdout line containing `ready`.
    pub fn start(
        script: &str,
        env: &[(&str, &str)],
        ready: &str,
        deadline: Duration,
    ) -> NodeServer {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c")
            .arg(super::under_watchdog(&format!(
                "node '{script}' </dev/null"
            )))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .expect("node runs (Node.js 22.12+ and `npm ci` are part of `make setup`; run the tests through make, which puts its Node first on PATH)");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let kept = lines.clone();
        let marker = ready.to_owned();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains(&marker) {
                    let _ = ready_tx.send(());
                }
                kept.lock().expect("lines").push(line);
            }
        });
        let server = NodeServer { child, lines };
        if ready_rx.recv_timeout(deadline).is_err() {
            panic!(
                "{script} did not print {ready:?} within {deadline:?}: {:?}",
                server.lines()
            );
        }
        server
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

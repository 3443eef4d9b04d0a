//! Starts and stops a real `wrangler dev` (workerd + Miniflare) for one test binary.
//!
//! The process runs in its own process group under a small shell watchdog
//! that kills the group when the test process exits, so no runtime outlives
//! the tests even though statics are never dropped.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A loopback port that is free now, taken from below the kernel's ephemeral range
/// (32768+) so that no outgoing connection or `bind(0)` elsewhere can take it in the
/// seconds before `wrangler dev` binds it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let seed = RandomState::new();
    for attempt in 0u32..1000 {
        let port = 20_000 + (seed.hash_one(attempt) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in 20000..32000");
}

/// How one start of `wrangler dev` went wrong.
/// Each carries the log of the start.
enum StartError {
    /// A port was taken between choosing it and binding it: start again.
    PortTaken(String),
    /// Anything else.
    Failed(String),
}

const START_ATTEMPTS: u32 = 4;

/// Runs `attempt` until a start succeeds, again (up to [`START_ATTEMPTS`]) when a port
/// turned out to be taken; any other failure panics with the log.
fn retry_start<T>(mut attempt: impl FnMut() -> Result<T, StartError>) -> T {
    let mut last_log = String::new();
    for _ in 0..START_ATTEMPTS {
        match attempt() {
            Ok(started) => return started,
            Err(StartError::PortTaken(log)) => last_log = log,
            Err(StartError::Failed(log)) => panic!("{log}"),
        }
    }
    panic!("ports stayed taken after {START_ATTEMPTS} starts; log:\n{last_log}")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Gateway {
    pub port: u16,
    pub base: String,
    persist_dir: PathBuf,
    /// A `wrangler.toml` other than the repository's (the benchmark's baseline Worker).
    config: Option<PathBuf>,
    vars: Vec<(String, String)>,
    log_path: PathBuf,
    pgid: Mutex<Option<u32>>,
}

impl Gateway {
    /// Starts `wrangler dev` with `vars` and waits until `/healthz` answers.
    pub fn start(name: &str, vars: Vec<(String, String)>) -> Gateway {
        // Each attempt on new ports.
        retry_start(|| {
            let gateway = Self::new(free_port(), name, vars.clone());
            gateway.spawn()?;
            Ok(gateway)
        })
    }

    /// As `start`, for the Worker that `config` (relative to the repository) describes.
    pub fn start_with_config(name: &str, config: &str, vars: Vec<(String, String)>) -> Gateway {
        let mut gateway = Self::new(free_port(), name, vars);
        gateway.config = Some(repo_root().join(config));
        gateway.spawn_or_panic();
        gateway
    }

    /// As `start`, on a port chosen beforehand (for vars that must name it).
    pub fn start_on(port: u16, name: &str, vars: Vec<(String, String)>) -> Gateway {
        let gateway = Self::new(port, name, vars);
        gateway.spawn_or_panic();
        gateway
    }

    fn new(port: u16, name: &str, vars: Vec<(String, String)>) -> Gateway {
        let scratch =
            std::env::temp_dir().join(format!("edgepay-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).expect("scratch dir");
        Gateway {
            port,
            base: format!("http://127.0.0.1:{port}"),
            persist_dir: scratch.join("state"),
            config: None,
            vars,
            log_path: scratch.join("wrangler.log"),
            pgid: Mutex::new(None),
        }
    }

    /// Starts the runtime on this gateway's port, again (with a new inspector port) when a
    /// port turns out to be taken.
    fn spawn_or_panic(&self) {
        retry_start(|| self.spawn());
    }

    /// One start; a failed one leaves nothing running.
    fn spawn(&self) -> Result<(), StartError> {
        let started = self.spawn_once();
        if started.is_err() {
            self.kill();
        }
        started
    }

    /// Applies `migrations/` to the payments index in this gateway's state, as `make dev` does
    /// (`wrangler d1 migrations apply --local`); a no-op once applied.
    fn apply_migrations(&self) -> Result<(), StartError> {
        let out = Command::new("node_modules/.bin/wrangler")
            .args([
                "d1",
                "migrations",
                "apply",
                "PAYMENTS_INDEX",
                "--local",
                "--persist-to",
            ])
            .arg(&self.persist_dir)
            .current_dir(repo_root())
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("XDG_CONFIG_HOME", self.config_home())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| StartError::Failed(format!("wrangler d1 migrations apply: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(StartError::Failed(format!(
                "wrangler d1 migrations apply failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }

    fn spawn_once(&self) -> Result<(), StartError> {
        // The repository's Worker keeps a payments index; the benchmark's baseline has none.
        if self.config.is_none() {
            self.apply_migrations()?;
        }
        // The log is appended to across restarts; only this start's part is read below.
        let log_start = self.log().len();
        let inspector = free_port();
        let mut args = vec![
            "dev".to_owned(),
            "--ip".into(),
            "127.0.0.1".into(),
            "--port".into(),
            self.port.to_string(),
            "--inspector-port".into(),
            inspector.to_string(),
            "--persist-to".into(),
            self.persist_dir.display().to_string(),
            "--show-interactive-dev-session=false".into(),
        ];
        if let Some(config) = &self.config {
            args.push("--config".into());
            args.push(config.display().to_string());
        }
        for (k, v) in &self.vars {
            args.push("--var".into());
            args.push(format!("{k}:{v}"));
        }
        let quoted: Vec<String> = args
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let script = super::under_watchdog(&format!(
            "node_modules/.bin/wrangler {} >>'{}' 2>&1 </dev/null",
            quoted.join(" "),
            self.log_path.display(),
        ));
        let xdg = self.config_home();
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(repo_root())
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("XDG_CONFIG_HOME", xdg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn wrangler dev");
        *self.pgid.lock().unwrap() = Some(child.id());
        // Reap the watchdog when it exits so it never lingers as a zombie.
        std::thread::spawn(move || child.wait());
        self.wait_ready(log_start, Duration::from_secs(180))
    }

    fn wait_ready(&self, log_start: usize, deadline: Duration) -> Result<(), StartError> {
        let start = Instant::now();
        let url = format!("{}/healthz", self.base);
        loop {
            let ok = std::process::Command::new("curl")
                .args(["-sf", "-o", "/dev/null", "--max-time", "2", &url])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            let log = self.log();
            if log
                .get(log_start..)
                .unwrap_or("")
                .contains("Address already in use")
            {
                return Err(StartError::PortTaken(log));
            }
            if start.elapsed() > deadline {
                return Err(StartError::Failed(format!(
                    "wrangler dev did not become ready in {deadline:?}; log:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILLs the whole runtime (wrangler, workerd, the watchdog) and starts it again on the
    /// same persisted state.
    pub fn restart(&self) {
        self.kill();
        self.spawn_or_panic();
    }

    pub fn kill(&self) {
        if let Some(pgid) = self.pgid.lock().unwrap().take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            // Wait until the port is free again so the restart can bind it.
            let start = Instant::now();
            while TcpListener::bind(("127.0.0.1", self.port)).is_err()
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Wrangler's `XDG_CONFIG_HOME` for this runtime: its settings and debug logs, beside the
    /// stored state and not in the user's home.
    fn config_home(&self) -> PathBuf {
        self.persist_dir.with_file_name("xdg")
    }

    /// How many DevTools events wrangler relayed from this runtime into its debug log files
    /// (`XDG_CONFIG_HOME/.wrangler/logs`), over every start: 0 with the relay off.
    pub fn devtools_events_relayed(&self) -> usize {
        std::fs::read_dir(self.config_home().join(".wrangler/logs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .map(|text| {
                text.matches("[InspectorProxyWorker] RUNTIME INCOMING MESSAGE")
                    .count()
            })
            .sum()
    }
}

/// What in a gateway's log says that its wasm instance was reset under its callers: the panic
/// hook's own line, the runtime's report of a trapped instance, and the `503 interrupted` that
/// held callers then get.
const PANIC_SIGNS: [&str; 5] = [
    r#""msg":"panic""#,
    "panicked at",
    "RuntimeError: unreachable",
    "Uncaught RuntimeError",
    r#""interrupted""#,
];

impl Gateway {
    /// The log lines (since `from`, a byte offset into [`Gateway::log`]) that show a panic or an
    /// interrupted caller: the panic canary. A test that meets misbehaving peers asserts this is
    /// empty, so a reset fails it even where every answer it checked looked right.
    pub fn panic_lines_since(&self, from: usize) -> Vec<String> {
        let log = self.log();
        log.get(from..)
            .unwrap_or("")
            .lines()
            .filter(|line| PANIC_SIGNS.iter().any(|sign| line.contains(sign)))
            .map(str::to_owned)
            .collect()
    }

    /// Panics with the lines if the log since `from` shows a panic or an interrupted caller.
    pub fn assert_no_panic_since(&self, from: usize) {
        let lines = self.panic_lines_since(from);
        assert!(
            lines.is_empty(),
            "the gateway's log shows {} panic or interruption line(s):\n{}",
            lines.len(),
            lines.join("\n")
        );
    }
}

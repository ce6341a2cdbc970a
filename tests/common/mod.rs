//! Shared test helpers: an emulator on a free port with a private state folder, a runner for the
//! real binary (and for its long-running commands, [`daemon::Daemon`]), and a canned-answer server for
//! answers the emulator never gives.

#![allow(dead_code)]

pub mod browser;
pub mod daemon;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tcb_deploy::config::Config;
use tcb_deploy::connection::Connection;
use tcb_deploy::emulator::{self, Emulator, EmulatorOptions};
use tcb_deploy::site::manifest::{Manifest, ManifestStore};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running emulator and a state folder for the commands that talk to it.
pub struct Harness {
    pub emulator: Emulator,
    pub state: TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with(|_| {}).await
    }

    pub async fn with(tune: impl FnOnce(&mut EmulatorOptions)) -> Harness {
        let state = tempfile::tempdir().expect("temp dir");
        let mut options = EmulatorOptions::new(
            "127.0.0.1:0".parse().expect("addr"),
            state.path().join("emulator-data"),
        );
        options.create_delay = Duration::from_millis(300);
        options.record_credentials = true;
        tune(&mut options);
        let emulator = Emulator::start(options).await.expect("emulator starts");
        Harness { emulator, state }
    }

    /// Environment for a command: this emulator, component credentials, the merchant's
    /// refresh token, and a private state folder.
    pub fn vars(&self) -> Vec<(String, String)> {
        vars(&[
            ("TCB_API_BASE", &self.emulator.base_url()),
            ("TCB_STATE_DIR", &self.state.path().display().to_string()),
            ("TCB_COMPONENT_APPID", emulator::COMPONENT_APPID),
            ("TCB_COMPONENT_APPSECRET", emulator::COMPONENT_APPSECRET),
            ("TCB_COMPONENT_VERIFY_TICKET", emulator::VERIFY_TICKET),
            ("TCB_AUTHORIZER_APPID", emulator::AUTHORIZER_APPID),
            (
                "TCB_AUTHORIZER_REFRESH_TOKEN",
                emulator::AUTHORIZER_REFRESH_TOKEN,
            ),
        ])
    }

    /// Runs the binary against this emulator.
    pub async fn run(&self, args: &[&str]) -> Run {
        run_tool(args, &self.vars()).await
    }

    /// `deploy --env ENV --dir DIR ARGS…` against this emulator, with `vars` over its own.
    pub async fn deploy(&self, env: &str, dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let dir = dir.to_str().expect("utf-8");
        let mut line = vec!["deploy", "--env", env, "--dir", dir];
        line.extend_from_slice(args);
        let mut all = self.vars();
        all.extend(self::vars(vars));
        run_tool(&line, &all).await
    }

    /// A library-level connection with the same settings as [`Harness::vars`].
    pub async fn connect(&self) -> Connection {
        connect(&self.vars()).await
    }

    pub fn api_calls(&self, path: &str) -> u64 {
        self.emulator
            .counters()
            .api_calls
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// A component access token issued by this emulator, fetched as a client would: for a
    /// command given only `TCB_ACCESS_TOKEN`, as a CI job is.
    pub async fn component_token(&self) -> String {
        component_token(self.emulator.addr()).await
    }

    /// The saved manifest of `env` (no prefix), after checking that every file it names is
    /// online with the recorded content; `context` names the moment in a failure.
    pub fn online_manifest(&self, env: &str, context: &str) -> Manifest {
        let manifest = ManifestStore::new(self.state.path(), env, "")
            .load()
            .unwrap_or_else(|e| panic!("{context}: the manifest loads: {e}"));
        for (key, entry) in manifest.files.iter() {
            let online = self
                .emulator
                .object(env, key)
                .unwrap_or_else(|| panic!("{context}: {key} recorded but not online"));
            assert_eq!(online.md5, entry.digest.md5_hex(), "{context}: {key}");
        }
        manifest
    }

    /// Opens the static website of `env` through the library.
    /// Every file of [`numbered_site`]`(files)` is online in `env`, byte-identical.
    pub fn assert_numbered_online(&self, env: &str, files: usize) {
        for i in 0..files {
            let key = numbered_key(i);
            let online = self.emulator.object(env, &key).expect("online");
            assert_eq!(online.bytes, format!("{i}").as_bytes(), "{key}");
        }
    }

    pub async fn create_store(&self, env: &str) {
        let connection = self.connect().await;
        connection
            .remote
            .create_static_store(env)
            .await
            .expect("createstaticstore");
        connection.close().await;
    }
}

/// A component access token from the emulator at `addr`, fetched with its well-known
/// credentials as a client would.
pub async fn component_token(addr: SocketAddr) -> String {
    let body = serde_json::json!({
        "component_appid": emulator::COMPONENT_APPID,
        "component_appsecret": emulator::COMPONENT_APPSECRET,
        "component_verify_ticket": emulator::VERIFY_TICKET,
    });
    let answer = http_post(
        addr,
        "/cgi-bin/component/api_component_token",
        &body.to_string(),
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    answer["component_access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {answer}"))
        .to_owned()
}

pub fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub async fn connect(vars: &[(String, String)]) -> Connection {
    let map: BTreeMap<String, String> = vars.iter().cloned().collect();
    let config = Config::load(None, &map, Default::default()).expect("config loads");
    Connection::open(&config).await.expect("connection opens")
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything the run printed, for secret checks.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Standard output as the one JSON document `--json` prints.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    /// The one `error:` line on standard error.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line in {:?}", self.stderr))
    }
}

/// The real binary with `args`, and only `vars` (and PATH) in its environment; the caller may
/// adjust it (a working folder, pipes, a user) before running it.
pub fn tool(args: &[&str], vars: &[(String, String)]) -> tokio::process::Command {
    let mut command = isolated(env!("CARGO_BIN_EXE_tcb-deploy"), vars);
    command.args(args);
    command
}

/// `program` with only `vars`, PATH and `NO_COLOR=1` in its environment (`vars` may override
/// both), no input, killed if dropped.
pub fn isolated(
    program: impl AsRef<std::ffi::OsStr>,
    vars: &[(String, String)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(vars.iter().cloned())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// `program FLAGS… script` as a CI runner runs a step's script: in `dir`, with only `vars` and
/// a PATH that finds the binary under test first.
pub fn ci_shell(
    program: &str,
    flags: &[&str],
    dir: &Path,
    script: &str,
    vars: &[(String, String)],
) -> tokio::process::Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_tcb-deploy"))
        .parent()
        .expect("the binary's folder");
    let system = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&system)),
    )
    .expect("PATH");
    let mut command = isolated(program, vars);
    command
        .args(flags)
        .arg(script)
        .current_dir(dir)
        .env("PATH", path);
    command
}

/// Runs `command` to its end.
pub async fn finish(command: &mut tokio::process::Command) -> Run {
    let output = command.output().await.expect("binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs the real binary with only `vars` (and PATH) in its environment.
pub async fn run_tool(args: &[&str], vars: &[(String, String)]) -> Run {
    finish(&mut tool(args, vars)).await
}

/// One canned answer. In the body, `{addr}` stands for the server's own address, so that an
/// upload link can point back at it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// Header lines, e.g. `Content-Type: application/json`.
    pub headers: Vec<String>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, content_type: &str, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![format!("Content-Type: {content_type}")],
            body: body.to_owned(),
        }
    }

    /// A JSON answer with status 200.
    pub fn json(body: &str) -> Answer {
        Answer::new(200, "application/json", body)
    }

    pub fn header(mut self, line: &str) -> Answer {
        self.headers.push(line.to_owned());
        self
    }
}

/// A server answering each request by the first route its request line (`POST /path`, without
/// the query) starts with, else with a fallback; it keeps the request lines it saw.
pub struct Canned {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Canned {
    pub async fn start(routes: &[(&str, Answer)], fallback: Answer) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Vec<(String, Answer)>> = Arc::new(
            routes
                .iter()
                .map(|(r, a)| (r.to_string(), a.clone()))
                .collect(),
        );
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let routes = Arc::clone(&routes);
                let log = Arc::clone(&log);
                let fallback = fallback.clone();
                tokio::spawn(async move {
                    let line = read_request(&mut stream).await;
                    let answer = routes
                        .iter()
                        .find(|(route, _)| line.starts_with(route.as_str()))
                        .map_or(&fallback, |(_, a)| a);
                    log.lock().expect("log").push(line);
                    let body = answer.body.replace("{addr}", &addr.to_string());
                    let mut head = format!("HTTP/1.1 {} Canned\r\n", answer.status);
                    for header in &answer.headers {
                        head.push_str(header);
                        head.push_str("\r\n");
                    }
                    head.push_str(&format!(
                        "Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    ));
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Canned { addr, seen }
    }

    /// The request lines seen so far, `METHOD /path` (no query: it holds the token).
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("log").clone()
    }

    /// How many requests had a request line starting with `route`.
    pub fn count(&self, route: &str) -> usize {
        self.requests()
            .iter()
            .filter(|l| l.starts_with(route))
            .count()
    }
}

/// Reads one request (head and body); returns its request line without the query.
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let first = head.lines().next().unwrap_or_default();
    let mut words = first.split(' ');
    let method = words.next().unwrap_or_default();
    let path = words.next().unwrap_or_default();
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    format!("{method} {path}")
}

/// POSTs `body` (JSON) to `target` on a fresh connection to `addr`; returns the answer's body.
pub async fn http_post(addr: SocketAddr, target: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("receive");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Permission bits bind only an unprivileged process: when the tests run as root (as in a
/// container), run the command as `nobody`, and give `roots` (and all within) to it.
pub fn as_unprivileged_user(command: &mut tokio::process::Command, roots: &[&Path]) {
    const NOBODY: u32 = 65534;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    fn give(path: &Path) {
        std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path).expect("list") {
                give(&entry.expect("entry").path());
            }
        }
    }
    for root in roots {
        give(root);
    }
    command.uid(NOBODY).gid(NOBODY);
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A file of the repository, e.g. `README.md`.
pub fn repo_text(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The API call that asks for an upload link, as [`Harness::api_calls`] and the emulator's
/// faults name it.
pub const LINK: &str = "componenttcb/staticuploadfile";

/// A site of a page and a script in `root/dist`; returns the folder.
pub fn site_dir(root: &Path) -> PathBuf {
    let dir = root.join("dist");
    write_files(
        &dir,
        [
            ("index.html", "<p>v1</p>"),
            ("assets/app.js", "console.log(1)"),
        ],
    );
    dir
}

/// A site of `files` small files in a fresh folder: `f000.txt` holding `0`, and so on.
pub fn numbered_site(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..files {
        std::fs::write(dir.path().join(numbered_key(i)), format!("{i}")).expect("write");
    }
    dir
}

fn numbered_key(i: usize) -> String {
    format!("f{i:03}.txt")
}

/// Writes `files` (path below `root`, content) with the folders they need.
pub fn write_files<P: AsRef<Path>, C: AsRef<[u8]>>(
    root: &Path,
    files: impl IntoIterator<Item = (P, C)>,
) {
    for (relative, content) in files {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

/// Every file below `dir`, sorted; folders that cannot be listed are passed over.
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Copies a folder tree (files and folders only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

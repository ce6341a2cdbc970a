//! The emulator as a child process, and the plain HTTP its own pages are read with.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BIN, BenchResult, CREDENTIALS, Cmd, Lab};

/// A `tcb-deploy emulator` child process on a free port of 127.0.0.1, killed when dropped.
pub struct Emulator {
    pub child: Child,
    pub base: String,
    pub name: String,
}

impl Emulator {
    pub fn start(lab: &Lab, name: &str, faults: &[&str]) -> BenchResult<Emulator> {
        // A port the kernel just handed out and took back: free unless another process grabs
        // it in the next few milliseconds.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let log = fs::File::create(lab.path(&format!("{name}.log")))?;
        let child = Cmd::new(BIN)
            .args(["-q", "emulator", "--addr", &addr, "--data"])
            .arg(lab.path(name))
            .args(["--create-delay-ms", "0"])
            .args(faults)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()?;
        let mut emulator = Emulator {
            child,
            base: format!("http://{addr}"),
            name: name.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = emulator.child.try_wait()? {
                return Err(format!("emulator {name} exited with {status}; see {name}.log").into());
            }
            if http_get(&addr, "/_emulator/health").is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("emulator {name} did not answer on {addr} in 20 s").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("emulator {name} at {} {}", emulator.base, faults.join(" "));
        Ok(emulator)
    }

    /// The binary with this emulator as its API and the component credentials.
    pub fn tool(&self) -> Cmd {
        let mut cmd = Cmd::new(BIN).env("TCB_API_BASE", &self.base);
        for (key, value) in CREDENTIALS {
            cmd = cmd.env(key, value);
        }
        cmd
    }

    /// Opens the static website of `env` and waits until it is online.
    pub fn create(&self, env: &str) -> BenchResult<()> {
        self.tool()
            .args(["-q", "create", "--env", env, "--wait", "--timeout", "60"])
            .output()?;
        Ok(())
    }

    pub fn counters(&self) -> BenchResult<Value> {
        let addr = self.base.trim_start_matches("http://");
        Ok(serde_json::from_str(&http_get(
            addr,
            "/_emulator/counters",
        )?)?)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("emulator {} stopped", self.name);
    }
}

/// A plain HTTP/1.1 GET on loopback, for the emulator's own pages; the body if the status is 200.
pub fn http_get(addr: &str, path: &str) -> BenchResult<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("no end of headers in the emulator's answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {}", head.lines().next().unwrap_or("")).into());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body));
    }
    Ok(body.to_owned())
}

pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The deploy report the tool prints with `--json` (the last line of its output).
pub fn json_report(stdout: &str) -> BenchResult<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("no JSON report on standard output")?;
    Ok(serde_json::from_str(line)?)
}

pub fn number(report: &Value, key: &str) -> u64 {
    report.get(key).and_then(Value::as_u64).unwrap_or(0)
}

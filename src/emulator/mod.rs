//! A local stand-in for the WeChat CloudBase static-hosting API and for the COS object store
//! behind its signed upload links, so the tool can be tried without an account and tested
//! hermetically (including faults: latency, errors, dropped connections, quotas, token expiry,
//! overload).
//!
//! One TCP port serves three roles, chosen by the `Host` header:
//! - the JSON API (`POST /componenttcb/...?access_token=...`) on `127.0.0.1:PORT`,
//! - the signed-PUT object store (`PUT /{bucket}/{key}?sign=...`) on the same host,
//! - each environment's website on `ENV.localhost:PORT`.
//!
//! This module holds the public handle; the wire behaviour lives in the files beside it.

mod api;
mod call;
mod clock;
mod cos;
mod endpoints;
mod faults;
mod inflight;
mod reply;
mod server;
mod shared;
mod signature;
mod state;
mod tokens;
mod website;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Counters, Faults};
/// The COS link signature, for code elsewhere in the crate that wants to check or forge links.
#[allow(unused_imports)] // nothing outside the emulator uses it yet
pub(crate) use signature::cos_signature;

use shared::Shared;

/// Component app id the emulator accepts (a well-known value, not a secret).
pub const COMPONENT_APPID: &str = "wx-emulator-component";
/// Component app secret the emulator accepts (a well-known value, not a secret).
pub const COMPONENT_APPSECRET: &str = "emulator-component-secret";
/// The component verify ticket the emulator accepts.
pub const VERIFY_TICKET: &str = "emulator-verify-ticket";
/// The one merchant (authorizer) app the emulator knows.
pub const AUTHORIZER_APPID: &str = "wx-emulator-merchant";
/// The refresh token that yields authorizer access tokens for [`AUTHORIZER_APPID`].
pub const AUTHORIZER_REFRESH_TOKEN: &str = "emulator-authorizer-refresh-token";
/// A component access token accepted forever: it never expires, not even with
/// `token_lifetime_calls` or [`Emulator::expire_tokens`].
pub const DEV_ACCESS_TOKEN: &str = "emulator-dev-token";

/// The API base URL of an emulator listening at `addr` (one listening on every address is
/// reached on loopback).
pub fn api_url(addr: SocketAddr) -> url::Url {
    shared::advertised_url(addr)
}

/// How the emulator is started. Build with [`EmulatorOptions::new`], then adjust fields.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Address to listen on; tests use `127.0.0.1:0` (any free port).
    pub addr: SocketAddr,
    /// Where stores and objects are persisted (created if missing).
    pub data_dir: PathBuf,
    /// Validity window of a signed upload link.
    pub link_lifetime: Duration,
    /// Lifetime of issued component/authorizer access tokens.
    pub token_lifetime: Duration,
    /// A new static store answers `processing` this long, then `online`.
    pub create_delay: Duration,
    /// Most entries one `staticfilelist` page holds.
    pub list_page_size: usize,
    /// These env ids answer 85088 on every env-scoped call.
    pub envs_without_cloud_dev: Vec<String>,
    /// Injected faults (none by default).
    pub faults: Faults,
    /// Called with the key of every PUT as it arrives, before its body is read (except a PUT
    /// refused by `max_inflight`): lets a test change the local folder while an upload is on
    /// the wire.
    pub on_put: Option<PutHook>,
    /// Keep every credential handed out, for [`Emulator::issued_credentials`] (off by
    /// default: a long-running emulator would hold them all).
    pub record_credentials: bool,
    /// Where clients reach the emulator, when a front (a TLS-terminating proxy, say) forwards
    /// to it: an http(s) URL with no query. Upload and share links, [`Emulator::base_url`] and
    /// [`Emulator::api_url`] then point there, and the websites are at `ENV.localhost` on its
    /// port and with its scheme. Requests must reach the emulator with the path and `Host`
    /// they had, so a front that forwards paths unchanged takes a URL without one. `None`
    /// (the default): `http://ADDR`.
    pub public_url: Option<url::Url>,
}

/// See [`EmulatorOptions::on_put`].
#[derive(Clone)]
pub struct PutHook(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for PutHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutHook")
    }
}

impl EmulatorOptions {
    /// Options with the defaults: links valid 60 s, tokens 7200 s, stores online after 2 s,
    /// 1000 entries per listing page, no faults.
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        EmulatorOptions {
            addr,
            data_dir,
            link_lifetime: Duration::from_secs(60),
            token_lifetime: Duration::from_secs(7200),
            create_delay: Duration::from_secs(2),
            list_page_size: 1000,
            envs_without_cloud_dev: Vec::new(),
            faults: Faults::default(),
            on_put: None,
            record_credentials: false,
            public_url: None,
        }
    }
}

/// One stored object, as tests see it.
#[derive(Clone, Debug)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    /// MD5 of `bytes`, lowercase hex (the ETag without quotes).
    pub md5: String,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub last_modified: SystemTime,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "cannot listen on {addr}: {source}; pick another --addr or emulator_addr (127.0.0.1:0 picks any free port)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot {action} {path}: {source}; fix its permissions or choose another folder (--data; with api_base = \"local\", state_dir)"
    )]
    DataDir {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "emulator state file {path} is unreadable ({reason}); remove it or choose another folder (--data; with api_base = \"local\", state_dir)"
    )]
    CorruptState { path: PathBuf, reason: String },
    #[error("the emulator's public URL {0} is not an http(s) URL with a host and no query")]
    PublicUrl(url::Url),
    #[error("emulator failed internally: {0}")]
    Internal(String),
}

/// A running emulator. Dropping it stops the server without waiting; prefer [`Emulator::shutdown`].
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Loads `data_dir`, binds `addr` and serves in a background task.
    pub async fn start(opts: EmulatorOptions) -> Result<Emulator, EmulatorError> {
        let (shared, listener) = shared::prepare(opts).await?;
        let addr = shared.addr;
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(server::run(listener, Arc::clone(&shared), stopped));
        tracing::debug!(%addr, "emulator started");
        Ok(Emulator {
            shared,
            addr,
            stop,
            server: Some(server),
        })
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or the `public_url` without its final `/`: the `api_base`
    /// for clients.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The API base URL: [`api_url`] of the address bound, or the `public_url`.
    pub fn api_url(&self) -> url::Url {
        self.shared.public.clone()
    }

    /// `http://ENV.localhost:PORT/` (with the `public_url`'s scheme and port, if given): where
    /// the env's website is served.
    pub fn site_url(&self, env: &str) -> String {
        self.shared.site_url(env)
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot(&self.shared.inflight)
    }

    /// The stored object `key` of `env`, bytes and metadata, if any.
    pub fn object(&self, env: &str, key: &str) -> Option<StoredObject> {
        self.shared.state.read_object(env, key)
    }

    /// Every credential handed out since the start, with `record_credentials` on: access
    /// tokens, `x-cos-security-token`s and the `q-signature`s of upload links. Tests check that
    /// none of them is ever printed.
    pub fn issued_credentials(&self) -> Vec<String> {
        self.shared.tokens.handed_out()
    }

    /// Every issued token now answers 42001 (except [`DEV_ACCESS_TOKEN`]).
    pub fn expire_tokens(&self) {
        self.shared.tokens.expire_all();
    }

    /// From now on `env` answers 85088 on every env-scoped call.
    pub fn add_env_without_cloud_dev(&self, env: &str) {
        self.shared.add_env_without_cloud_dev(env);
    }

    /// From now on the store's listing (`staticfilelist`) shows the object `key` of `env` with
    /// a multipart ETag (`"<32 hex>-2"`) as its `md5`, as COS does for an object uploaded in
    /// parts, instead of its MD5; the next PUT of `key` stores it whole and ends this.
    pub fn list_as_multipart(&self, env: &str, key: &str) {
        self.shared.list_as_multipart(env, key);
    }

    /// From now on every call to the endpoint at `path` (such as
    /// `componenttcb/staticuploadfile`) that passes the token and body checks answers `errcode`
    /// with `errmsg`, as the service does for a refused permission or a code of its own.
    pub fn refuse(&self, path: &str, errcode: i64, errmsg: &str) {
        let refusal = call::ApiError {
            code: errcode,
            msg: errmsg.to_owned().into(),
        };
        self.shared.set_refusal(path, Some(refusal));
    }

    /// Undoes [`Emulator::refuse`] for `path`.
    pub fn stop_refusing(&self, path: &str) {
        self.shared.set_refusal(path, None);
    }

    /// Moves the emulator's clock forward (token and link expiry, store creation, quotas,
    /// timestamps), so tests of expiry need no sleep. The offset is held in memory only: a
    /// restarted emulator starts again from the real clock.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Stops accepting connections, lets requests in flight finish (up to a grace period) and
    /// flushes state to `data_dir`.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take()
            && let Err(e) = server.await
        {
            tracing::warn!(error = %e, "emulator server task failed");
        }
        self.shared.flush().await;
        tracing::debug!(addr = %self.addr, "emulator stopped");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every critical
/// section here leaves the data consistent, so the emulator keeps serving.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

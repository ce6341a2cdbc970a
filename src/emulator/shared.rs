//! Everything the emulator's handlers share, and how it is set up from the options: the data
//! dir loaded, the listener bound, the tokens of a previous run restored.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::net::TcpListener;

use super::call::ApiError;
use super::clock::Clock;
use super::faults::{CounterSet, FaultInjector};
use super::inflight::InFlight;
use super::state::{ObjectMeta, StoreState, write_atomic};
use super::tokens::Tokens;
use super::{EmulatorError, EmulatorOptions, lock};

/// Everything the handlers share.
pub(crate) struct Shared {
    pub addr: SocketAddr,
    /// Where clients reach the emulator: `http://IP:PORT/`, or the `public_url`.
    pub public: url::Url,
    /// `public` without its final `/`: the API base and the prefix of signed links.
    pub base_url: String,
    pub link_lifetime: Duration,
    pub create_delay: Duration,
    pub list_page_size: usize,
    pub clock: Clock,
    pub state: StoreState,
    pub tokens: Tokens,
    pub faults: FaultInjector,
    pub counters: CounterSet,
    /// The API calls and PUTs in flight, admitted up to `max_inflight`.
    pub inflight: InFlight,
    pub on_put: Option<super::PutHook>,
    no_cloud_dev: Mutex<BTreeSet<String>>,
    /// Endpoint paths that answer this errcode to every well-formed call.
    refusals: Mutex<BTreeMap<String, ApiError>>,
    /// (env, key) of objects the listing shows as uploaded in parts, until their next PUT.
    multipart: Mutex<BTreeSet<(String, String)>>,
}

impl Shared {
    /// `ENV.localhost:PORT`, on the port of `public`: the env's website host.
    pub(crate) fn domain(&self, env: &str) -> String {
        let port = self
            .public
            .port_or_known_default()
            .unwrap_or(self.addr.port());
        format!("{env}.localhost:{port}")
    }

    /// `SCHEME://ENV.localhost:PORT/`, with the scheme of `public`: the env's website.
    pub(crate) fn site_url(&self, env: &str) -> String {
        format!("{}://{}/", self.public.scheme(), self.domain(env))
    }

    pub(crate) fn bucket(env: &str) -> String {
        format!("emu-static-{env}")
    }

    pub(crate) fn has_cloud_dev(&self, env: &str) -> bool {
        !lock(&self.no_cloud_dev).contains(env)
    }

    pub(crate) fn add_env_without_cloud_dev(&self, env: &str) {
        lock(&self.no_cloud_dev).insert(env.to_owned());
    }

    pub(crate) fn refusal(&self, path: &str) -> Option<ApiError> {
        lock(&self.refusals).get(path).cloned()
    }

    pub(crate) fn set_refusal(&self, path: &str, refusal: Option<ApiError>) {
        let mut refusals = lock(&self.refusals);
        match refusal {
            Some(refusal) => refusals.insert(path.to_owned(), refusal),
            None => refusals.remove(path),
        };
    }

    pub(crate) fn list_as_multipart(&self, env: &str, key: &str) {
        lock(&self.multipart).insert((env.to_owned(), key.to_owned()));
    }

    /// A PUT stores the object whole: from now on its ETag is its MD5 again.
    pub(crate) fn stored_whole(&self, env: &str, key: &str) {
        lock(&self.multipart).remove(&(env.to_owned(), key.to_owned()));
    }

    /// The `md5` the listing shows for `meta`, an object of `env`: its MD5, or for an object
    /// marked by `list_as_multipart` an ETag of the multipart form (`hex-2`; the hex is the MD5
    /// of the MD5's text, so it is stable and never the MD5 of the bytes).
    pub(crate) fn listed_md5(&self, env: &str, meta: &ObjectMeta) -> String {
        let marked = lock(&self.multipart).contains(&(env.to_owned(), meta.key.clone()));
        match marked {
            true => format!("{}-2", hex::encode(Md5::digest(meta.md5.as_bytes()))),
            false => meta.md5.clone(),
        }
    }

    /// Saves what is kept only in memory while running (the upload links).
    pub(crate) async fn flush(&self) {
        let dir = self.state.dir();
        let json = self.tokens.links_json(self.clock.unix_secs());
        if let Err(e) = write_atomic(dir, &dir.join("links.json"), &json).await {
            tracing::warn!(error = %e, dir = %dir.display(), "could not save upload links");
        }
    }
}

/// Loads the data dir and binds the listener.
pub(crate) async fn prepare(
    opts: EmulatorOptions,
) -> Result<(Arc<Shared>, TcpListener), EmulatorError> {
    let public_url = opts.public_url.map(checked_public_url).transpose()?;
    let dir = opts.data_dir.clone();
    let state = tokio::task::spawn_blocking(move || StoreState::open(&dir))
        .await
        .map_err(|e| EmulatorError::Internal(e.to_string()))??;
    let bind_err = |source| EmulatorError::Bind {
        addr: opts.addr,
        source,
    };
    let listener = TcpListener::bind(opts.addr).await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let clock = Clock::default();
    let tokens = Tokens::new(opts.token_lifetime, opts.faults.token_lifetime_calls)
        .recording(opts.record_credentials);
    match tokio::fs::read(opts.data_dir.join("links.json")).await {
        Ok(json) => tokens.restore_links(&json, clock.unix_secs()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "could not read saved upload links"),
    }
    let public = public_url.unwrap_or_else(|| advertised_url(addr));
    let shared = Shared {
        addr,
        base_url: public.as_str().trim_end_matches('/').to_owned(),
        public,
        link_lifetime: opts.link_lifetime,
        create_delay: opts.create_delay,
        list_page_size: opts.list_page_size.max(1),
        clock,
        state,
        tokens,
        inflight: InFlight::new(opts.faults.max_inflight),
        faults: FaultInjector::new(opts.faults),
        counters: CounterSet::default(),
        on_put: opts.on_put,
        no_cloud_dev: Mutex::new(opts.envs_without_cloud_dev.into_iter().collect()),
        refusals: Mutex::default(),
        multipart: Mutex::default(),
    };
    Ok((Arc::new(shared), listener))
}

/// `url`, if links can be made from it: http(s), a host, no query or fragment.
fn checked_public_url(url: url::Url) -> Result<url::Url, EmulatorError> {
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if usable {
        Ok(url)
    } else {
        Err(EmulatorError::PublicUrl(url))
    }
}

/// The address clients should use: the bound one, or loopback when bound to all interfaces.
pub(crate) fn advertised(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// `http://IP:PORT/` of the [`advertised`] address.
pub(crate) fn advertised_url(addr: SocketAddr) -> url::Url {
    let addr = advertised(addr);
    let mut url = url::Url::parse("http://127.0.0.1/").expect("a constant URL parses");
    // An http URL takes any IP host and port.
    let _ = url.set_ip_host(addr.ip());
    let _ = url.set_port(Some(addr.port()));
    url
}

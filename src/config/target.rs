//! Where the API is: the official one, another base URL (https, or plain http to a loopback
//! address), or `local` for the embedded emulator, and where that emulator listens.

use std::net::{IpAddr, SocketAddr};

use url::Url;

use super::{ConfigError, Settings};

/// The official API.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";
/// Where the embedded emulator listens by default.
pub const DEFAULT_EMULATOR_ADDR: &str = "127.0.0.1:8790";

/// Where the API is.
#[derive(Clone, Debug)]
pub enum ApiTarget {
    /// A real (or stand-in) API at this base URL.
    Remote(Url),
    /// The embedded emulator, started inside this process (or reused if one already listens
    /// at `emulator_addr`).
    Local,
}

/// The `api_base` setting, checked.
pub(super) fn api_target(s: &Settings) -> Result<ApiTarget, ConfigError> {
    let base = s.api_base.as_deref().unwrap_or(DEFAULT_API_BASE).trim();
    if base == "local" {
        return Ok(ApiTarget::Local);
    }
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "api_base",
        value: base.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(base)
        .map_err(|_| invalid("expected `local` or a URL such as https://api.weixin.qq.com"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed to a loopback address; use https",
            ));
        }
        _ => return Err(invalid("expected an http(s) URL or `local`")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the base URL must not carry a query or fragment"));
    }
    Ok(ApiTarget::Remote(url))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The `emulator_addr` setting, checked.
pub(super) fn emulator_addr(s: &Settings) -> Result<SocketAddr, ConfigError> {
    let addr_text = s.emulator_addr.as_deref().unwrap_or(DEFAULT_EMULATOR_ADDR);
    addr_text
        .parse::<SocketAddr>()
        .map_err(|_| ConfigError::Invalid {
            key: "emulator_addr",
            value: addr_text.to_owned(),
            reason: "expected IP:PORT, e.g. 127.0.0.1:8790".into(),
        })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load;

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let err = load(&[("TCB_API_BASE", "http://api.example.com")]).unwrap_err();
        assert!(err.to_string().contains("use https"), "{err}");
        assert!(load(&[("TCB_API_BASE", "http://127.0.0.1:9")]).is_ok());
        assert!(load(&[("TCB_API_BASE", "http://localhost:9")]).is_ok());
    }
}

//! The HTTP client of the WeChat API. It is the only code that builds API URLs or talks reqwest
//! for API calls: shared connection pools (one for `http`, one for `https` URLs), a connect
//! timeout, an idle-read timeout, and a per-call timeout for API calls (uploads, which may be
//! large, have only the idle timeout).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use url::Url;

use super::calls::CallCounts;
use super::connections::Connections;
use super::errcode::ErrCode;
use super::error::{ApiError, Endpoint, transport_detail};
use super::types::*;
use crate::secret::Secret;
use crate::text::snippet;

/// Timeouts of the shared client.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Establishing a TCP/TLS connection.
    pub connect: Duration,
    /// A whole API call, answer included.
    pub request: Duration,
    /// Silence on an open connection (a stalled upload).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }
}

/// A cheap-to-clone handle on the API at one base URL.
#[derive(Clone, Debug)]
pub struct ApiClient {
    /// Shared by clones.
    http: Arc<Clients>,
    timeouts: Timeouts,
    base: Url,
    calls: CallCounts,
}

/// The HTTP clients, each built on first use, on the blocking pool. Only `https` URLs need the
/// system's trust roots, whose loading takes milliseconds a command can spend scanning meanwhile
/// and fails on a machine without CA certificates; plain `http` URLs (the emulator on loopback)
/// go through a client that trusts no certificate at all and so loads none.
#[derive(Debug, Default)]
struct Clients {
    plain: OnceCell<reqwest::Client>,
    tls: OnceCell<reqwest::Client>,
    /// Connections both have opened. Each keeps the connections of finished requests alive for
    /// the next ones (per host, for 90 s), so their pools follow the upload window.
    connections: Connections,
}

/// How the access token travels: most endpoints take `access_token`, the authorizer-token
/// endpoint takes `component_access_token`, and the component-token endpoint takes none.
enum TokenParam<'a> {
    None,
    AccessToken(&'a Secret),
    ComponentAccessToken(&'a Secret),
}

impl ApiClient {
    pub fn new(base: Url, timeouts: Timeouts) -> Self {
        ApiClient {
            http: Arc::default(),
            timeouts,
            base,
            calls: CallCounts::default(),
        }
    }

    /// The HTTP client for `url`; the reason it cannot be set up, if so.
    pub(super) async fn http_for(&self, url: &str) -> Result<&reqwest::Client, String> {
        let plain = url
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
        let cell = if plain {
            &self.http.plain
        } else {
            &self.http.tls
        };
        let timeouts = self.timeouts;
        let counter = self.http.connections.layer();
        cell.get_or_try_init(|| async move {
            let build = move || {
                let builder = reqwest::Client::builder()
                    .user_agent(concat!("tcb-deploy/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(timeouts.connect)
                    .read_timeout(timeouts.idle)
                    .redirect(reqwest::redirect::Policy::none())
                    .connector_layer(counter);
                if plain {
                    builder.tls_certs_only([]).build()
                } else {
                    builder.build()
                }
            };
            match tokio::task::spawn_blocking(build).await {
                Ok(Ok(client)) => Ok(client),
                Ok(Err(e)) => Err(transport_detail(e)),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
        .map_err(|reason| format!("could not set up the HTTP client: {reason}"))
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Connections opened so far by this client and its clones.
    pub fn connections(&self) -> &Connections {
        &self.http.connections
    }

    /// Calls made so far by this client and its clones, by endpoint and outcome.
    pub fn calls(&self) -> &CallCounts {
        &self.calls
    }

    fn url(&self, endpoint: Endpoint, token: &TokenParam<'_>) -> Url {
        let mut url = self.base.clone();
        let path = format!(
            "{}/{}",
            self.base.path().trim_end_matches('/'),
            endpoint.path()
        );
        url.set_path(&path);
        url.set_query(None);
        match token {
            TokenParam::None => {}
            TokenParam::AccessToken(t) => {
                url.query_pairs_mut()
                    .append_pair("access_token", t.expose());
            }
            TokenParam::ComponentAccessToken(t) => {
                url.query_pairs_mut()
                    .append_pair("component_access_token", t.expose());
            }
        }
        url
    }

    async fn call<B: Serialize, A: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        token: TokenParam<'_>,
        body: &B,
    ) -> Result<A, ApiError> {
        let result = self.send(endpoint, token, body).await;
        self.calls.record(endpoint, &result);
        if let Err(e) = &result {
            tracing::debug!(%endpoint, error = %e, "call failed");
        }
        result
    }

    async fn send<B: Serialize, A: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        token: TokenParam<'_>,
        body: &B,
    ) -> Result<A, ApiError> {
        let url = self.url(endpoint, &token);
        tracing::debug!(%endpoint, "calling");
        let transport = |e| ApiError::Transport {
            endpoint,
            detail: transport_detail(e),
        };
        let http = self
            .http_for(url.as_str())
            .await
            .map_err(|detail| ApiError::Transport { endpoint, detail })?;
        let answer = http
            .post(url)
            .timeout(self.timeouts.request)
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = answer.status().as_u16();
        let bytes = answer.bytes().await.map_err(transport)?;
        parse_answer(endpoint, status, &bytes)
    }

    /// Whether the tool's own emulator answers at the base URL.
    pub async fn is_emulator(&self) -> bool {
        let Ok(url) = self.base.join("_emulator/health") else {
            return false;
        };
        let Ok(http) = self.http_for(url.as_str()).await else {
            return false;
        };
        let answer = http.get(url).timeout(self.timeouts.request).send().await;
        let Ok(answer) = answer else { return false };
        let body: Result<serde_json::Value, _> = answer.json().await;
        body.is_ok_and(|v| v["service"] == "tcb-deploy-emulator")
    }

    pub async fn describe_static_store(
        &self,
        token: &Secret,
        env: &str,
    ) -> Result<Vec<StaticStore>, ApiError> {
        let answer: DescribeStaticStoreAnswer = self
            .call(
                Endpoint::DescribeStaticStore,
                TokenParam::AccessToken(token),
                &EnvRequest { env },
            )
            .await?;
        Ok(answer.data)
    }

    pub async fn create_static_store(&self, token: &Secret, env: &str) -> Result<(), ApiError> {
        let _: Empty = self
            .call(
                Endpoint::CreateStaticStore,
                TokenParam::AccessToken(token),
                &EnvRequest { env },
            )
            .await?;
        Ok(())
    }

    pub async fn upload_link(
        &self,
        token: &Secret,
        env: &str,
        filename: &str,
    ) -> Result<UploadLink, ApiError> {
        let link: UploadLink = self
            .call(
                Endpoint::StaticUploadFile,
                TokenParam::AccessToken(token),
                &UploadFileRequest { env, filename },
            )
            .await?;
        check_upload_link(link)
    }

    /// One page of the store's listing, starting after `marker`.
    pub async fn file_list_page(
        &self,
        token: &Secret,
        env: &str,
        prefix: Option<&str>,
        marker: Option<&str>,
    ) -> Result<FileListPage, ApiError> {
        self.call(
            Endpoint::StaticFileList,
            TokenParam::AccessToken(token),
            &FileListRequest {
                env,
                prefix,
                marker,
            },
        )
        .await
    }

    pub async fn env_info(
        &self,
        authorizer_token: &Secret,
        env: Option<&str>,
    ) -> Result<Vec<EnvInfo>, ApiError> {
        let answer: EnvInfoAnswer = self
            .call(
                Endpoint::GetEnvInfo,
                TokenParam::AccessToken(authorizer_token),
                &EnvInfoRequest { env },
            )
            .await?;
        Ok(answer.info_list)
    }

    pub async fn share_env(
        &self,
        token: &Secret,
        env: &str,
        appids: &[String],
        source_type: u32,
    ) -> Result<ShareEnvAnswer, ApiError> {
        let request = ShareEnvRequest {
            data: vec![ShareEnvItem { env, appids }],
            source_type,
        };
        self.call(
            Endpoint::BatchShareEnv,
            TokenParam::AccessToken(token),
            &request,
        )
        .await
    }

    pub async fn component_token(
        &self,
        appid: &str,
        appsecret: &Secret,
        ticket: &Secret,
    ) -> Result<ComponentTokenAnswer, ApiError> {
        let request = ComponentTokenRequest {
            component_appid: appid,
            component_appsecret: appsecret.expose(),
            component_verify_ticket: ticket.expose(),
        };
        self.call(Endpoint::ComponentToken, TokenParam::None, &request)
            .await
    }

    pub async fn authorizer_token(
        &self,
        component_token: &Secret,
        component_appid: &str,
        authorizer_appid: &str,
        refresh_token: &Secret,
    ) -> Result<AuthorizerTokenAnswer, ApiError> {
        let request = AuthorizerTokenRequest {
            component_appid,
            authorizer_appid,
            authorizer_refresh_token: refresh_token.expose(),
        };
        self.call(
            Endpoint::AuthorizerToken,
            TokenParam::ComponentAccessToken(component_token),
            &request,
        )
        .await
    }
}

/// Reads an answer: JSON with `errcode` 0 (or none) becomes `A`; anything else an [`ApiError`]
/// whose message is one line of bounded length, however large or odd the body.
///
/// `A` is the answer type of `endpoint`, as [`ApiClient`]'s methods read it: e.g.
/// [`DescribeStaticStoreAnswer`] for [`Endpoint::DescribeStaticStore`], [`Empty`] for
/// [`Endpoint::CreateStaticStore`]. `status` is the HTTP status, only reported.
pub fn parse_answer<A: DeserializeOwned>(
    endpoint: Endpoint,
    status: u16,
    bytes: &[u8],
) -> Result<A, ApiError> {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        // JSON, but not the object every answer is: not a proxy's page, the API's own shape.
        Ok(other) => {
            return Err(ApiError::BadAnswer {
                endpoint,
                reason: format!(
                    "expected a JSON object, got {}",
                    snippet(other.to_string().as_bytes(), 80)
                ),
            });
        }
        Err(_) => {
            return Err(ApiError::NotJson {
                endpoint,
                status,
                snippet: snippet(bytes, 200),
            });
        }
    };
    let errcode = match value.get("errcode") {
        None | Some(serde_json::Value::Null) => 0,
        Some(code) => code
            .as_i64()
            .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| ApiError::BadAnswer {
                endpoint,
                reason: format!(
                    "errcode is not a number: {}",
                    snippet(code.to_string().as_bytes(), 40)
                ),
            })?,
    };
    if errcode != 0 {
        let errmsg = value
            .get("errmsg")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        return Err(ApiError::Service {
            endpoint,
            code: ErrCode(errcode),
            errmsg: snippet(errmsg.as_bytes(), 200),
        });
    }
    serde_json::from_value(value).map_err(|e| ApiError::BadAnswer {
        endpoint,
        reason: snippet(e.to_string().as_bytes(), 200),
    })
}

/// Checks a link read from a `staticuploadfile` answer: its `signed_url`, which is used exactly
/// as given, must be an http(s) URL. The error shows the URL with its signature redacted.
pub fn check_upload_link(link: UploadLink) -> Result<UploadLink, ApiError> {
    match Url::parse(&link.signed_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(link),
        _ => Err(ApiError::BadAnswer {
            endpoint: Endpoint::StaticUploadFile,
            reason: format!(
                "signed_url is not an http(s) URL: {:?}",
                snippet(crate::secret::redact_url(&link.signed_url).as_bytes(), 80)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Endpoint = Endpoint::DescribeStaticStore;

    #[test]
    fn html_answer_is_not_json_with_status_and_snippet() {
        let err =
            parse_answer::<Empty>(E, 502, b"<html><body>Bad Gateway</body></html>").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HTTP 502"), "{text}");
        assert!(text.contains("<html><body>Bad Gateway"), "{text}");
    }

    #[test]
    fn empty_body_is_not_json() {
        let err = parse_answer::<Empty>(E, 200, b"").unwrap_err();
        assert!(
            matches!(err, ApiError::NotJson { status: 200, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_json_is_not_json() {
        let err = parse_answer::<Empty>(E, 200, br#"{"errcode":0,"Da"#).unwrap_err();
        assert!(matches!(err, ApiError::NotJson { .. }), "{err:?}");
    }

    #[test]
    fn errcode_becomes_service_error_with_short_message() {
        let huge = format!(r#"{{"errcode":45009,"errmsg":"{}"}}"#, "q".repeat(10_000));
        let err = parse_answer::<Empty>(E, 200, huge.as_bytes()).unwrap_err();
        assert_eq!(err.errcode(), Some(ErrCode(45009)));
        assert!(err.to_string().len() < 600, "{}", err.to_string().len());
    }

    #[test]
    fn json_that_is_not_an_object_is_bad_answer() {
        let err = parse_answer::<Empty>(E, 200, b"[1,2]").unwrap_err();
        assert!(matches!(err, ApiError::BadAnswer { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("expected a JSON object, got [1,2]")
        );
    }

    #[test]
    fn wrong_field_type_is_bad_answer() {
        let err = parse_answer::<DescribeStaticStoreAnswer>(E, 200, br#"{"errcode":0,"data":"x"}"#)
            .unwrap_err();
        assert!(matches!(err, ApiError::BadAnswer { .. }), "{err:?}");
    }

    #[test]
    fn missing_errcode_means_success() {
        let a: ComponentTokenAnswer = parse_answer(
            Endpoint::ComponentToken,
            200,
            br#"{"component_access_token":"t","expires_in":7200}"#,
        )
        .unwrap();
        assert_eq!(a.expires_in, 7200);
    }

    #[test]
    fn token_goes_in_the_query_and_base_path_is_kept() {
        let client = ApiClient::new(
            Url::parse("http://127.0.0.1:1/proxy/").unwrap(),
            Timeouts::default(),
        );
        let token = Secret::new("tok");
        let url = client.url(Endpoint::StaticUploadFile, &TokenParam::AccessToken(&token));
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/proxy/componenttcb/staticuploadfile?access_token=tok"
        );
    }
}

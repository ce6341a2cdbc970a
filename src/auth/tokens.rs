//! Cached tokens with one shared refresh.
//!
//! Many upload workers may see `42001` at the same moment. Each calls [`ComponentTokens::refresh`]
//! with the token that failed; the first one in fetches a new token while holding the lock, and
//! the others, finding a different token cached when they get the lock, take it without asking
//! the service again. So a burst of failures costs one `api_component_token` call.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::AuthError;
use super::source::{
    AuthorizerSource, ComponentSource, Stamp, file_stamp, read_secret_file, run_token_command,
};
use crate::api::ApiClient;
use crate::secret::Secret;

/// Renew a fetched token once this fraction of its lifetime has passed.
const RENEW_AT: f64 = 0.8;

#[derive(Default)]
struct Cached {
    token: Option<Secret>,
    /// For fetched tokens: when to renew ahead of expiry.
    renew_at: Option<Instant>,
    /// For `token_file`: the file's stamp when it was read.
    stamp: Option<Stamp>,
}

impl Cached {
    fn fresh(&self) -> Option<&Secret> {
        let due = self.renew_at.is_some_and(|at| Instant::now() >= at);
        if due { None } else { self.token.as_ref() }
    }
}

fn renew_at(expires_in: u64) -> Option<Instant> {
    (expires_in > 0).then(|| Instant::now() + Duration::from_secs_f64(expires_in as f64 * RENEW_AT))
}

/// The component access token, from its configured source.
pub struct ComponentTokens {
    source: ComponentSource,
    api: ApiClient,
    cached: Mutex<Cached>,
}

impl ComponentTokens {
    pub fn new(source: ComponentSource, api: ApiClient) -> Self {
        ComponentTokens {
            source,
            api,
            cached: Mutex::new(Cached::default()),
        }
    }

    /// A token believed valid: the cached one, or a newly obtained one.
    pub async fn current(&self) -> Result<Secret, AuthError> {
        let mut cached = self.cached.lock().await;
        if let ComponentSource::File(path) = &self.source
            && cached.stamp.is_some()
            && file_stamp(path).await != cached.stamp
        {
            tracing::info!(path = %path.display(), "token file changed; reading it again");
            cached.token = None;
        }
        if let Some(token) = cached.fresh() {
            return Ok(token.clone());
        }
        self.obtain(&mut cached).await
    }

    /// Called after the service refused `stale`: returns a different token, obtained once for
    /// all callers that saw the same refusal, or an error when the source has none to offer.
    pub async fn refresh(&self, stale: &Secret, reason: &str) -> Result<Secret, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.fresh()
            && token != stale
        {
            return Ok(token.clone());
        }
        // A token given as is has no newer one: the check below refuses it without the log.
        if !matches!(self.source, ComponentSource::Fixed(_)) {
            tracing::info!(reason, "access token refused; obtaining a new one");
        }
        let token = self.obtain(&mut cached).await?;
        if &token == stale {
            return Err(AuthError::Refused {
                source_name: self.source_name(),
                reason: reason.to_owned(),
            });
        }
        Ok(token)
    }

    async fn obtain(&self, cached: &mut Cached) -> Result<Secret, AuthError> {
        *cached = Cached::default();
        match &self.source {
            ComponentSource::Fixed(token) => cached.token = Some(token.clone()),
            ComponentSource::File(path) => {
                let (token, stamp) = read_secret_file("token_file", path).await?;
                cached.token = Some(token);
                cached.stamp = Some(stamp);
            }
            ComponentSource::Command(command) => {
                cached.token = Some(run_token_command(command).await?);
            }
            ComponentSource::Credentials(creds) => {
                let appsecret = creds.appsecret.read("component app secret").await?;
                let ticket = creds.ticket.read("component verify ticket").await?;
                let answer = self
                    .api
                    .component_token(&creds.appid, &appsecret, &ticket)
                    .await
                    .map_err(|source| AuthError::Fetch {
                        what: "the component access token",
                        source,
                    })?;
                tracing::debug!(
                    expires_in = answer.expires_in,
                    "obtained a component access token"
                );
                cached.token = Some(answer.component_access_token);
                cached.renew_at = renew_at(answer.expires_in);
            }
        }
        cached.token.clone().ok_or(AuthError::NoSource)
    }

    /// The files the token or its credentials are read from.
    pub fn files(&self) -> Vec<&std::path::Path> {
        self.source.files()
    }

    fn source_name(&self) -> String {
        match &self.source {
            ComponentSource::Fixed(_) => "TCB_ACCESS_TOKEN".to_owned(),
            ComponentSource::File(path) => format!("token_file {}", path.display()),
            ComponentSource::Command(_) => "token_command".to_owned(),
            ComponentSource::Credentials(_) => "the component credentials".to_owned(),
        }
    }
}

/// The merchant's authorizer access token.
pub struct AuthorizerTokens {
    source: AuthorizerSource,
    api: ApiClient,
    cached: Mutex<Cached>,
    /// The refresh token most recently handed out by the service (it may rotate).
    rotated_refresh_token: Mutex<Option<Secret>>,
}

impl AuthorizerTokens {
    pub fn new(source: AuthorizerSource, api: ApiClient) -> Self {
        AuthorizerTokens {
            source,
            api,
            cached: Mutex::new(Cached::default()),
            rotated_refresh_token: Mutex::new(None),
        }
    }

    /// The file the refresh token is read from, if it is one.
    pub fn files(&self) -> Vec<&std::path::Path> {
        self.source.files()
    }

    pub async fn current(&self, component: Option<&ComponentTokens>) -> Result<Secret, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.fresh() {
            return Ok(token.clone());
        }
        self.obtain(&mut cached, component).await
    }

    pub async fn refresh(
        &self,
        stale: &Secret,
        reason: &str,
        component: Option<&ComponentTokens>,
    ) -> Result<Secret, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.fresh()
            && token != stale
        {
            return Ok(token.clone());
        }
        let token = self.obtain(&mut cached, component).await?;
        if &token == stale {
            return Err(AuthError::Refused {
                source_name: "TCB_AUTHORIZER_ACCESS_TOKEN".to_owned(),
                reason: reason.to_owned(),
            });
        }
        Ok(token)
    }

    async fn obtain(
        &self,
        cached: &mut Cached,
        component: Option<&ComponentTokens>,
    ) -> Result<Secret, AuthError> {
        *cached = Cached::default();
        let (component_appid, authorizer_appid, refresh_token) = match &self.source {
            AuthorizerSource::Fixed(token) => {
                cached.token = Some(token.clone());
                return Ok(token.clone());
            }
            AuthorizerSource::Refresh {
                component_appid,
                authorizer_appid,
                refresh_token,
            } => (component_appid, authorizer_appid, refresh_token),
        };
        let refresh_token = match self.rotated_refresh_token.lock().await.clone() {
            Some(rotated) => rotated,
            None => refresh_token.read("authorizer refresh token").await?,
        };
        let component = component.ok_or(AuthError::NoSource)?;
        let mut component_token = component.current().await?;
        let mut refreshed_component = false;
        let answer = loop {
            let result = self
                .api
                .authorizer_token(
                    &component_token,
                    component_appid,
                    authorizer_appid,
                    &refresh_token,
                )
                .await;
            match result {
                Err(e)
                    if !refreshed_component
                        && e.reaction() == crate::api::Reaction::RefreshToken =>
                {
                    component_token = component.refresh(&component_token, &e.answer()).await?;
                    refreshed_component = true;
                }
                other => {
                    break other.map_err(|source| AuthError::Fetch {
                        what: "the authorizer access token",
                        source,
                    })?;
                }
            }
        };
        if let Some(rotated) = answer.authorizer_refresh_token {
            *self.rotated_refresh_token.lock().await = Some(rotated);
        }
        cached.token = Some(answer.authorizer_access_token.clone());
        cached.renew_at = renew_at(answer.expires_in);
        Ok(answer.authorizer_access_token)
    }
}

//! The remote site as the commands see it: API calls with the right token attached, renewed once
//! when the service refuses it, and retried with backoff when the service is busy.
//!
//! Commands call [`Remote`]; they never touch tokens or retry loops themselves.

use std::future::Future;
use std::sync::Arc;

use crate::api::{
    ApiClient, ApiError, Endpoint, EnvInfo, Reaction, RemoteFile, ShareEnvAnswer, StaticStore,
    UploadLink,
};
use crate::auth::{AuthError, AuthorizerTokens, ComponentTokens};
use crate::exit::ExitCode;
use crate::retry::{RetryPolicy, until_next_minute};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl RemoteError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Api(e) => e.exit_code(),
            Self::Auth(e) => e.exit_code(),
        }
    }
}

/// Which token a call needs.
#[derive(Clone, Copy)]
enum TokenKind {
    Component,
    Authorizer,
}

pub struct Remote {
    api: ApiClient,
    component: Option<Arc<ComponentTokens>>,
    authorizer: Option<Arc<AuthorizerTokens>>,
    retry: RetryPolicy,
}

impl Remote {
    pub fn new(
        api: ApiClient,
        component: Option<ComponentTokens>,
        authorizer: Option<AuthorizerTokens>,
        retry: RetryPolicy,
    ) -> Self {
        Remote {
            api,
            component: component.map(Arc::new),
            authorizer: authorizer.map(Arc::new),
            retry,
        }
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    fn component(&self) -> Result<&ComponentTokens, AuthError> {
        self.component.as_deref().ok_or(AuthError::NoSource)
    }

    fn authorizer(&self) -> Result<&AuthorizerTokens, AuthError> {
        self.authorizer.as_deref().ok_or(AuthError::NoAuthorizer)
    }

    async fn token(&self, kind: TokenKind) -> Result<Secret, AuthError> {
        match kind {
            TokenKind::Component => self.component()?.current().await,
            TokenKind::Authorizer => self.authorizer()?.current(self.component.as_deref()).await,
        }
    }

    async fn renew(
        &self,
        kind: TokenKind,
        stale: &Secret,
        reason: &str,
    ) -> Result<Secret, AuthError> {
        match kind {
            TokenKind::Component => self.component()?.refresh(stale, reason).await,
            TokenKind::Authorizer => {
                let component = self.component.as_deref();
                self.authorizer()?.refresh(stale, reason, component).await
            }
        }
    }

    /// Runs `call` with a token; on a refused token renews it once and calls again; on a
    /// transient failure waits and calls again, up to the policy's attempts.
    async fn with_token<T, F, Fut>(&self, kind: TokenKind, call: F) -> Result<T, RemoteError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut renewed = false;
        let mut retries = 0;
        let mut token = None;
        loop {
            let current = match token.take() {
                Some(t) => Ok(t),
                None => self.token(kind).await,
            };
            let current = match current {
                Ok(t) => t,
                Err(e) if e.is_transient() && retries + 1 < self.retry.attempts => {
                    tracing::warn!(error = %e, "retrying");
                    tokio::time::sleep(self.retry.backoff(retries)).await;
                    retries += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let err = match call(current.clone()).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let can_retry = retries + 1 < self.retry.attempts;
            match err.reaction() {
                Reaction::RefreshToken if !renewed => {
                    token = Some(self.renew(kind, &current, &err.to_string()).await?);
                    renewed = true;
                }
                Reaction::Retry if can_retry => {
                    tracing::warn!(error = %err, "retrying");
                    tokio::time::sleep(self.retry.backoff(retries)).await;
                    retries += 1;
                }
                Reaction::SlowDown if can_retry => {
                    let wait = until_next_minute();
                    tracing::warn!(error = %err, wait_secs = wait.as_secs(), "per-minute quota reached; waiting");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                _ => return Err(err.into()),
            }
        }
    }

    /// The env's static store, or `None` when it has none.
    pub async fn describe_static_store(
        &self,
        env: &str,
    ) -> Result<Option<StaticStore>, RemoteError> {
        let stores = self
            .with_token(TokenKind::Component, |t| async move {
                self.api.describe_static_store(&t, env).await
            })
            .await?;
        let matching = stores.iter().position(|s| s.env == env).unwrap_or(0);
        Ok(stores.into_iter().nth(matching))
    }

    pub async fn create_static_store(&self, env: &str) -> Result<(), RemoteError> {
        self.with_token(TokenKind::Component, |t| async move {
            self.api.create_static_store(&t, env).await
        })
        .await
    }

    pub async fn upload_link(&self, env: &str, filename: &str) -> Result<UploadLink, RemoteError> {
        self.with_token(TokenKind::Component, |t| async move {
            self.api.upload_link(&t, env, filename).await
        })
        .await
    }

    /// Every object under `prefix`, following pagination until the listing is complete.
    pub async fn list_files(
        &self,
        env: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<RemoteFile>, RemoteError> {
        let mut files: Vec<RemoteFile> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .with_token(TokenKind::Component, |t| {
                    let marker = marker.clone();
                    async move {
                        self.api
                            .file_list_page(&t, env, prefix, marker.as_deref())
                            .await
                    }
                })
                .await?;
            let next = page
                .next_marker
                .clone()
                .filter(|m| !m.is_empty())
                .or_else(|| page.contents.last().map(|f| f.key.clone()));
            files.extend(page.contents);
            if !page.is_truncated {
                return Ok(files);
            }
            match next {
                Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
                _ => {
                    return Err(ApiError::BadAnswer {
                        endpoint: Endpoint::StaticFileList,
                        reason: "the listing says it is truncated but gives no way forward".into(),
                    }
                    .into());
                }
            }
        }
    }

    pub async fn env_info(&self, env: Option<&str>) -> Result<Vec<EnvInfo>, RemoteError> {
        self.with_token(TokenKind::Authorizer, |t| async move {
            self.api.env_info(&t, env).await
        })
        .await
    }

    pub async fn share_env(
        &self,
        env: &str,
        appids: &[String],
        source_type: Option<u32>,
    ) -> Result<ShareEnvAnswer, RemoteError> {
        self.with_token(TokenKind::Component, |t| async move {
            self.api.share_env(&t, env, appids, source_type).await
        })
        .await
    }
}

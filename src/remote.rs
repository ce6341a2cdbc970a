//! The remote site as the commands see it: API calls with the right token attached, renewed
//! when the service refuses it, and retried with backoff when the service is busy.
//!
//! Commands call [`Remote`]; they never touch tokens or retry loops themselves.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::api::{
    ApiClient, ApiError, Endpoint, EnvInfo, Reaction, RemoteFile, ShareEnvAnswer, StaticStore,
    UploadLink,
};
use crate::auth::{AuthError, AuthorizerTokens, ComponentTokens};
use crate::congestion::{Congestion, Load};
use crate::exit::ExitCode;
use crate::retry::{Attempt, GaveUp, RetryPolicy, until_next_minute};
use crate::secret::Secret;
use crate::throttle::Throttle;

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
    throttle: Throttle,
    congestion: Congestion,
}

/// How a [`Remote`] paces and repeats its calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pacing {
    pub retry: RetryPolicy,
    /// API calls per second at most (`api_rate_limit`); `None` for no limit.
    pub rate_limit: Option<f64>,
}

impl Remote {
    pub fn new(
        api: ApiClient,
        component: Option<ComponentTokens>,
        authorizer: Option<AuthorizerTokens>,
        pacing: Pacing,
    ) -> Self {
        Remote {
            api,
            component: component.map(Arc::new),
            authorizer: authorizer.map(Arc::new),
            retry: pacing.retry,
            throttle: Throttle::new(pacing.rate_limit),
            congestion: Congestion::default(),
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

    /// Runs `call` with a token, through the retry policy: a refused token is renewed (each
    /// token once) and the call made again; a transient failure waits and tries again; a
    /// per-minute quota pauses every caller of this remote until the next minute.
    async fn with_token<T, F, Fut>(&self, kind: TokenKind, call: F) -> Result<T, RemoteError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        // Shared by the tries, which run one after another: the last token renewed from (a
        // token is renewed from once; the renewal may hand out a token another caller obtained
        // a while ago, which can be refused in its turn), and the renewed token to try next.
        let renewed_from = Mutex::new(None::<Secret>);
        let token = Mutex::new(None::<Secret>);
        let (renewed_from, token, call) = (&renewed_from, &token, &call);
        self.retry
            .run(|_| async move {
                self.throttle.admit().await;
                let next = lock(token).take();
                let current = match next {
                    Some(t) => t,
                    None => match self.token(kind).await {
                        Ok(t) => t,
                        Err(e) if e.is_transient() => {
                            tracing::warn!(error = %e, "retrying");
                            return Attempt::Backoff(e.into());
                        }
                        Err(e) => return Attempt::Fail(e.into()),
                    },
                };
                // Only finished uploads count as served (see `congestion`): a link handed out
                // says nothing of whether the store copes.
                let err = match call(current.clone()).await {
                    Ok(value) => return Attempt::Done(value),
                    Err(e) => e,
                };
                if err.overloaded() {
                    self.congestion.record(Load::Overloaded);
                }
                match err.reaction() {
                    Reaction::RefreshToken if first_refusal(renewed_from, &current) => {
                        match self.renew(kind, &current, &err.answer()).await {
                            Ok(fresh) => {
                                *lock(token) = Some(fresh);
                                Attempt::Again(err.into())
                            }
                            // The token endpoint was busy: the renewal is still owed, even if
                            // the next token obtained is the one just refused.
                            Err(e) if e.is_transient() => {
                                *lock(renewed_from) = None;
                                tracing::warn!(error = %e, "retrying");
                                Attempt::Backoff(e.into())
                            }
                            Err(e) => Attempt::Fail(e.into()),
                        }
                    }
                    Reaction::Retry => {
                        tracing::warn!(error = %err, "retrying");
                        Attempt::Backoff(err.into())
                    }
                    Reaction::SlowDown => {
                        self.throttle.pause_for(until_next_minute());
                        Attempt::Again(err.into())
                    }
                    _ => Attempt::Fail(err.into()),
                }
            })
            .await
            .map_err(GaveUp::into_error)
    }

    /// The retry policy every call of this remote follows; uploads follow it too.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The load the service shows, shared by every upload through this remote.
    pub fn congestion(&self) -> &Congestion {
        &self.congestion
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

/// Whether `refused` was not renewed from before (and notes that it now is).
fn first_refusal(renewed_from: &Mutex<Option<Secret>>, refused: &Secret) -> bool {
    let mut last = lock(renewed_from);
    if last.as_ref() == Some(refused) {
        return false;
    }
    *last = Some(refused.clone());
    true
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

//! The remote site as the commands see it: API calls with the right token attached, renewed
//! when the service refuses it, and retried with backoff when the service is busy.
//!
//! Commands call [`Remote`]; they never touch tokens or retry loops themselves.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::api::{
    ApiClient, ApiError, CosError, Endpoint, EnvInfo, ErrCode, PutAnswer, PutBody, PutObject,
    Reaction, RemoteFile, ShareEnvAnswer, StaticStore, UNKNOWN_TRIES, UploadLink,
};
use crate::auth::{AuthError, AuthorizerTokens, ComponentTokens};
use crate::congestion::{Congestion, Limit, Signal};
use crate::exit::ExitCode;
use crate::retry::{Attempt, GaveUp, RetryPolicy, until_next_minute};
use crate::secret::Secret;
use crate::throttle::Throttle;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Calls in a row answered the same errcode the tool does not know: whatever it means,
    /// it is not passing.
    #[error(
        "{answer}, the same to {calls} calls in a row: an errcode unknown to tcb-deploy; please report it, with that errmsg"
    )]
    RepeatedUnknown { answer: String, calls: u32 },
}

impl RemoteError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Api(e) => e.exit_code(),
            Self::Auth(e) => e.exit_code(),
            Self::RepeatedUnknown { .. } => ExitCode::Remote,
        }
    }

    /// Whether every later call would meet the same refusal until something outside changes
    /// (credentials, permissions, the configuration, a quota): a deploy stops at once, a daemon
    /// waits for such a change.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Api(e) => e.is_permanent(),
            Self::Auth(e) => !e.is_transient(),
            Self::RepeatedUnknown { .. } => false,
        }
    }

    /// Whether a deploy must stop: the refusal is permanent, or the service keeps answering
    /// what the tool does not know.
    pub fn stops_deploy(&self) -> bool {
        self.is_permanent() || matches!(self, Self::RepeatedUnknown { .. })
    }

    /// Whether the failure is one environment's, not every call's: that environment refused
    /// (see `ErrCode::concerns_one_env`), an errcode the tool does not know, or a service that
    /// kept failing for it after retries.
    pub fn concerns_one_env(&self) -> bool {
        match self {
            Self::Api(e) => !e.is_permanent() || e.errcode().is_some_and(|c| c.concerns_one_env()),
            Self::Auth(e) => e.is_transient(),
            Self::RepeatedUnknown { .. } => true,
        }
    }

    /// What the service answered, without advice.
    pub fn answer(&self) -> String {
        match self {
            Self::Api(e) | Self::Auth(AuthError::Fetch { source: e, .. }) => e.answer(),
            other => other.to_string(),
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
    unknown: UnknownStreak,
}

/// How a [`Remote`] paces and repeats its calls.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    pub retry: RetryPolicy,
    /// API calls per second at most (`api_rate_limit`); `None` for no limit.
    pub rate_limit: Option<f64>,
    /// How many uploads may be in flight at once.
    pub uploads: Limit,
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
            congestion: Congestion::new(pacing.uploads),
            unknown: UnknownStreak::default(),
        }
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The files tokens and credentials are read from (a token file, the verify ticket, the
    /// app secret, the refresh token): a change in one may end a refusal.
    pub fn credential_files(&self) -> Vec<PathBuf> {
        let component = self.component.iter().flat_map(|c| c.files());
        let authorizer = self.authorizer.iter().flat_map(|a| a.files());
        let mut files: Vec<PathBuf> = component.chain(authorizer).map(Path::to_owned).collect();
        files.sort();
        files.dedup();
        files
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
        let tries = CallTries::default();
        self.retry
            .run(|_| self.try_call(kind, &call, &tries))
            .await
            .map_err(GaveUp::into_error)
    }

    /// One try of `call`, classified for [`RetryPolicy::run`]. A refused token is renewed and
    /// the call made again within the same try: renewals do not use up tries, but a call renews
    /// at most `retry_attempts` times, and from each token once (a renewal may hand out a token
    /// another caller obtained a while ago, which can be refused in its turn).
    async fn try_call<T, F, Fut>(
        &self,
        kind: TokenKind,
        call: &F,
        tries: &CallTries,
    ) -> Attempt<T, RemoteError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        loop {
            self.throttle.admit().await;
            let next = tries.lock().token.take();
            let current = match next {
                Some(t) => t,
                None => match self.token(kind).await {
                    Ok(t) => t,
                    Err(e) => return self.classify_auth(e, tries),
                },
            };
            // Only finished uploads count as served (see `congestion`): a link handed out
            // says nothing of whether the store copes.
            let err = match call(current.clone()).await {
                Ok(value) => {
                    self.unknown.clear();
                    return Attempt::Done(value);
                }
                Err(e) => e,
            };
            let pressure = err.pressure();
            if let Some(pressure) = pressure {
                self.congestion.tell(pressure.into());
            }
            if err.reaction() == Reaction::RefreshToken
                && tries.may_renew_from(&current, self.retry.attempts)
            {
                match self.renew(kind, &current, &err.answer()).await {
                    Ok(fresh) => {
                        tries.lock().token = Some(fresh);
                        continue;
                    }
                    Err(e) => {
                        // The token endpoint was busy: the renewal is still owed, even if the
                        // next token obtained is the one just refused.
                        if e.is_transient() {
                            tries.lock().renewed_from = None;
                        }
                        return self.classify_auth(e, tries);
                    }
                }
            }
            let crowded = self.congestion.crowded(pressure);
            return match self.classify(err.errcode(), err.reaction(), err.into(), tries) {
                Attempt::Backoff(error) if crowded => Attempt::Crowded(error),
                attempt => attempt,
            };
        }
    }

    /// What a token that could not be had means for the call.
    fn classify_auth<T>(&self, e: AuthError, tries: &CallTries) -> Attempt<T, RemoteError> {
        let (code, reaction) = match &e {
            AuthError::Fetch { source, .. } => (source.errcode(), source.reaction()),
            _ => (None, Reaction::StopAuth),
        };
        self.classify(code, reaction, e.into(), tries)
    }

    /// What a failed try means: another try (at once or after the backoff) or the end of the
    /// call. An unknown errcode ends the call after [`UNKNOWN_TRIES`], and the same one from
    /// that many calls in a row is the end of every call ([`RemoteError::RepeatedUnknown`]).
    fn classify<T>(
        &self,
        code: Option<ErrCode>,
        reaction: Reaction,
        error: RemoteError,
        tries: &CallTries,
    ) -> Attempt<T, RemoteError> {
        let Some(code) = code.filter(|_| reaction == Reaction::Unknown) else {
            self.unknown.clear();
            return match reaction {
                Reaction::Retry => {
                    tracing::warn!(error = %error, "retrying");
                    Attempt::Backoff(error)
                }
                Reaction::SlowDown => {
                    self.throttle.pause_for(until_next_minute());
                    Attempt::Again(error)
                }
                _ => Attempt::Fail(error),
            };
        };
        let in_a_row = self.unknown.record(code);
        if in_a_row >= UNKNOWN_TRIES {
            return Attempt::Fail(RemoteError::RepeatedUnknown {
                answer: error.answer(),
                calls: in_a_row,
            });
        }
        let mut tries = tries.lock();
        tries.unknown += 1;
        if tries.unknown >= UNKNOWN_TRIES {
            return Attempt::Fail(error);
        }
        tracing::warn!(error = %error, "retrying");
        Attempt::Backoff(error)
    }

    /// PUTs `body` to a signed link, once: an upload's tries are its own (`deploy::upload`).
    pub async fn put_object(
        &self,
        put: &PutObject<'_>,
        body: PutBody,
    ) -> Result<PutAnswer, CosError> {
        self.api.put_object(put, body).await
    }

    /// The retry policy every call of this remote follows; uploads follow it too.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Connections opened so far to the service and to the store.
    pub fn connections_opened(&self) -> u64 {
        self.api.connections().opened()
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

    /// An upload link, with the retries of any call.
    pub async fn upload_link(&self, env: &str, filename: &str) -> Result<UploadLink, RemoteError> {
        self.with_token(TokenKind::Component, |t| async move {
            self.api.upload_link(&t, env, filename).await
        })
        .await
    }

    /// One try at an upload link, for an upload whose tries ([`RetryPolicy::run`]) cover its
    /// link and its PUT alike: `tries` is the upload's, kept across them.
    pub async fn try_upload_link(
        &self,
        env: &str,
        filename: &str,
        tries: &CallTries,
    ) -> Attempt<UploadLink, RemoteError> {
        // The link call is the window's measure of the path: small, and the same for every
        // file, unlike a PUT, whose time grows with the file.
        let call = |t: Secret| async move {
            let sent = Instant::now();
            let answer = self.api.upload_link(&t, env, filename).await;
            if !answer.as_ref().is_err_and(ApiError::overloaded) {
                self.congestion.tell(Signal::Answered(sent.elapsed()));
            }
            answer
        };
        self.try_call(TokenKind::Component, &call, tries).await
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
        source_type: u32,
    ) -> Result<ShareEnvAnswer, RemoteError> {
        self.with_token(TokenKind::Component, |t| async move {
            self.api.share_env(&t, env, appids, source_type).await
        })
        .await
    }
}

/// What the tries of one call (or of one upload, link and PUT) carry from one to the next;
/// they run one after another.
#[derive(Default)]
pub struct CallTries(Mutex<TriesState>);

#[derive(Default)]
struct TriesState {
    /// The last token renewed from.
    renewed_from: Option<Secret>,
    /// The renewed token to try next.
    token: Option<Secret>,
    renewals: u32,
    /// Tries that met an unknown errcode.
    unknown: u32,
}

impl CallTries {
    fn lock(&self) -> std::sync::MutexGuard<'_, TriesState> {
        lock(&self.0)
    }

    /// Whether the call may renew from `refused`: it did not before, and has renewed fewer
    /// than `most` times (notes the renewal if so).
    fn may_renew_from(&self, refused: &Secret, most: u32) -> bool {
        let mut state = self.lock();
        if state.renewed_from.as_ref() == Some(refused) || state.renewals >= most.max(1) {
            return false;
        }
        state.renewed_from = Some(refused.clone());
        state.renewals += 1;
        true
    }
}

/// The unknown errcode the last calls of a remote answered, and how many in a row.
#[derive(Default)]
struct UnknownStreak(Mutex<Option<(ErrCode, u32)>>);

impl UnknownStreak {
    /// Counts one more answer of `code`; returns how many calls in a row answered it.
    fn record(&self, code: ErrCode) -> u32 {
        let mut last = lock(&self.0);
        let count = match *last {
            Some((seen, n)) if seen == code => n + 1,
            _ => 1,
        };
        *last = Some((code, count));
        count
    }

    /// Any other answer breaks the row.
    fn clear(&self) {
        *lock(&self.0) = None;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

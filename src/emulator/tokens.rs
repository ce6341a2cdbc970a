//! Credentials the emulator hands out and later checks: access tokens (component and
//! authorizer) and the per-link `x-cos-security-token`s. Access tokens live in memory only, as
//! a restart of the real service's token store would look to a client: it must refresh.
//! Link tokens are saved at shutdown so that links survive a restart within their 60 s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::clock::unix_millis;
use super::{DEV_ACCESS_TOKEN, lock};

/// Expired access tokens are remembered this long (answering 42001, not 40014), then forgotten.
const FORGET_EXPIRED_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Expired links are forgotten after this many seconds (the signature check rejects them first).
const FORGET_LINKS_AFTER_SECS: u64 = 3600;
/// Forgotten links are swept out at most this often: sweeping on every issue made each link
/// cost time in proportion to all the links of the last hour.
const SWEEP_LINKS_EVERY_SECS: u64 = 10;

/// Which kind of access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// The service provider's `component_access_token`.
    Component,
    /// A merchant's `authorizer_access_token`.
    Authorizer,
}

/// The outcome of presenting an access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid(TokenKind),
    Unknown,
    Expired,
}

#[derive(Debug)]
struct Issued {
    kind: TokenKind,
    expires_at_ms: u64,
    uses: u64,
    revoked: bool,
}

/// What a link token was issued for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Link {
    pub env: String,
    pub bucket: String,
    pub key: String,
    /// End of validity, Unix seconds.
    pub expires: u64,
}

/// All issued tokens.
pub(crate) struct Tokens {
    lifetime: Duration,
    lifetime_calls: Option<u64>,
    access: Mutex<HashMap<String, Issued>>,
    links: Mutex<Links>,
    /// Every credential handed out, kept only when asked ([`Tokens::recording`]).
    handed_out: Option<Mutex<Vec<String>>>,
}

/// Issued link tokens, and when they were last swept.
#[derive(Default)]
struct Links {
    by_token: HashMap<String, Link>,
    swept_at: u64,
}

impl Tokens {
    pub(crate) fn new(lifetime: Duration, lifetime_calls: Option<u64>) -> Self {
        Tokens {
            lifetime,
            lifetime_calls,
            access: Mutex::new(HashMap::new()),
            links: Mutex::new(Links::default()),
            handed_out: None,
        }
    }

    /// Keeps every credential handed out from now on, when `on`: tests check that none of
    /// them is ever printed. Off by default, as a long-running emulator would hold them all.
    pub(crate) fn recording(mut self, on: bool) -> Self {
        self.handed_out = on.then(Mutex::default);
        self
    }

    /// Remembers a credential handed out (an access token, a link token, a link signature),
    /// if recording.
    pub(crate) fn note_handed_out(&self, value: &str) {
        if let Some(all) = &self.handed_out {
            lock(all).push(value.to_owned());
        }
    }

    /// Every credential handed out while recording, oldest first.
    pub(crate) fn handed_out(&self) -> Vec<String> {
        self.handed_out
            .as_ref()
            .map(|all| lock(all).clone())
            .unwrap_or_default()
    }

    /// How long a fresh access token lives.
    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A fresh access token of `kind`, valid for the configured lifetime from `now`.
    pub(crate) fn issue(&self, kind: TokenKind, now: SystemTime) -> String {
        let token = random_hex(48);
        let now_ms = unix_millis(now);
        let forget_ms = u64::try_from(FORGET_EXPIRED_AFTER.as_millis()).unwrap_or(u64::MAX);
        let lifetime_ms = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        let mut access = lock(&self.access);
        access.retain(|_, t| t.expires_at_ms.saturating_add(forget_ms) > now_ms);
        access.insert(
            token.clone(),
            Issued {
                kind,
                expires_at_ms: now_ms.saturating_add(lifetime_ms),
                uses: 0,
                revoked: false,
            },
        );
        drop(access);
        self.note_handed_out(&token);
        token
    }

    /// Checks `token` at `now`; a valid one counts as used once.
    pub(crate) fn check(&self, token: &str, now: SystemTime) -> TokenCheck {
        if token == DEV_ACCESS_TOKEN {
            return TokenCheck::Valid(TokenKind::Component);
        }
        let mut access = lock(&self.access);
        let Some(issued) = access.get_mut(token) else {
            return TokenCheck::Unknown;
        };
        let used_up = self
            .lifetime_calls
            .is_some_and(|limit| issued.uses >= limit);
        if issued.revoked || used_up || unix_millis(now) >= issued.expires_at_ms {
            return TokenCheck::Expired;
        }
        issued.uses += 1;
        TokenCheck::Valid(issued.kind)
    }

    /// Every issued access token expires now.
    pub(crate) fn expire_all(&self) {
        for issued in lock(&self.access).values_mut() {
            issued.revoked = true;
        }
    }

    /// A fresh `x-cos-security-token` for one link.
    pub(crate) fn issue_link(&self, link: Link, now_secs: u64) -> String {
        let token = random_hex(40);
        let mut links = lock(&self.links);
        if now_secs >= links.swept_at.saturating_add(SWEEP_LINKS_EVERY_SECS) {
            links
                .by_token
                .retain(|_, l| l.expires.saturating_add(FORGET_LINKS_AFTER_SECS) > now_secs);
            links.swept_at = now_secs;
        }
        links.by_token.insert(token.clone(), link);
        drop(links);
        self.note_handed_out(&token);
        token
    }

    /// The link `token` was issued with, if it was issued for exactly `bucket` + `key`.
    pub(crate) fn link(&self, token: &str, bucket: &str, key: &str) -> Option<Link> {
        lock(&self.links)
            .by_token
            .get(token)
            .filter(|l| l.bucket == bucket && l.key == key)
            .cloned()
    }

    /// The links still worth keeping, as JSON, for saving at shutdown.
    pub(crate) fn links_json(&self, now_secs: u64) -> Vec<u8> {
        let links = lock(&self.links);
        let live: HashMap<&String, &Link> = links
            .by_token
            .iter()
            .filter(|(_, l)| l.expires >= now_secs)
            .collect();
        serde_json::to_vec(&live).unwrap_or_default()
    }

    /// Restores links saved by [`Tokens::links_json`]; unreadable data restores nothing.
    pub(crate) fn restore_links(&self, json: &[u8], now_secs: u64) {
        let Ok(saved) = serde_json::from_slice::<HashMap<String, Link>>(json) else {
            tracing::warn!("saved upload links are unreadable; ignoring them");
            return;
        };
        lock(&self.links)
            .by_token
            .extend(saved.into_iter().filter(|(_, l)| l.expires >= now_secs));
    }
}

/// `bytes` random bytes from the OS-seeded CSPRNG, as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn tokens_expire_by_time_calls_and_revocation() {
        let tokens = Tokens::new(Duration::from_secs(100), Some(2));
        let t = tokens.issue(TokenKind::Authorizer, at(1000));
        assert!(t.len() >= 64);
        assert_eq!(tokens.check("nope", at(1000)), TokenCheck::Unknown);
        assert_eq!(
            tokens.check(&t, at(1001)),
            TokenCheck::Valid(TokenKind::Authorizer)
        );
        assert_eq!(tokens.check(&t, at(1100)), TokenCheck::Expired, "by time");
        assert_eq!(
            tokens.check(&t, at(1002)),
            TokenCheck::Valid(TokenKind::Authorizer)
        );
        assert_eq!(tokens.check(&t, at(1003)), TokenCheck::Expired, "by uses");

        let u = tokens.issue(TokenKind::Component, at(1000));
        tokens.expire_all();
        assert_eq!(tokens.check(&u, at(1000)), TokenCheck::Expired);
        for _ in 0..5 {
            assert_eq!(
                tokens.check(DEV_ACCESS_TOKEN, at(u64::MAX / 2000)),
                TokenCheck::Valid(TokenKind::Component)
            );
        }
    }

    #[test]
    fn handed_out_credentials_are_kept_only_when_recording() {
        let link = || Link {
            env: "e".into(),
            bucket: "b".into(),
            key: "k".into(),
            expires: 60,
        };
        let quiet = Tokens::new(Duration::from_secs(100), None);
        quiet.issue(TokenKind::Component, at(0));
        quiet.issue_link(link(), 0);
        assert!(quiet.handed_out().is_empty());
        let recording = Tokens::new(Duration::from_secs(100), None).recording(true);
        let access = recording.issue(TokenKind::Component, at(0));
        let link_token = recording.issue_link(link(), 0);
        assert_eq!(recording.handed_out(), vec![access, link_token]);
    }

    #[test]
    fn links_bind_bucket_and_key_and_survive_a_save() {
        let tokens = Tokens::new(Duration::from_secs(100), None);
        let link = Link {
            env: "e".into(),
            bucket: "b".into(),
            key: "k".into(),
            expires: 60,
        };
        let t = tokens.issue_link(link, 0);
        assert!(tokens.link(&t, "b", "k").is_some());
        assert!(tokens.link(&t, "b", "other").is_none());
        let saved = tokens.links_json(10);
        let restored = Tokens::new(Duration::from_secs(100), None);
        restored.restore_links(&saved, 10);
        assert!(restored.link(&t, "b", "k").is_some());
        let late = Tokens::new(Duration::from_secs(100), None);
        late.restore_links(&saved, 61);
        assert!(late.link(&t, "b", "k").is_none());
    }
}

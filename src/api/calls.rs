//! Counts of API calls by endpoint and outcome, for the daemon's `/metrics`. Shared by every
//! clone of a client.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::error::{ApiError, Endpoint};

/// `(endpoint path, outcome)` → calls. The outcome is the errcode (`0` for success), or
/// `transport` / `not_json` / `bad_answer` when there was none.
#[derive(Clone, Debug, Default)]
pub struct CallCounts(Arc<Mutex<BTreeMap<(&'static str, String), u64>>>);

impl CallCounts {
    pub(super) fn record<T>(&self, endpoint: Endpoint, result: &Result<T, ApiError>) {
        let outcome = match result {
            Ok(_) => "0".to_owned(),
            Err(ApiError::Service { code, .. }) => code.code().to_string(),
            Err(ApiError::Transport { .. }) => "transport".to_owned(),
            Err(ApiError::NotJson { .. }) => "not_json".to_owned(),
            Err(ApiError::BadAnswer { .. }) => "bad_answer".to_owned(),
        };
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((endpoint.path(), outcome)).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<(&'static str, String), u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

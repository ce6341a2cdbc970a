//! Turns the configured API target into a [`Remote`]: the real API at a URL, or the embedded
//! emulator, started inside this process or, when one already listens at `emulator_addr`, shared.

use crate::api::ApiClient;
use crate::auth::{AuthorizerTokens, ComponentTokens};
use crate::config::{ApiTarget, Config};
use crate::emulator::{self, Emulator, EmulatorOptions};
use crate::error::Error;
use crate::remote::Remote;

/// A usable remote, and the emulator it runs on when that lives in this process.
pub struct Connection {
    pub remote: std::sync::Arc<Remote>,
    emulator: Option<Emulator>,
}

impl Connection {
    pub async fn open(config: &Config) -> Result<Connection, Error> {
        let (api, emulator) = match &config.api {
            ApiTarget::Remote(url) => (ApiClient::new(url.clone(), config.timeouts), None),
            ApiTarget::Local => {
                let api = ApiClient::new(emulator::api_url(config.emulator_addr), config.timeouts);
                if api.is_emulator().await {
                    tracing::debug!(addr = %config.emulator_addr, "using the emulator already running");
                    (api, None)
                } else {
                    let mut options =
                        EmulatorOptions::new(config.emulator_addr, config.emulator_data_dir());
                    // Trying the tool should not mean waiting: a new store is ready at once.
                    options.create_delay = std::time::Duration::from_millis(300);
                    let emulator = Emulator::start(options).await?;
                    tracing::debug!(addr = %emulator.addr(), "started the embedded emulator");
                    // The address it got: with port 0 in emulator_addr, any free port.
                    let api = ApiClient::new(emulator.api_url(), config.timeouts);
                    (api, Some(emulator))
                }
            }
        };
        let component = config
            .component
            .clone()
            .map(|source| ComponentTokens::new(source, api.clone()));
        let authorizer = config
            .authorizer
            .clone()
            .map(|source| AuthorizerTokens::new(source, api.clone()));
        let remote = Remote::new(api, component, authorizer, config.pacing);
        Ok(Connection {
            remote: std::sync::Arc::new(remote),
            emulator,
        })
    }

    /// Stops the embedded emulator, if this process runs one, after its data is saved.
    pub async fn close(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}

//! Which token sources the settings configure: for the component token exactly one of a given
//! token, a token file, a token command or component credentials (app secret and verify ticket,
//! each given or in a file); for the authorizer token a given one or a refresh token. With
//! `api_base = "local"` and nothing configured, the embedded emulator's own credentials, so that
//! trying the tool needs no account.

use std::path::Path;

use super::{ConfigError, Settings};
use crate::auth::{AuthorizerSource, ComponentCredentials, ComponentSource, Value};
use crate::emulator;
use crate::secret::Secret;

/// The component token's source, if one is configured; several are a conflict.
pub(super) fn component_source(
    s: &Settings,
    access_token: Option<Secret>,
    appsecret: Option<Secret>,
    ticket: Option<Secret>,
    local: bool,
) -> Result<Option<ComponentSource>, ConfigError> {
    let mut given = Vec::new();
    if access_token.is_some() {
        given.push("TCB_ACCESS_TOKEN");
    }
    if s.token_file.is_some() {
        given.push("token_file");
    }
    if s.token_command.is_some() {
        given.push("token_command");
    }
    if s.component_appid.is_some() {
        given.push("component_appid");
    }
    if given.len() > 1 {
        return Err(ConfigError::Conflict(format!(
            "several component token sources are configured ({}); keep exactly one",
            given.join(", ")
        )));
    }
    if let Some(token) = access_token {
        return Ok(Some(ComponentSource::Fixed(token)));
    }
    if let Some(path) = &s.token_file {
        return Ok(Some(ComponentSource::File(path.clone())));
    }
    if let Some(command) = &s.token_command {
        return Ok(Some(ComponentSource::Command(command.clone())));
    }
    if let Some(appid) = &s.component_appid {
        let appsecret = match (appsecret, &s.component_appsecret_file) {
            (Some(secret), _) => Value::Given(secret),
            (None, Some(path)) => Value::File(path.clone()),
            (None, None) => {
                return Err(ConfigError::Conflict(
                    "component_appid is set but the app secret is missing; set TCB_COMPONENT_APPSECRET or component_appsecret_file".into(),
                ));
            }
        };
        let ticket = match (ticket, &s.component_verify_ticket_file) {
            (Some(t), _) => Value::Given(t),
            (None, Some(path)) => Value::File(path.clone()),
            (None, None) => {
                return Err(ConfigError::Conflict(
                    "component_appid is set but the verify ticket is missing; set TCB_COMPONENT_VERIFY_TICKET or component_verify_ticket_file".into(),
                ));
            }
        };
        // Read at each token fetch; a file that cannot be read is refused at start already.
        if let Value::File(path) = &appsecret {
            check_secret_file("component_appsecret_file", path)?;
        }
        return Ok(Some(ComponentSource::Credentials(ComponentCredentials {
            appid: appid.clone(),
            appsecret,
            ticket,
        })));
    }
    // The embedded emulator's own credentials: trying the tool needs no account.
    Ok(local.then(|| {
        ComponentSource::Credentials(ComponentCredentials {
            appid: emulator::COMPONENT_APPID.to_owned(),
            appsecret: Value::Given(Secret::new(emulator::COMPONENT_APPSECRET)),
            ticket: Value::Given(Secret::new(emulator::VERIFY_TICKET)),
        })
    }))
}

/// Checks that a file holding a secret can be read and is not empty (and warns when others
/// may read it), so that a wrong path is refused at start rather than at the first fetch.
fn check_secret_file(key: &'static str, path: &Path) -> Result<(), ConfigError> {
    let unreadable = |e: std::io::Error| ConfigError::Invalid {
        key,
        value: path.display().to_string(),
        reason: format!("cannot be read: {e}; check the path and its permissions"),
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    crate::auth::warn_if_readable_by_others(key, path, &metadata);
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let value = text.trim();
    if value.is_empty() {
        return Err(ConfigError::Invalid {
            key,
            value: path.display().to_string(),
            reason: "the file is empty; write the value into it".into(),
        });
    }
    Ok(())
}

/// The authorizer token's source: given, or renewed from a refresh token with the component
/// credentials' app id.
pub(super) fn authorizer_source(
    s: &Settings,
    access_token: Option<Secret>,
    refresh_token: Option<Secret>,
    component: &Option<ComponentSource>,
    local: bool,
) -> Result<Option<AuthorizerSource>, ConfigError> {
    if let Some(token) = access_token {
        return Ok(Some(AuthorizerSource::Fixed(token)));
    }
    let refresh = match (refresh_token, &s.authorizer_refresh_token_file) {
        (Some(t), _) => Some(Value::Given(t)),
        (None, Some(path)) => Some(Value::File(path.clone())),
        (None, None) => None,
    };
    let component_appid = match component {
        Some(ComponentSource::Credentials(c)) => Some(c.appid.clone()),
        _ => None,
    };
    match (&s.authorizer_appid, refresh, component_appid) {
        (Some(appid), Some(refresh_token), Some(component_appid)) => {
            Ok(Some(AuthorizerSource::Refresh {
                component_appid,
                authorizer_appid: appid.clone(),
                refresh_token,
            }))
        }
        (Some(_), Some(_), None) => Err(ConfigError::Conflict(
            "renewing the authorizer token needs component credentials (component_appid); or set TCB_AUTHORIZER_ACCESS_TOKEN".into(),
        )),
        (Some(_), None, _) => Err(ConfigError::Conflict(
            "authorizer_appid is set but the refresh token is missing; set TCB_AUTHORIZER_REFRESH_TOKEN or authorizer_refresh_token_file".into(),
        )),
        (None, Some(_), _) => Err(ConfigError::Conflict(
            "an authorizer refresh token is set but authorizer_appid is missing; set authorizer_appid (TCB_AUTHORIZER_APPID) or remove the refresh token".into(),
        )),
        // The embedded emulator's merchant, whatever component token the emulator is called with.
        (None, None, component_appid) if local => Ok(Some(AuthorizerSource::Refresh {
            component_appid: component_appid.unwrap_or_else(|| emulator::COMPONENT_APPID.to_owned()),
            authorizer_appid: emulator::AUTHORIZER_APPID.to_owned(),
            refresh_token: Value::Given(Secret::new(emulator::AUTHORIZER_REFRESH_TOKEN)),
        })),
        (None, None, _) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::auth::{AuthorizerSource, ComponentSource};
    use crate::config::ApiTarget;
    use crate::config::tests::load;
    use crate::emulator;

    #[test]
    fn local_mode_uses_the_emulator_credentials() {
        let config = load(&[("TCB_API_BASE", "local"), ("TCB_STATE_DIR", "/tmp/s")]).unwrap();
        assert!(matches!(config.api, ApiTarget::Local));
        assert_eq!(config.emulator_data_dir(), Path::new("/tmp/s/emulator"));
        assert!(matches!(
            config.component,
            Some(ComponentSource::Credentials(_))
        ));
        assert!(matches!(
            config.authorizer,
            Some(AuthorizerSource::Refresh { .. })
        ));
    }

    #[test]
    fn local_mode_with_a_given_token_still_lists_the_emulators_environments() {
        let config = load(&[
            ("TCB_API_BASE", "local"),
            ("TCB_ACCESS_TOKEN", emulator::DEV_ACCESS_TOKEN),
        ])
        .unwrap();
        assert!(matches!(config.component, Some(ComponentSource::Fixed(_))));
        assert!(matches!(
            config.authorizer,
            Some(AuthorizerSource::Refresh { .. })
        ));
    }

    #[test]
    fn two_token_sources_conflict() {
        let err = load(&[("TCB_ACCESS_TOKEN", "t"), ("TCB_TOKEN_COMMAND", "echo t")]).unwrap_err();
        assert!(err.to_string().contains("keep exactly one"), "{err}");
    }

    #[test]
    fn credentials_without_ticket_name_what_is_missing() {
        let err = load(&[
            ("TCB_COMPONENT_APPID", "wx1"),
            ("TCB_COMPONENT_APPSECRET", "s"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("TCB_COMPONENT_VERIFY_TICKET"),
            "{err}"
        );
    }
}

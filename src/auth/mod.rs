//! Token sources: where the component access token and the merchant's authorizer access token
//! come from, how they are cached, and how they are renewed when the service refuses them.
//!
//! This module decides *which* token to send; it never decides whether to retry a call (that
//! is [`crate::remote`]) and it never prints a token: they travel as [`crate::secret::Secret`].

mod error;
mod source;
mod tokens;

pub use error::AuthError;
pub(crate) use source::warn_if_readable_by_others;
pub use source::{AuthorizerSource, ComponentCredentials, ComponentSource, Value};
pub use tokens::{AuthorizerTokens, ComponentTokens};

//! Typed client of the WeChat third-party-platform API (static store, environments, tokens) and
//! of the signed-PUT object store behind `staticuploadfile`.
//!
//! This is the only module that builds API URLs or uses reqwest. It knows nothing of token
//! sources or retries: callers pass a token and read the error's [`Reaction`].

mod calls;
mod client;
mod connections;
mod cos;
mod errcode;
mod error;
mod types;

pub use calls::CallCounts;
pub use client::{ApiClient, Timeouts, check_upload_link, parse_answer};
pub use connections::Connections;
pub use cos::{
    CosError, CosReaction, PutAnswer, PutBody, PutObject, link_lifetime, parse_cos_error,
};
pub use errcode::{ErrCode, Reaction, UNKNOWN_TRIES};
pub use error::{ApiError, Endpoint, Pressure};
pub use types::{
    AuthorizerTokenAnswer, ComponentTokenAnswer, DescribeStaticStoreAnswer, Empty, EnvInfo,
    EnvInfoAnswer, FileListPage, RemoteFile, ShareConfirmation, ShareEnvAnswer, ShareError,
    StaticStore, UploadLink,
};

//! The local side of a site: which files the build folder holds (scan), what they contain
//! (hash), what was last deployed from it (manifest), and what a store key may hold (key).
//! Nothing here talks to the network.

pub mod cached;
pub mod hash;
pub mod headers;
pub mod ignore_rules;
pub mod key;
pub mod manifest;
pub mod scan;
pub mod stage;
pub mod stat;

pub use hash::{Digest, Hashed, Hasher, digest_of, hash_file, hash_files};
pub use manifest::{MANIFEST_VERSION, Manifest, ManifestEntry, ManifestError, ManifestStore};
pub use stat::FileStat;

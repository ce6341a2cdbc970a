//! The local side of a site: which files the build folder holds (scan), what they contain
//! (hash), and what was last deployed from it (manifest). Nothing here talks to the network.

pub mod stat;

pub use stat::FileStat;

//! The table, by topic: each file holds the rows of one kind of bad input, and the rows run in
//! the order of [`TABLES`].

mod api;
mod auth;
mod config;
mod emulator;
mod env;
mod errcodes;
mod files;
mod flags;
mod folder;
mod platform_errcodes;
mod service;
mod store;

use crate::case::Case;

/// Every topic's rows.
const TABLES: &[&[Case]] = &[
    config::ROWS,
    env::ROWS,
    flags::ROWS,
    folder::ROWS,
    files::ROWS,
    auth::ROWS,
    service::ROWS,
    api::ROWS,
    store::ROWS,
    emulator::ROWS,
    errcodes::ROWS,
    platform_errcodes::ROWS,
];

/// Every row of the catalogue, topic by topic.
pub fn all() -> impl Iterator<Item = &'static Case> {
    TABLES.iter().flat_map(|rows| rows.iter())
}

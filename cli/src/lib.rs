//! The photostream binary's library half: configuration, backend wiring and
//! the service lifecycle. `main.rs` only parses flags and calls in here, so
//! tests can start the whole service in-process on port 0.
//!
//! - [`config`]: defaults → reference config file → `PHOTOSTREAM_*` env →
//!   flags, with unknown keys rejected.
//! - [`backends`]: turns backend URLs into trait objects.
//! - [`entry`]: the command line (`photostream serve`, `photostream config`, …).
//! - [`tier`] and [`upload`]: the storage-tiering pass and the bulk
//!   uploader, with [`progress`] lines.
//! - [`premium_admin`]: `photostream admin grant-premium | revoke-premium |
//!   premium-audit`.
//! - [`service`]: starts the API and/or the processors for a role and stops
//!   them gracefully on one shutdown signal.

pub mod backends;
pub mod config;
pub mod durable_objects;
pub mod entry;
pub mod progress;
pub mod premium_admin;
pub mod service;
pub mod telemetry;
pub mod tier;
pub mod upload;

pub use config::{Config, Role};
pub use service::{start, RunningService};

//! photostream's end-to-end suite: one test binary (link time matters on
//! two cores), one module per area. Every test starts the real service on
//! port 0 with a temporary data dir; the crash tests run the real binary.

mod access;
mod objects;
mod openapi;
mod outages;
mod bad_input;
mod bulk_upload;
mod crash;
mod distributed;
mod files;
mod hardening;
mod moderation;
mod pagination;
mod signals;
mod premium;
mod social;
mod tiering;
mod walkthrough;
mod web;

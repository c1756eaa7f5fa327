//! Integration tests: the real service on a random port, driven over HTTP, on SQLite and on
//! PostgreSQL. All compiled as one binary so the build links once.

mod helpers;
mod kb;

mod agents;
mod analytics;
mod auth;
mod communications;
mod errors;
mod external_tokens;
mod health;
mod interop;
mod ops;
mod reliability;
mod scale_out;
mod security;
mod stomp;
mod stomp_client;
mod tickets;

//! Real-time messaging: the server is itself a STOMP 1.2 broker over WebSocket (DESIGN §5).
//!
//! `frame` (codec) → `session` (per-connection state machine) → `broker` (subscriptions and
//! bounded fan-out) ↔ `redis_bus` (other instances); `destination` names what may be used,
//! `events` what the desk announces, `ws` is the WebSocket glue.

pub mod broker;
pub mod destination;
pub mod events;
pub mod frame;
pub mod redis_bus;
pub mod session;
pub mod ws;

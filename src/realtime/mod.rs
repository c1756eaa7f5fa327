//! Real-time messaging: the STOMP 1.2 broker. So far the frame codec; sessions, the bus and the
//! WebSocket glue build on it.

pub mod frame;

//! Cross-instance fan-out over Redis pub/sub. Each instance delivers its own publications locally
//! first, then publishes them on one shared channel; every other instance delivers what it
//! receives to its local subscribers. When Redis is down, local delivery goes on, publications
//! for other instances are dropped (they cannot be stored anywhere useful), health shows DOWN,
//! and the subscriber reconnects with backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::broker::{Audience, Broker, Envelope};

/// How an envelope travels between instances.
#[derive(Serialize, Deserialize)]
struct WireEnvelope {
    origin: Uuid,
    key: String,
    audience: Audience,
    body: String,
}

pub struct RedisBus {
    outgoing: mpsc::Sender<Vec<u8>>,
    connected: Arc<AtomicBool>,
    pub errors: Arc<AtomicU64>,
}

/// Publications waiting for Redis; beyond this they are dropped (and counted) rather than queued.
const OUTGOING_QUEUE: usize = 10_000;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl RedisBus {
    /// Starts the subscriber and publisher tasks for `channel`. Never fails because Redis is down:
    /// only a malformed URL is an error.
    pub fn start(url: &str, channel: String, broker: Weak<Broker>, instance_id: Uuid) -> anyhow::Result<RedisBus> {
        let client = redis::Client::open(url)?;
        let connected = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let (outgoing, rx) = mpsc::channel(OUTGOING_QUEUE);
        tokio::spawn(subscribe_loop(client.clone(), channel.clone(), broker, instance_id, connected.clone()));
        tokio::spawn(publish_loop(client, channel, rx, errors.clone()));
        Ok(RedisBus { outgoing, connected, errors })
    }

    /// Whether the subscription to the shared channel is live.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn publish(&self, origin: Uuid, envelope: &Envelope) {
        let wire = WireEnvelope {
            origin,
            key: envelope.routing_key.clone(),
            audience: envelope.audience,
            body: String::from_utf8_lossy(&envelope.body).into_owned(),
        };
        let Ok(payload) = serde_json::to_vec(&wire) else { return };
        if self.outgoing.try_send(payload).is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn subscribe_loop(
    client: redis::Client,
    channel: String,
    broker: Weak<Broker>,
    instance_id: Uuid,
    connected: Arc<AtomicBool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    tracing::info!("Redis fan-out connected");
                    connected.store(true, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Some(broker) = broker.upgrade() else { return };
                        match serde_json::from_slice::<WireEnvelope>(message.get_payload_bytes()) {
                            Ok(wire) if wire.origin != instance_id => {
                                broker.deliver_local(&Envelope {
                                    routing_key: wire.key,
                                    audience: wire.audience,
                                    body: Bytes::from(wire.body),
                                });
                            }
                            Ok(_) => {}
                            Err(error) => tracing::warn!(%error, "ignoring a malformed message on the Redis channel"),
                        }
                    }
                    connected.store(false, Ordering::Relaxed);
                    tracing::warn!("Redis fan-out disconnected; delivering locally until it returns");
                }
                Err(error) => tracing::warn!(%error, "Redis SUBSCRIBE failed"),
            },
            Err(error) => {
                if backoff >= MAX_BACKOFF {
                    tracing::debug!(%error, "Redis still unreachable");
                } else {
                    tracing::warn!(%error, "Redis unreachable; retrying");
                }
            }
        }
        if broker.strong_count() == 0 {
            return;
        }
        connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn publish_loop(client: redis::Client, channel: String, mut rx: mpsc::Receiver<Vec<u8>>, errors: Arc<AtomicU64>) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    while let Some(payload) = rx.recv().await {
        if connection.is_none() {
            connection = tokio::time::timeout(Duration::from_secs(1), client.get_multiplexed_async_connection())
                .await
                .ok()
                .and_then(Result::ok);
        }
        let Some(conn) = connection.as_mut() else {
            errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let sent = tokio::time::timeout(
            Duration::from_secs(1),
            redis::cmd("PUBLISH").arg(&channel).arg(payload).query_async::<i64>(conn),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            errors.fetch_add(1, Ordering::Relaxed);
            // Reconnect on the next publication.
            connection = None;
        }
    }
}

//! The subscription registry and fan-out: routing keys → subscribers, each with a bounded
//! outbound queue. A subscriber whose queue is full is a slow consumer: it is told to go (its
//! session sends ERROR and closes) rather than allowed to grow memory without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch, Notify};
use uuid::Uuid;

use super::redis_bus::RedisBus;

/// Who may receive an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    Everyone,
    /// Internal notes: delivered only to staff subscribers of the topic.
    StaffOnly,
}

/// A message to fan out to every subscriber of `routing_key`.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub routing_key: String,
    pub audience: Audience,
    /// JSON, sent as the MESSAGE body.
    pub body: Bytes,
}

/// What a session is asked to write to its client.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subscription: Arc<str>,
    pub destination: Arc<str>,
    pub body: Bytes,
}

/// Limits that keep one connection from using unbounded resources.
#[derive(Debug, Clone, Copy)]
pub struct BrokerLimits {
    pub max_connections: usize,
    pub max_subscriptions: usize,
    pub outbound_queue: usize,
}

struct Subscriber {
    connection: u64,
    subscription: Arc<str>,
    destination: Arc<str>,
    staff: bool,
    tx: mpsc::Sender<Delivery>,
    overflowed: Arc<Notify>,
}

/// A connection's link to the broker; dropping it does not unsubscribe (the session does).
pub struct ConnectionHandle {
    pub id: u64,
    pub staff: bool,
    tx: mpsc::Sender<Delivery>,
    /// Notified when the outbound queue overflowed: the session must disconnect the client.
    pub overflowed: Arc<Notify>,
    broker: Arc<Broker>,
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        self.broker.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Broker {
    routes: RwLock<HashMap<String, Vec<Subscriber>>>,
    connections: AtomicUsize,
    next_connection: AtomicU64,
    limits: BrokerLimits,
    /// Identifies this instance on the shared Redis channel, so it skips its own echoes.
    pub instance_id: Uuid,
    remote: OnceLock<RedisBus>,
    shutdown: watch::Sender<bool>,
    pub delivered: AtomicU64,
    pub slow_consumers: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("the server has reached its connection limit; retry later")]
    TooManyConnections,
    #[error("at most {0} subscriptions per connection")]
    TooManySubscriptions(usize),
}

impl Broker {
    pub fn new(limits: BrokerLimits) -> Arc<Broker> {
        Arc::new(Broker {
            routes: RwLock::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            next_connection: AtomicU64::new(1),
            limits,
            instance_id: Uuid::new_v4(),
            remote: OnceLock::new(),
            shutdown: watch::channel(false).0,
            delivered: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
        })
    }

    pub fn limits(&self) -> BrokerLimits {
        self.limits
    }

    /// Connects the broker to Redis so publications reach every instance.
    pub fn attach_remote(&self, bus: RedisBus) {
        let _ = self.remote.set(bus);
    }

    pub fn remote(&self) -> Option<&RedisBus> {
        self.remote.get()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Admits a new connection, or refuses it at the connection limit.
    pub fn register(
        self: &Arc<Self>,
        staff: bool,
    ) -> Result<(ConnectionHandle, mpsc::Receiver<Delivery>), BrokerError> {
        let previous = self.connections.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.limits.outbound_queue.max(1));
        let handle = ConnectionHandle {
            id: self.next_connection.fetch_add(1, Ordering::Relaxed),
            staff,
            tx,
            overflowed: Arc::new(Notify::new()),
            broker: self.clone(),
        };
        if previous >= self.limits.max_connections {
            // Dropping the handle gives the slot back.
            return Err(BrokerError::TooManyConnections);
        }
        Ok((handle, rx))
    }

    fn routes_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Subscriber>>> {
        self.routes.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self, connection: &ConnectionHandle, subscription: &str, routing_key: String, destination: &str) {
        let subscriber = Subscriber {
            connection: connection.id,
            subscription: subscription.into(),
            destination: destination.into(),
            staff: connection.staff,
            tx: connection.tx.clone(),
            overflowed: connection.overflowed.clone(),
        };
        self.routes_write().entry(routing_key).or_default().push(subscriber);
    }

    pub fn unsubscribe(&self, connection: u64, subscription: &str, routing_key: &str) {
        let mut routes = self.routes_write();
        if let Some(subscribers) = routes.get_mut(routing_key) {
            subscribers.retain(|s| !(s.connection == connection && &*s.subscription == subscription));
            if subscribers.is_empty() {
                routes.remove(routing_key);
            }
        }
    }

    /// Delivers here and, with Redis, to every other instance.
    pub fn publish(&self, envelope: Envelope) {
        self.deliver_local(&envelope);
        if let Some(remote) = self.remote.get() {
            remote.publish(self.instance_id, &envelope);
        }
    }

    /// Hands the envelope to each local subscriber's queue without waiting; returns how many took it.
    pub fn deliver_local(&self, envelope: &Envelope) -> usize {
        let started = std::time::Instant::now();
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let Some(subscribers) = routes.get(&envelope.routing_key) else { return 0 };
        let mut delivered = 0;
        for subscriber in subscribers {
            if envelope.audience == Audience::StaffOnly && !subscriber.staff {
                continue;
            }
            let delivery = Delivery {
                subscription: subscriber.subscription.clone(),
                destination: subscriber.destination.clone(),
                body: envelope.body.clone(),
            };
            match subscriber.tx.try_send(delivery) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.slow_consumers.fetch_add(1, Ordering::Relaxed);
                    subscriber.overflowed.notify_one();
                }
                // The session is closing; it removes its subscriptions itself.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        self.delivered.fetch_add(delivered as u64, Ordering::Relaxed);
        metrics::histogram!("stomp_fanout_duration_seconds").record(started.elapsed().as_secs_f64());
        delivered
    }

    /// Tells every session to send ERROR and close, so clients reconnect elsewhere.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(queue: usize) -> Arc<Broker> {
        Broker::new(BrokerLimits { max_connections: 2, max_subscriptions: 8, outbound_queue: queue })
    }

    fn envelope(key: &str, audience: Audience) -> Envelope {
        Envelope { routing_key: key.into(), audience, body: Bytes::from_static(b"{}") }
    }

    #[test]
    fn staff_only_envelopes_skip_customers() {
        let broker = broker(8);
        let (customer, mut customer_rx) = broker.register(false).unwrap();
        let (agent, mut agent_rx) = broker.register(true).unwrap();
        broker.subscribe(&customer, "s1", "/t".into(), "/t");
        broker.subscribe(&agent, "s2", "/t".into(), "/t");
        assert_eq!(broker.deliver_local(&envelope("/t", Audience::StaffOnly)), 1);
        assert!(customer_rx.try_recv().is_err());
        assert_eq!(&*agent_rx.try_recv().unwrap().subscription, "s2");
        assert_eq!(broker.deliver_local(&envelope("/t", Audience::Everyone)), 2);
        assert_eq!(broker.deliver_local(&envelope("/other", Audience::Everyone)), 0);
    }

    #[tokio::test]
    async fn a_full_queue_flags_a_slow_consumer_instead_of_growing() {
        let broker = broker(4);
        let (connection, _rx_never_read) = broker.register(false).unwrap();
        broker.subscribe(&connection, "s", "/t".into(), "/t");
        for _ in 0..4 {
            assert_eq!(broker.deliver_local(&envelope("/t", Audience::Everyone)), 1);
        }
        assert_eq!(broker.deliver_local(&envelope("/t", Audience::Everyone)), 0, "queue bound holds");
        tokio::time::timeout(std::time::Duration::from_secs(1), connection.overflowed.notified())
            .await
            .expect("overflow notified");
        assert_eq!(broker.slow_consumers.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn unsubscribe_and_connection_limit() {
        let broker = broker(4);
        let (a, _ra) = broker.register(false).unwrap();
        let (_b, _rb) = broker.register(false).unwrap();
        assert!(matches!(broker.register(false), Err(BrokerError::TooManyConnections)));
        broker.subscribe(&a, "s", "/t".into(), "/t");
        broker.unsubscribe(a.id, "s", "/t");
        assert_eq!(broker.deliver_local(&envelope("/t", Audience::Everyone)), 0);
        drop(a);
        assert!(broker.register(false).is_ok(), "a closed connection frees its slot");
    }
}

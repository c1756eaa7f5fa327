//! One STOMP session: the per-connection state machine (CONNECT, heart-beats, subscriptions,
//! SEND, receipts, ERROR) over any stream/sink of WebSocket messages.
//!
//! Protocol rules follow STOMP 1.2: a frame the server cannot process gets an ERROR frame and
//! the connection is closed (§ERROR); RECEIPT is sent only once the frame was processed — for a
//! chat message, once it is durably stored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes};
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::broker::{ConnectionHandle, Delivery};
use super::destination::{AppDestination, Topic};
use super::events;
use super::frame::{Command, Decoder, Frame, Item, Limits};
use crate::api::{self, communications};
use crate::app::AppState;
use crate::auth::extractor::authenticate;
use crate::auth::AuthUser;
use crate::domain::ticket::CommunicationType;
use crate::error::AppError;

/// Timing and size settings of sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Heart-beat interval the server offers and asks for (0 disables).
    pub heartbeat: Duration,
    pub max_frame_bytes: usize,
    /// A CONNECT must arrive within this time of the WebSocket opening.
    pub connect_timeout: Duration,
    /// A client that does not accept a frame within this time is disconnected.
    pub write_timeout: Duration,
}

const SUPPORTED_VERSIONS: [&str; 3] = ["1.2", "1.1", "1.0"];
/// Typing events per connection per second beyond which they are dropped.
const TYPING_PER_SECOND: u32 = 5;
/// WebSocket messages read ahead, without waiting, after the one that woke the session.
const READ_AHEAD_MESSAGES: usize = 32;
/// Chat messages of one connection stored in one transaction at most.
const MAX_BURST: usize = 32;

/// Why a session ends with an ERROR frame.
struct Fatal {
    message: String,
    receipt: Option<String>,
}

impl Fatal {
    fn new(message: impl Into<String>) -> Self {
        Fatal { message: message.into(), receipt: None }
    }

    fn for_frame(frame: &Frame, message: impl Into<String>) -> Self {
        Fatal { message: message.into(), receipt: frame.header("receipt").map(String::from) }
    }

    fn into_frame(self) -> Frame {
        let mut frame = Frame::new(Command::Error).with_header("message", self.message.replace(['\n', '\r'], " "));
        if let Some(receipt) = self.receipt {
            frame = frame.with_header("receipt-id", receipt);
        }
        frame.with_header("content-type", "text/plain").with_body(self.message.into_bytes())
    }
}

/// What to tell a client for an API error, without leaking internals.
fn api_error_text(error: &AppError) -> String {
    match error {
        AppError::Validation(errors) => {
            let fields: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            format!("invalid message: {}", fields.join("; "))
        }
        AppError::Internal(_) => "internal error; the message was not stored".into(),
        AppError::Unavailable(_) => "service temporarily unavailable; the message was not stored".into(),
        other => other.to_string(),
    }
}

struct Connected {
    user: AuthUser,
    display_name: String,
    handle: ConnectionHandle,
    /// subscription id → (routing key, topic)
    subscriptions: HashMap<String, (String, Topic)>,
    /// Tickets this user was found allowed to use (ownership does not change).
    allowed_tickets: HashSet<Uuid>,
    typing_window: (Instant, u32),
    send_every: Option<Duration>,
    expect_every: Option<Duration>,
}

struct Session {
    state: AppState,
    session_id: String,
    upgrade_token: Option<String>,
    connected: Option<Connected>,
    /// The outbound queue, handed to the I/O loop once CONNECT succeeded.
    pending_receiver: Option<mpsc::Receiver<Delivery>>,
    message_counter: u64,
}

/// Parses `heart-beat: cx,cy` (STOMP §Heart-beating).
fn parse_heartbeat(value: Option<&str>) -> Result<(u64, u64), String> {
    let Some(value) = value else { return Ok((0, 0)) };
    let (cx, cy) = value.split_once(',').ok_or("heart-beat must be two numbers: cx,cy")?;
    let parse = |v: &str| v.trim().parse::<u64>().map_err(|_| "heart-beat must be two numbers: cx,cy".to_string());
    Ok((parse(cx)?, parse(cy)?))
}

/// Negotiated interval: zero on either side disables that direction; else the larger of the two.
fn negotiate(ours: u64, theirs: u64) -> Option<Duration> {
    (ours > 0 && theirs > 0).then(|| Duration::from_millis(ours.max(theirs)))
}

fn bearer(value: &str) -> &str {
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value).trim()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatMessage {
    ticket_id: Option<String>,
    message: Option<String>,
    content: Option<String>,
    #[serde(rename = "type")]
    kind: Option<CommunicationType>,
}

#[derive(Deserialize)]
struct TypingMessage {
    typing: bool,
}

/// A chat SEND's ticket, type and text (the ticket from the destination, or else the body).
fn parse_chat(frame: &Frame, ticket_id: Option<Uuid>) -> Result<(Uuid, CommunicationType, String), Fatal> {
    let body: ChatMessage = serde_json::from_slice(&frame.body)
        .map_err(|e| Fatal::for_frame(frame, format!("the body must be a JSON chat message: {e}")))?;
    let ticket_id = match (ticket_id, body.ticket_id.as_deref()) {
        (Some(id), _) => id,
        (None, Some(text)) => {
            Uuid::parse_str(text.trim()).map_err(|_| Fatal::for_frame(frame, "ticketId must be a UUID"))?
        }
        (None, None) => return Err(Fatal::for_frame(frame, "ticketId is required")),
    };
    let content = body.message.or(body.content).ok_or_else(|| Fatal::for_frame(frame, "message is required"))?;
    Ok((ticket_id, body.kind.unwrap_or(CommunicationType::Message), content))
}

impl Session {
    fn connected(&mut self) -> Result<&mut Connected, Fatal> {
        self.connected.as_mut().ok_or_else(|| Fatal::new("send CONNECT first"))
    }

    /// Handles one client frame: `Ok` frames to send back, or a fatal error.
    async fn handle(&mut self, frame: Frame) -> Result<Vec<Frame>, Fatal> {
        metrics::counter!("stomp_frames_in_total", "command" => frame.command.as_str()).increment(1);
        let mut replies = match frame.command {
            Command::Connect | Command::Stomp => self.on_connect(&frame).await?,
            Command::Subscribe => self.on_subscribe(&frame).await?,
            Command::Unsubscribe => self.on_unsubscribe(&frame)?,
            Command::Send => self.on_send(&frame).await?,
            Command::Disconnect => Vec::new(),
            Command::Ack | Command::Nack => {
                return Err(Fatal::for_frame(&frame, "subscriptions are ack:auto; ACK and NACK are not supported"))
            }
            Command::Begin | Command::Commit | Command::Abort => {
                return Err(Fatal::for_frame(&frame, "transactions are not supported"))
            }
            other => return Err(Fatal::for_frame(&frame, format!("{other} is a server frame"))),
        };
        if let Some(receipt) = frame.header("receipt") {
            if frame.command != Command::Connect && frame.command != Command::Stomp {
                replies.push(Frame::new(Command::Receipt).with_header("receipt-id", receipt));
            }
        }
        Ok(replies)
    }

    async fn on_connect(&mut self, frame: &Frame) -> Result<Vec<Frame>, Fatal> {
        if self.connected.is_some() {
            return Err(Fatal::for_frame(frame, "already connected"));
        }
        let offered = frame.header("accept-version").unwrap_or("1.0");
        let version = SUPPORTED_VERSIONS
            .iter()
            .find(|v| offered.split(',').any(|o| o.trim() == **v))
            .ok_or_else(|| Fatal::for_frame(frame, "supported protocol versions are 1.2, 1.1 and 1.0"))?;
        let token = frame
            .header("Authorization")
            .or_else(|| frame.header("authorization"))
            .map(bearer)
            .or_else(|| frame.header("passcode").map(bearer))
            .or(self.upgrade_token.as_deref())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Fatal::for_frame(frame, "authentication required: send 'Authorization: Bearer <token>'"))?
            .to_string();
        let user = authenticate(&self.state, &token).await.map_err(|e| Fatal::for_frame(frame, api_error_text(&e)))?;
        let display_name = match self.state.store.user_by_id(user.id).await {
            Ok(account) => account.full_name,
            Err(error) => return Err(Fatal::for_frame(frame, api_error_text(&error.into()))),
        };
        let (cx, cy) = parse_heartbeat(frame.header("heart-beat")).map_err(|e| Fatal::for_frame(frame, e))?;
        let ours = self.state.session_settings.heartbeat.as_millis() as u64;
        let (handle, rx) =
            self.state.broker.register(user.is_staff()).map_err(|e| Fatal::for_frame(frame, e.to_string()))?;
        self.connected = Some(Connected {
            display_name,
            handle,
            subscriptions: HashMap::new(),
            allowed_tickets: HashSet::new(),
            typing_window: (Instant::now(), 0),
            // We send as often as the client asks (cy), no more often than we offer.
            send_every: negotiate(ours, cy),
            expect_every: negotiate(ours, cx),
            user,
        });
        self.pending_receiver = Some(rx);
        let connected = Frame::new(Command::Connected)
            .with_header("version", *version)
            .with_header("heart-beat", format!("{ours},{ours}"))
            .with_header("server", concat!("alphintra-support/", env!("CARGO_PKG_VERSION")))
            .with_header("session", self.session_id.clone())
            .with_header("user-name", self.connected.as_ref().map(|c| c.user.id.to_string()).unwrap_or_default());
        Ok(vec![connected])
    }

    /// Whether the user may use this ticket's destinations: its customer, or staff.
    async fn check_ticket(&mut self, frame: &Frame, ticket_id: Uuid) -> Result<(), Fatal> {
        let connected = self.connected()?;
        if connected.allowed_tickets.contains(&ticket_id) {
            return Ok(());
        }
        let user = connected.user.clone();
        match api::ticket_for(&self.state, &user, &ticket_id.to_string()).await {
            Ok(_) => {
                self.connected()?.allowed_tickets.insert(ticket_id);
                Ok(())
            }
            Err(AppError::NotFound(_)) => Err(Fatal::for_frame(frame, "no such ticket, or it is not yours")),
            Err(other) => Err(Fatal::for_frame(frame, api_error_text(&other))),
        }
    }

    async fn on_subscribe(&mut self, frame: &Frame) -> Result<Vec<Frame>, Fatal> {
        let id = frame.header("id").ok_or_else(|| Fatal::for_frame(frame, "SUBSCRIBE needs an id header"))?.to_string();
        let destination = frame
            .header("destination")
            .ok_or_else(|| Fatal::for_frame(frame, "SUBSCRIBE needs a destination header"))?
            .to_string();
        let ack = frame.header("ack").unwrap_or("auto");
        if ack != "auto" {
            return Err(Fatal::for_frame(frame, "only ack:auto subscriptions are supported"));
        }
        let topic = Topic::parse(&destination)
            .ok_or_else(|| Fatal::for_frame(frame, format!("unknown destination {destination}")))?;
        let max = self.state.broker.limits().max_subscriptions;
        {
            let connected = self.connected()?;
            if connected.subscriptions.contains_key(&id) {
                return Err(Fatal::for_frame(frame, format!("subscription id {id} is already in use")));
            }
            if connected.subscriptions.len() >= max {
                return Err(Fatal::for_frame(frame, format!("at most {max} subscriptions per connection")));
            }
            if topic == Topic::SupportNotifications && !connected.user.is_staff() {
                return Err(Fatal::for_frame(frame, "/topic/support/notifications is for support staff only"));
            }
        }
        if let Some(ticket_id) = topic.ticket_id() {
            self.check_ticket(frame, ticket_id).await?;
        }
        let broker = self.state.broker.clone();
        let connected = self.connected()?;
        let routing_key = topic.routing_key(connected.user.id);
        broker.subscribe(&connected.handle, &id, routing_key.clone(), &destination);
        connected.subscriptions.insert(id, (routing_key, topic));
        Ok(Vec::new())
    }

    fn on_unsubscribe(&mut self, frame: &Frame) -> Result<Vec<Frame>, Fatal> {
        let id = frame.header("id").ok_or_else(|| Fatal::for_frame(frame, "UNSUBSCRIBE needs an id header"))?;
        let broker = self.state.broker.clone();
        let connected = self.connected()?;
        if let Some((routing_key, _)) = connected.subscriptions.remove(id) {
            broker.unsubscribe(connected.handle.id, id, &routing_key);
        }
        Ok(Vec::new())
    }

    async fn on_send(&mut self, frame: &Frame) -> Result<Vec<Frame>, Fatal> {
        let destination =
            frame.header("destination").ok_or_else(|| Fatal::for_frame(frame, "SEND needs a destination header"))?;
        let target = AppDestination::parse(destination)
            .ok_or_else(|| Fatal::for_frame(frame, format!("cannot send to {destination}")))?;
        self.connected()?;
        match target {
            AppDestination::TicketMessage(ticket_id) => self.send_message(frame, Some(ticket_id)).await,
            AppDestination::ChatMessage => self.send_message(frame, None).await,
            AppDestination::TicketTyping(ticket_id) => self.send_typing(frame, ticket_id).await,
        }
    }

    /// Stores a chat message exactly as the REST endpoint does (same rules, same broadcast).
    async fn send_message(&mut self, frame: &Frame, ticket_id: Option<Uuid>) -> Result<Vec<Frame>, Fatal> {
        let (ticket_id, kind, content) = parse_chat(frame, ticket_id)?;
        self.store_chat(frame, ticket_id, kind, &[content.as_str()]).await?;
        Ok(Vec::new())
    }

    /// A SEND that may share a commit with the chat messages after it: a plain message whose
    /// content is valid, from a connected client. Anything else is handled (or refused) alone.
    fn burst_member(&self, frame: &Frame) -> Option<(Uuid, String)> {
        if frame.command != Command::Send || self.connected.is_none() {
            return None;
        }
        let ticket_id = match AppDestination::parse(frame.header("destination")?)? {
            AppDestination::TicketMessage(ticket_id) => Some(ticket_id),
            AppDestination::ChatMessage => None,
            AppDestination::TicketTyping(_) => return None,
        };
        let (ticket_id, kind, content) = parse_chat(frame, ticket_id).ok()?;
        let valid = communications::message_content(&content).is_ok();
        (kind == CommunicationType::Message && valid).then_some((ticket_id, content))
    }

    /// Consecutive chat messages to one ticket, stored in one transaction; a RECEIPT for each
    /// once it is committed. If the store refuses, none is stored and the ERROR names the first.
    async fn send_burst(&mut self, ticket_id: Uuid, burst: &[(Frame, String)]) -> Result<Vec<Frame>, Fatal> {
        let Some((first, _)) = burst.first() else { return Ok(Vec::new()) };
        metrics::counter!("stomp_frames_in_total", "command" => Command::Send.as_str()).increment(burst.len() as u64);
        if burst.len() > 1 {
            metrics::counter!("stomp_chat_batched_messages_total").increment(burst.len() as u64);
        }
        let contents: Vec<&str> = burst.iter().map(|(_, content)| content.as_str()).collect();
        self.store_chat(first, ticket_id, CommunicationType::Message, &contents).await?;
        Ok(burst
            .iter()
            .filter_map(|(frame, _)| frame.header("receipt"))
            .map(|receipt| Frame::new(Command::Receipt).with_header("receipt-id", receipt))
            .collect())
    }

    async fn store_chat(
        &mut self,
        frame: &Frame,
        ticket_id: Uuid,
        kind: CommunicationType,
        contents: &[&str],
    ) -> Result<(), Fatal> {
        let user = self.connected()?.user.clone();
        // Same deadline as an API request: a database that stopped answering ends in an ERROR
        // (no RECEIPT, so the client knows to send again), not in a session stuck for good.
        let limit = Duration::from_secs(self.state.config.request_timeout_secs);
        let ticket = ticket_id.to_string();
        let stored = communications::post_messages(&self.state, &user, &ticket, kind, contents);
        match tokio::time::timeout(limit, stored).await {
            Ok(result) => result.map(|_| ()).map_err(|e| Fatal::for_frame(frame, api_error_text(&e))),
            Err(_) => Err(Fatal::for_frame(frame, "the message could not be stored in time; send it again")),
        }
    }

    async fn send_typing(&mut self, frame: &Frame, ticket_id: Uuid) -> Result<Vec<Frame>, Fatal> {
        let body: TypingMessage = serde_json::from_slice(&frame.body)
            .map_err(|_| Fatal::for_frame(frame, "the body must be {\"typing\": true|false}"))?;
        self.check_ticket(frame, ticket_id).await?;
        let broker = self.state.broker.clone();
        let connected = self.connected()?;
        let (since, count) = &mut connected.typing_window;
        if since.elapsed() >= Duration::from_secs(1) {
            *since = Instant::now();
            *count = 0;
        }
        *count += 1;
        if *count <= TYPING_PER_SECOND {
            events::typing(&broker, ticket_id, connected.user.id, &connected.display_name, body.typing);
        }
        Ok(Vec::new())
    }

    fn message_frame(&mut self, delivery: Delivery) -> Frame {
        self.message_counter += 1;
        Frame::new(Command::Message)
            .with_header("subscription", &*delivery.subscription)
            .with_header("message-id", format!("{}-{}", self.session_id, self.message_counter))
            .with_header("destination", &*delivery.destination)
            .with_header("content-type", "application/json")
            .with_body(delivery.body.to_vec())
    }

    fn unsubscribe_all(&mut self) {
        if let Some(connected) = self.connected.as_mut() {
            for (id, (routing_key, _)) in connected.subscriptions.drain() {
                self.state.broker.unsubscribe(connected.handle.id, &id, &routing_key);
            }
        }
    }
}

fn encode(frame: &Frame) -> Message {
    metrics::counter!("stomp_frames_out_total", "command" => frame.command.as_str()).increment(1);
    let bytes = frame.to_bytes();
    match String::from_utf8(bytes) {
        Ok(text) => Message::Text(Utf8Bytes::from(text)),
        Err(error) => Message::Binary(error.into_bytes().into()),
    }
}

/// Writes one message; `false` if the client is gone or did not take it in time.
async fn write<K: Sink<Message> + Unpin>(sink: &mut K, message: Message, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, sink.send(message)).await, Ok(Ok(())))
}

/// Runs a session until the client leaves, breaks the protocol, falls silent past its
/// heart-beat grace, cannot keep up, or the server shuts down.
pub async fn run<S, E>(socket: S, state: AppState, upgrade_token: Option<String>)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
{
    let settings = state.session_settings;
    let (mut sink, mut stream) = socket.split();
    let mut shutdown = state.broker.shutdown_signal();
    let mut session = Session {
        session_id: Uuid::new_v4().simple().to_string(),
        state,
        upgrade_token,
        connected: None,
        pending_receiver: None,
        message_counter: 0,
    };
    let mut decoder = Decoder::new(Limits { max_frame_bytes: settings.max_frame_bytes, ..Limits::default() });
    let mut outbound: Option<mpsc::Receiver<Delivery>> = None;
    let mut last_received = Instant::now();
    let mut last_sent = Instant::now();
    let opened = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let fatal: Option<Fatal> = 'session: loop {
        tokio::select! {
            incoming = stream.next() => {
                let bytes = match incoming {
                    Some(Ok(Message::Text(text))) => bytes::Bytes::from(text),
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => { last_received = Instant::now(); continue; }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                };
                last_received = Instant::now();
                decoder.feed(&bytes);
                // Take in what else the client has already sent (without waiting), so a burst of
                // chat messages that queued up during the last commit shares the next one.
                let mut closing = false;
                for _ in 0..READ_AHEAD_MESSAGES {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(Message::Text(text)))) => decoder.feed(text.as_bytes()),
                        Some(Some(Ok(Message::Binary(bytes)))) => decoder.feed(&bytes),
                        Some(Some(Ok(_))) => {}
                        Some(Some(Err(_)) | None) => { closing = true; break; }
                        None => break,
                    }
                }
                let mut frames = VecDeque::new();
                let undecodable = loop {
                    match decoder.next_frame() {
                        Ok(Some(Item::Frame(frame))) => frames.push_back(frame),
                        Ok(Some(Item::HeartBeat)) => {}
                        Ok(None) => break None,
                        Err(error) => break Some(Fatal::new(error.to_string())),
                    }
                };
                while let Some(frame) = frames.pop_front() {
                    let disconnect = frame.command == Command::Disconnect;
                    let handled = match session.burst_member(&frame) {
                        Some((ticket_id, content)) => {
                            let mut burst = vec![(frame, content)];
                            while burst.len() < MAX_BURST {
                                match frames.front().and_then(|next| session.burst_member(next)) {
                                    Some((next_ticket, content)) if next_ticket == ticket_id => {
                                        if let Some(next) = frames.pop_front() {
                                            burst.push((next, content));
                                        }
                                    }
                                    _ => break,
                                }
                            }
                            session.send_burst(ticket_id, &burst).await
                        }
                        None => session.handle(frame).await,
                    };
                    match handled {
                        Ok(replies) => {
                            for reply in &replies {
                                if !write(&mut sink, encode(reply), settings.write_timeout).await {
                                    break 'session None;
                                }
                                last_sent = Instant::now();
                            }
                        }
                        Err(fatal) => break 'session Some(fatal),
                    }
                    if outbound.is_none() {
                        outbound = session.pending_receiver.take();
                        if let Some(connected) = session.connected.as_ref() {
                            // Tick often enough to keep the negotiated heart-beat rhythm.
                            let period = [connected.send_every, connected.expect_every]
                                .into_iter()
                                .flatten()
                                .min()
                                .map_or(Duration::from_secs(1), |every| (every / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)));
                            ticker = tokio::time::interval(period);
                            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        }
                    }
                    if disconnect {
                        break 'session None;
                    }
                }
                if let Some(fatal) = undecodable {
                    break 'session Some(fatal);
                }
                if closing {
                    break 'session None;
                }
            }
            Some(delivery) = async { match outbound.as_mut() { Some(rx) => rx.recv().await, None => None } } => {
                let frame = session.message_frame(delivery);
                if !write(&mut sink, encode(&frame), settings.write_timeout).await {
                    break None;
                }
                last_sent = Instant::now();
            }
            _ = async { match session.connected.as_ref() { Some(c) => c.handle.overflowed.notified().await, None => std::future::pending().await } } => {
                break Some(Fatal::new("slow consumer: too many undelivered messages; reconnect and catch up with ?after=<seq>"));
            }
            _ = shutdown.changed() => {
                break Some(Fatal::new("server shutting down; reconnect"));
            }
            _ = ticker.tick() => {
                match session.connected.as_ref() {
                    None if opened.elapsed() > settings.connect_timeout => break Some(Fatal::new("no CONNECT frame received in time")),
                    None => {}
                    Some(connected) => {
                        // Dead client: nothing heard for twice the agreed interval (STOMP allows a margin).
                        if let Some(expect) = connected.expect_every {
                            if last_received.elapsed() > expect * 2 {
                                tracing::debug!("STOMP client missed its heart-beats; closing");
                                break None;
                            }
                        }
                        if let Some(every) = connected.send_every {
                            if last_sent.elapsed() >= every {
                                if !write(&mut sink, Message::Text(Utf8Bytes::from_static("\n")), settings.write_timeout).await {
                                    break None;
                                }
                                last_sent = Instant::now();
                            }
                        }
                    }
                }
            }
        }
    };
    if let Some(fatal) = fatal {
        let frame = fatal.into_frame();
        let _ = tokio::time::timeout(settings.write_timeout, sink.send(encode(&frame))).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    session.unsubscribe_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_negotiate_to_the_slower_side_or_off() {
        assert_eq!(parse_heartbeat(Some("0,0")), Ok((0, 0)));
        assert_eq!(parse_heartbeat(Some("1000, 5000")), Ok((1000, 5000)));
        assert!(parse_heartbeat(Some("1000")).is_err());
        assert!(parse_heartbeat(Some("a,b")).is_err());
        assert_eq!(negotiate(10_000, 0), None);
        assert_eq!(negotiate(0, 10_000), None);
        assert_eq!(negotiate(10_000, 4_000), Some(Duration::from_secs(10)));
        assert_eq!(negotiate(10_000, 20_000), Some(Duration::from_secs(20)));
    }

    #[test]
    fn error_frames_carry_message_and_receipt() {
        let request = Frame::new(Command::Send).with_header("receipt", "r-7");
        let frame = Fatal::for_frame(&request, "bad\nthing").into_frame();
        assert_eq!(frame.command, Command::Error);
        assert_eq!(frame.header("message"), Some("bad thing"));
        assert_eq!(frame.header("receipt-id"), Some("r-7"));
    }
}

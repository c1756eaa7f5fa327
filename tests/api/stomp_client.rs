//! A small STOMP-over-WebSocket test client (tokio-tungstenite), for driving the broker the way
//! a browser does. Interop with an independent client is proven separately with @stomp/stompjs.

use std::time::Duration;

use alphintra_support::realtime::frame::{Command, Decoder, Frame, Item, Limits};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

pub const WAIT: Duration = Duration::from_secs(5);

pub struct StompClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    decoder: Decoder,
    /// The sub-protocol the server chose.
    pub protocol: Option<String>,
    pub heartbeats_seen: usize,
}

impl StompClient {
    /// Opens the WebSocket (no STOMP yet). `path` may carry a query string.
    pub async fn open(app: &TestApp, path: &str) -> StompClient {
        let url = format!("{}{path}", app.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", "v12.stomp, v11.stomp".parse().expect("header"));
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("WebSocket opens");
        let protocol = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()).map(String::from);
        StompClient { ws, decoder: Decoder::new(Limits::default()), protocol, heartbeats_seen: 0 }
    }

    /// Opens `/ws` and completes CONNECT with this bearer token.
    pub async fn connect(app: &TestApp, token: &str) -> StompClient {
        let mut client = StompClient::open(app, "/ws").await;
        client
            .send(
                Frame::new(Command::Connect)
                    .with_header("accept-version", "1.1,1.2")
                    .with_header("host", "localhost")
                    .with_header("Authorization", format!("Bearer {token}"))
                    .with_header("heart-beat", "0,0"),
            )
            .await;
        let connected = client.expect(Command::Connected).await;
        assert_eq!(connected.header("version"), Some("1.2"));
        client
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send(&mut self, frame: Frame) {
        let bytes = frame.to_bytes();
        self.ws.send(Message::text(String::from_utf8(bytes).expect("utf-8 frame"))).await.expect("send");
    }

    /// The next frame within `wait`, skipping heart-beats; `None` on timeout or close.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.decoder.next_frame() {
                Ok(Some(Item::Frame(frame))) => return Some(frame),
                Ok(Some(Item::HeartBeat)) => {
                    self.heartbeats_seen += 1;
                    continue;
                }
                Ok(None) => {}
                Err(error) => panic!("server sent a malformed frame: {error}"),
            }
            let message = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??;
            match message {
                Ok(Message::Text(text)) => self.decoder.feed(text.as_bytes()),
                Ok(Message::Binary(bytes)) => self.decoder.feed(&bytes),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    pub async fn next(&mut self) -> Option<Frame> {
        self.next_within(WAIT).await
    }

    /// The next frame, which must have this command.
    pub async fn expect(&mut self, command: Command) -> Frame {
        let frame = self.next().await.unwrap_or_else(|| panic!("expected {command}, got nothing"));
        assert_eq!(
            frame.command,
            command,
            "expected {command}, got {} {:?} {}",
            frame.command,
            frame.headers,
            String::from_utf8_lossy(&frame.body)
        );
        frame
    }

    /// The next MESSAGE's JSON body.
    pub async fn expect_message(&mut self) -> (Frame, Value) {
        let frame = self.expect(Command::Message).await;
        let body = serde_json::from_slice(&frame.body).expect("JSON body");
        (frame, body)
    }

    /// Expects an ERROR frame followed by the connection closing; returns the error message.
    pub async fn expect_error_and_close(&mut self) -> String {
        let error = self.expect(Command::Error).await;
        let message = error.header("message").unwrap_or_default().to_string();
        assert!(self.next_within(Duration::from_secs(3)).await.is_none(), "connection closes after ERROR");
        message
    }

    /// Subscribes and waits for the receipt, so the subscription is live on return.
    pub async fn subscribe(&mut self, id: &str, destination: &str) {
        let receipt = format!("sub-{id}");
        self.send(
            Frame::new(Command::Subscribe)
                .with_header("id", id)
                .with_header("destination", destination)
                .with_header("ack", "auto")
                .with_header("receipt", receipt.as_str()),
        )
        .await;
        let frame = self.expect(Command::Receipt).await;
        assert_eq!(frame.header("receipt-id"), Some(receipt.as_str()));
    }

    /// SEND with a JSON body and a receipt; returns the reply (RECEIPT or ERROR).
    pub async fn send_json(&mut self, destination: &str, body: &Value, receipt: &str) -> Frame {
        self.send(
            Frame::new(Command::Send)
                .with_header("destination", destination)
                .with_header("content-type", "application/json")
                .with_header("receipt", receipt)
                .with_body(body.to_string().into_bytes()),
        )
        .await;
        self.next().await.expect("a reply to SEND")
    }

    /// Asserts nothing arrives for a short while.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(frame) = self.next_within(wait).await {
            panic!("expected silence, got {} {}", frame.command, String::from_utf8_lossy(&frame.body));
        }
    }
}

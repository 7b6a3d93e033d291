//! Helpers for tests of live delivery: WebSocket and Server-Sent Events clients that read
//! streamed events as Mastodon clients do, and the few API calls those tests repeat
//! (sign-up identity, posting, following).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail by panicking.

use crate::{TestApp, expect_json, json_body};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an event that must come, unless it says otherwise.
pub const WAIT: Duration = Duration::from_secs(5);

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One streamed event: its stream array, name and payload (parsed when it is JSON).
#[derive(Debug, Clone)]
pub struct Frame {
    /// The `stream` array (empty for SSE, which does not send it).
    pub stream: Vec<String>,
    /// The event name (`update`, `delete`…).
    pub event: String,
    /// The payload, parsed; for `delete` the bare id as a string.
    pub payload: Value,
}

impl Frame {
    /// A frame from its parts; the payload is parsed as JSON except for `delete`, whose
    /// payload is the bare id (which clients also parse, so it must be numeric).
    pub fn new(stream: Vec<String>, event: &str, payload: &str) -> Self {
        let payload = if event == "delete" {
            assert!(
                payload.bytes().all(|b| b.is_ascii_digit()),
                "a numeric id: {payload}"
            );
            Value::String(payload.to_owned())
        } else {
            serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {payload}"))
        };
        Self {
            stream,
            event: event.to_owned(),
            payload,
        }
    }

    /// The id of the post (or, for `conversation`, of its last post) the frame is about.
    pub fn id(&self) -> &str {
        match self.event.as_str() {
            "delete" => self.payload.as_str().unwrap(),
            "conversation" => self.payload["last_status"]["id"].as_str().unwrap(),
            _ => self.payload["id"].as_str().unwrap(),
        }
    }
}

/// The WebSocket URL of `app`'s streaming endpoint with `query` (e.g. `?stream=user`).
pub fn ws_url(app: &TestApp, query: &str) -> String {
    format!(
        "{}/api/v1/streaming{query}",
        app.base_url.replacen("http://", "ws://", 1)
    )
}

/// A WebSocket on `app` with `query`, the token in the `Authorization` header; the
/// subscription is open once the handshake is done.
pub async fn ws(app: &TestApp, token: &str, query: &str) -> Ws {
    let mut request = ws_url(app, query).into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the WebSocket handshake hangs")
        .unwrap()
        .0
}

/// The next event on the socket (pings and pongs skipped); panics on close or after
/// [`WAIT`].
pub async fn next_ws(ws: &mut Ws) -> Frame {
    next_ws_within(ws, WAIT).await
}

/// The next event on the socket, which must come within `wait`.
pub async fn next_ws_within(ws: &mut Ws, wait: Duration) -> Frame {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no event within the wait")
            .expect("the socket ended")
            .expect("the socket failed");
        match message {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(text.as_str()).unwrap();
                assert!(v["stream"].is_array(), "stream must be an array: {v}");
                let payload = v["payload"]
                    .as_str()
                    .unwrap_or_else(|| panic!("payload must be a JSON string: {v}"));
                return Frame::new(
                    serde_json::from_value(v["stream"].clone()).unwrap(),
                    v["event"].as_str().unwrap(),
                    payload,
                );
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// Sends a client message, then a ping, and waits for its pong: the server handles a
/// socket's messages in order, so the message has taken effect when the pong arrives.
pub async fn send_ws(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
    ws.send(Message::Ping(b"sync".to_vec().into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no pong")
            .unwrap()
            .unwrap()
        {
            Message::Pong(p) if &p[..] == b"sync" => return,
            Message::Text(t) => panic!("unexpected reply {t}"),
            _ => {}
        }
    }
}

/// Waits until the server closes the socket; returns the close code.
pub async fn closed(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the socket stays open")
        {
            None | Some(Err(_)) => return None,
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
        }
    }
}

/// An SSE response being read.
#[derive(Debug)]
pub struct Sse {
    response: reqwest::Response,
    buffer: String,
    wait: Duration,
}

impl Sse {
    /// This stream, waiting `wait` (instead of [`WAIT`]) for what must come.
    pub fn within(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The next complete block (up to a blank line) or comment line.
    pub async fn next_block(&mut self) -> Option<String> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            if self.buffer.starts_with(':') {
                // A comment line, once it is complete.
                if let Some(end) = self.buffer.find('\n') {
                    let line = self.buffer[..end].to_owned();
                    self.buffer = self.buffer[end + 1..].to_owned();
                    return Some(line);
                }
            } else if let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_owned();
                self.buffer = self.buffer[end + 2..].to_owned();
                return Some(block);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("nothing on the SSE stream within the wait")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event (comments skipped).
    pub async fn next_event(&mut self) -> Frame {
        loop {
            let block = self.next_block().await.expect("the SSE stream ended");
            if block.starts_with(':') {
                continue;
            }
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_owned());
                } else {
                    panic!("unexpected SSE line {line:?} (fields need a space after the colon)");
                }
            }
            return Frame::new(Vec::new(), &event.unwrap(), &data.unwrap());
        }
    }

    /// Whether the stream ends within the wait.
    pub async fn ends(&mut self) -> bool {
        loop {
            match tokio::time::timeout(self.wait, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(None) | Err(_)) => return true,
                Ok(Ok(Some(_))) => {}
            }
        }
    }
}

/// Opens the SSE stream at `path` (e.g. `/api/v1/streaming/user`) with `token`.
pub async fn sse(app: &TestApp, token: &str, path: &str) -> Sse {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream",
        "{path}"
    );
    Sse {
        response,
        buffer: String::new(),
        wait: WAIT,
    }
}

/// The id of the account `token` belongs to.
pub async fn account_id(app: &TestApp, token: &str) -> String {
    json_body(
        app.get("/api/v1/accounts/verify_credentials", Some(token))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Posts `body` and returns the new post's id.
pub async fn post(app: &TestApp, token: &str, body: Value) -> String {
    expect_json(
        app.post_json("/api/v1/statuses", Some(token), body).await,
        "post",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Posts `text` publicly and returns the new post's id.
pub async fn say(app: &TestApp, token: &str, text: &str) -> String {
    post(app, token, json!({"status": text})).await
}

/// Follows account `id` as `token`'s account.
pub async fn follow(app: &TestApp, token: &str, id: &str) {
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{id}/follow"),
            Some(token),
            json!({}),
        )
        .await,
        "follow",
    )
    .await;
}

//! Web Push over HTTP, end to end: a push service runs inside each test on 127.0.0.1 and
//! does what Mozilla's or Google's would — checks the VAPID JWT's ES256 signature against
//! the key the instance advertises and its claims — and then what the browser would: opens
//! the RFC 8291 payload with the subscription's private key (generated here, as a browser
//! does) to Mastodon's push JSON. The decryption below is written from the RFC with
//! RustCrypto's primitives, independently of the server's code, and checked first against
//! the RFC's own example.
//!
//! Also: subscription CRUD and validation, alerts and policy, visibility at delivery time,
//! a 410 removing the subscription, 5xx retried, revocation. "Nothing was pushed" is
//! checked once the push queue is empty — every queued push has then been delivered or
//! dropped, and any request it made has been received — so no test waits for silence.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes128Gcm, KeyInit, Nonce};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sha2::Sha256;
use starling_testkit::{ALL_SCOPES, OOB_REDIRECT, TestApp, expect_json, json_body, spawn_app_with};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The VAPID contact the tests configure.
const CONTACT: &str = "mailto:ops@example.com";
/// How long a test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(10);

/// A server whose push worker looks often and retries quickly.
async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(tweak: impl FnOnce(&mut starling_service::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.push_contact = Some(CONTACT.into());
        s.push_poll_interval_ms = 20;
        s.push_retry_base_ms = 50;
        s.push_retry_max_ms = 200;
        s.push_max_attempts = 3;
        tweak(s);
    })
    .await
}

// ---- the subscriber (what a browser keeps) ----------------------------------------------

/// A browser's side of a subscription: its P-256 key pair and authentication secret.
struct Subscriber {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Subscriber {
    fn new() -> Self {
        Self {
            secret: SecretKey::random(&mut rand::rngs::OsRng),
            auth: rand::random(),
        }
    }

    /// `subscription[keys][p256dh]`: the public key, uncompressed, base64url.
    fn p256dh(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret.public_key().to_encoded_point(false).as_bytes())
    }

    /// `subscription[keys][auth]`.
    fn auth(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.auth)
    }

    /// Opens an `aes128gcm` Web Push body (RFC 8291 §3, RFC 8188 §2) as the receiving
    /// user agent does, and returns the plaintext.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        assert!(body.len() > 21, "body too short for the header");
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().unwrap()) as usize;
        let idlen = body[20] as usize;
        assert_eq!(
            idlen, 65,
            "the key id is the sender's uncompressed P-256 key"
        );
        let as_public_bytes = &body[21..21 + idlen];
        let record = &body[21 + idlen..];
        // RFC 8291 §4: one record, and a record size greater than it.
        assert!(
            rs > record.len(),
            "rs {rs} must exceed the record ({})",
            record.len()
        );
        let as_public = PublicKey::from_sec1_bytes(as_public_bytes).expect("sender key");
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), as_public.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(self.secret.public_key().to_encoded_point(false).as_bytes());
        info.extend_from_slice(as_public_bytes);
        let mut ikm = [0_u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0_u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        let mut nonce = [0_u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(Nonce::from_slice(&nonce), record)
            .expect("the payload must decrypt with the subscription's keys");
        // The last record: zero padding, preceded by the delimiter 2.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "last-record delimiter");
        plain
    }
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("{s:?} is not base64url: {e}"))
}

// ---- the push service ------------------------------------------------------------------

/// A push request as the push service received it.
#[derive(Debug)]
struct Received {
    /// The subscription's name (the last path segment).
    name: String,
    headers: HeaderMap,
    body: Bytes,
    /// The status it was answered with.
    answered: u16,
}

#[derive(Default)]
struct ServiceState {
    /// Statuses to answer, per subscription name, in order; then 201.
    script: Mutex<HashMap<String, VecDeque<u16>>>,
    /// How long to think before taking a request, per subscription name.
    slow: Mutex<HashMap<String, Duration>>,
    received: Mutex<Option<mpsc::UnboundedSender<Received>>>,
    /// Signalled when a request arrives, before it is thought over and answered.
    arrived: tokio::sync::Notify,
}

/// A push service on 127.0.0.1 with endpoints `/push/<name>`; a 429 or 503 answer says
/// `Retry-After: 1`.
struct PushService {
    origin: String,
    state: Arc<ServiceState>,
    received: mpsc::UnboundedReceiver<Received>,
}

impl PushService {
    async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(ServiceState {
            received: Mutex::new(Some(tx)),
            ..ServiceState::default()
        });
        let router = axum::Router::new()
            .route("/push/{name}", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            origin,
            state,
            received: rx,
        }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.origin)
    }

    /// Answers the next requests to `name` with `statuses`, in order.
    fn answer(&self, name: &str, statuses: &[u16]) {
        self.state
            .script
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .extend(statuses);
    }

    /// Waits until a request has reached the service (it may still be thinking).
    async fn arrival(&self) {
        tokio::time::timeout(WAIT, self.state.arrived.notified())
            .await
            .expect("no push request arrived");
    }

    /// Makes requests to `name` take `pause` before they are received and answered.
    fn slow_down(&self, name: &str, pause: Duration) {
        self.state
            .slow
            .lock()
            .unwrap()
            .insert(name.to_owned(), pause);
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("no push arrived in time")
            .unwrap()
    }

    /// Asserts that nothing (more) was received.
    fn assert_silent(&mut self) {
        if let Ok(r) = self.received.try_recv() {
            panic!("unexpected push to {}: {r:?}", r.name);
        }
    }
}

async fn receive(
    State(state): State<Arc<ServiceState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap) {
    state.arrived.notify_one();
    let pause = state.slow.lock().unwrap().get(&name).copied();
    if let Some(pause) = pause {
        tokio::time::sleep(pause).await;
    }
    let answered = state
        .script
        .lock()
        .unwrap()
        .get_mut(&name)
        .and_then(VecDeque::pop_front)
        .unwrap_or(201);
    if let Some(tx) = state.received.lock().unwrap().as_ref() {
        let _ = tx.send(Received {
            name,
            headers,
            body,
            answered,
        });
    }
    // "Busy, come back in a second", as push services say it.
    let mut headers = HeaderMap::new();
    if matches!(answered, 429 | 503) {
        headers.insert("retry-after", "1".parse().unwrap());
    }
    (StatusCode::from_u16(answered).unwrap(), headers)
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header: {:?}", r.headers))
        .to_str()
        .unwrap()
}

/// Checks a push as a push service and a browser would, and returns its JSON: the
/// headers, the VAPID JWT (ES256 signature by `server_key`, audience this push service's
/// origin, expiry within 24 hours, the configured contact), then the decrypted payload.
fn open(r: &Received, subscriber: &Subscriber, server_key: &str, origin: &str) -> Value {
    assert_eq!(header(r, "content-encoding"), "aes128gcm");
    assert_eq!(header(r, "content-type"), "application/octet-stream");
    let ttl: u64 = header(r, "ttl")
        .parse()
        .expect("TTL is a number of seconds");
    assert!(ttl > 0);

    let vapid = header(r, "authorization")
        .strip_prefix("vapid ")
        .expect("Authorization: vapid t=…, k=…");
    let mut token = None;
    let mut key = None;
    for part in vapid.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("t=") {
            token = Some(v);
        } else if let Some(v) = part.strip_prefix("k=") {
            key = Some(v);
        }
    }
    let (token, key) = (token.expect("t="), key.expect("k="));
    assert_eq!(key, server_key, "signed with the advertised key");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form");
    let jose: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    assert_eq!(jose["alg"], "ES256");
    let verifying = VerifyingKey::from_sec1_bytes(&b64(key)).expect("a P-256 public key");
    let signature = Signature::from_slice(&b64(parts[2])).expect("a 64-byte r‖s signature");
    verifying
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the VAPID signature verifies");
    let claims: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    assert_eq!(
        claims["aud"], origin,
        "the audience is the push service's origin"
    );
    assert_eq!(claims["sub"], CONTACT);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().expect("exp");
    assert!(
        exp > now && exp <= now + 24 * 3600,
        "exp {exp} within 24 h of {now}"
    );

    let plain = subscriber.decrypt(&r.body);
    serde_json::from_slice(&plain).unwrap_or_else(|e| {
        panic!(
            "payload is not JSON ({e}): {}",
            String::from_utf8_lossy(&plain)
        )
    })
}

// ---- helpers over the API --------------------------------------------------------------

/// Subscribes with a form body, as Mastodon.py does.
async fn subscribe(
    app: &TestApp,
    token: &str,
    endpoint: &str,
    subscriber: &Subscriber,
    alerts: &[&str],
    policy: &str,
) -> Value {
    let (p256dh, auth) = (subscriber.p256dh(), subscriber.auth());
    let alert_keys: Vec<String> = alerts
        .iter()
        .map(|a| format!("data[alerts][{a}]"))
        .collect();
    let mut form = vec![
        ("subscription[endpoint]", endpoint),
        ("subscription[keys][p256dh]", p256dh.as_str()),
        ("subscription[keys][auth]", auth.as_str()),
        ("data[policy]", policy),
    ];
    form.extend(alert_keys.iter().map(|k| (k.as_str(), "true")));
    expect_json(
        app.post_form("/api/v1/push/subscription", Some(token), &form)
            .await,
        "POST /api/v1/push/subscription",
    )
    .await
}

async fn server_key(app: &TestApp) -> String {
    let v2 = expect_json(app.get("/api/v2/instance", None).await, "v2 instance").await;
    v2["configuration"]["vapid"]["public_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post(app: &TestApp, token: &str, body: Value) -> Value {
    expect_json(
        app.post_json("/api/v1/statuses", Some(token), body).await,
        "POST /api/v1/statuses",
    )
    .await
}

async fn account_id(app: &TestApp, token: &str) -> String {
    let me = expect_json(
        app.get("/api/v1/accounts/verify_credentials", Some(token))
            .await,
        "verify_credentials",
    )
    .await;
    me["id"].as_str().unwrap().to_owned()
}

async fn follow(app: &TestApp, token: &str, target: &str) {
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{target}/follow"),
            Some(token),
            json!({}),
        )
        .await,
        "follow",
    )
    .await;
}

/// The newest notification of the token's account.
async fn newest_notification(app: &TestApp, token: &str) -> Value {
    let list = expect_json(
        app.get("/api/v1/notifications?limit=1", Some(token)).await,
        "notifications",
    )
    .await;
    list[0].clone()
}

/// Waits until every queued push has been delivered or dropped.
async fn settle(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if app.app.push_backlog().await.unwrap() == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the push queue did not drain"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn error(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status().as_u16(), status.as_u16());
    json_body(r).await["error"].as_str().unwrap().to_owned()
}

// ---- tests -----------------------------------------------------------------------------

/// The test's own decryption against RFC 8291 §5: the receiver's keys and the body from
/// the RFC must give its plaintext, so the checks below rest on a known-good receiver.
#[test]
fn the_test_receiver_opens_the_rfc_8291_example() {
    let receiver = Subscriber {
        secret: SecretKey::from_slice(&b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")).unwrap(),
        auth: b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap(),
    };
    assert_eq!(
        receiver.p256dh(),
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    );
    let body = b64(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLoc\
         InmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLV\
         WGNWQexSgSxsj_Qulcy4a-fN",
    );
    assert_eq!(
        receiver.decrypt(&body),
        b"When I grow up, I want to be a watermelon"
    );
}

#[tokio::test]
async fn a_mention_is_pushed_signed_and_encrypted() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;

    // One key, advertised everywhere Mastodon clients look for it.
    let key = server_key(&app).await;
    assert_eq!(b64(&key).len(), 65, "an uncompressed P-256 point");
    assert_eq!(b64(&key)[0], 4);
    let v1 = expect_json(app.get("/api/v1/instance", None).await, "v1 instance").await;
    assert_eq!(v1["configuration"]["vapid"]["public_key"], key.as_str());
    let registered = expect_json(
        app.post_form(
            "/api/v1/apps",
            None,
            &[("client_name", "push"), ("redirect_uris", OOB_REDIRECT)],
        )
        .await,
        "apps",
    )
    .await;
    assert_eq!(registered["vapid_key"], key.as_str());

    let browser = Subscriber::new();
    let endpoint = push.endpoint("ana");
    let sub = subscribe(
        &app,
        &ana,
        &endpoint,
        &browser,
        &["mention", "follow"],
        "all",
    )
    .await;
    assert_eq!(sub["endpoint"], endpoint.as_str());
    assert_eq!(sub["server_key"], key.as_str());
    assert_eq!(sub["standard"], true);

    post(&app, &ben, json!({"status": "@ana lunch at noon?"})).await;
    let received = push.next().await;
    assert_eq!(received.name, "ana");
    let payload = open(&received, &browser, &key, &push.origin);
    let note = newest_notification(&app, &ana).await;
    assert_eq!(note["type"], "mention");
    let id: i64 = note["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        payload,
        json!({
            "preferred_locale": "en",
            "notification_id": id,
            "notification_type": "mention",
            "icon": format!("{}/avatars/original/missing.png", app.base_url),
            "title": "ben mentioned you",
            "body": "@ana lunch at noon?",
        })
    );

    // A follow, with the follower's display name and bio.
    let r = app
        .patch_json(
            "/api/v1/accounts/update_credentials",
            Some(&ben),
            json!({"display_name": "Ben B.", "note": "Platform team"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    follow(&app, &ben, &account_id(&app, &ana).await).await;
    let payload = open(&push.next().await, &browser, &key, &push.origin);
    assert_eq!(payload["notification_type"], "follow");
    assert_eq!(payload["title"], "Ben B. is now following you");
    assert_eq!(payload["body"], "Platform team");
    settle(&app).await;
    push.assert_silent();
}

#[tokio::test]
async fn subscriptions_are_created_read_updated_and_deleted_per_token() {
    let app = spawn().await;
    let push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let browser = Subscriber::new();

    let r = app.get("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(error(r, StatusCode::NOT_FOUND).await, "Record not found");

    let created = subscribe(
        &app,
        &ana,
        &push.endpoint("a"),
        &browser,
        &["mention", "favourite"],
        "followed",
    )
    .await;
    assert!(created["id"].is_string());
    assert_eq!(created["policy"], "followed");
    assert_eq!(
        created["alerts"],
        json!({
            "mention": true, "status": false, "reblog": false, "follow": false,
            "follow_request": false, "favourite": true, "poll": false, "update": false,
        })
    );
    let shown = expect_json(
        app.get("/api/v1/push/subscription", Some(&ana)).await,
        "GET",
    )
    .await;
    assert_eq!(shown, created);

    // PUT replaces the data (JSON this time); alerts left out are off, as in Mastodon.
    let updated = expect_json(
        app.put_json(
            "/api/v1/push/subscription",
            Some(&ana),
            json!({"data": {"alerts": {"reblog": true, "poll": "1"}, "policy": "follower"}}),
        )
        .await,
        "PUT",
    )
    .await;
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["endpoint"], created["endpoint"]);
    assert_eq!(updated["policy"], "follower");
    assert_eq!(updated["alerts"]["reblog"], true);
    assert_eq!(updated["alerts"]["poll"], true);
    assert_eq!(updated["alerts"]["mention"], false);

    // A second POST (JSON, keys padded as some clients send them) replaces the first.
    let replaced = expect_json(
        app.post_json(
            "/api/v1/push/subscription",
            Some(&ana),
            json!({
                "subscription": {
                    "endpoint": push.endpoint("b"),
                    "keys": {"p256dh": format!("{}=", browser.p256dh()), "auth": format!("{}==", browser.auth())},
                },
                "data": {"alerts": {"follow": true}},
            }),
        )
        .await,
        "POST again",
    )
    .await;
    assert_ne!(replaced["id"], created["id"]);
    assert_eq!(replaced["endpoint"], push.endpoint("b").as_str());
    assert_eq!(replaced["policy"], "all", "the default policy");
    assert_eq!(replaced["alerts"]["follow"], true);

    // One subscription per token: another token of the same account has none.
    let (client_id, client_secret) = app.register_app().await;
    let other = password_grant(&app, &client_id, &client_secret, "ana", ALL_SCOPES).await;
    let r = app.get("/api/v1/push/subscription", Some(&other)).await;
    assert_eq!(r.status(), 404);

    let r = app.delete("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(expect_json(r, "DELETE").await, json!({}));
    let r = app.get("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(r.status(), 404);
    let r = app
        .put_json(
            "/api/v1/push/subscription",
            Some(&ana),
            json!({"data": {"alerts": {"mention": true}}}),
        )
        .await;
    assert_eq!(r.status(), 404, "nothing to update");
    let r = app.delete("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(r.status(), 200, "deleting nothing is fine");

    // The `push` scope is required; no token is 401.
    let read_only = password_grant(&app, &client_id, &client_secret, "ana", "read").await;
    let r = app.get("/api/v1/push/subscription", Some(&read_only)).await;
    assert!(error(r, StatusCode::FORBIDDEN).await.contains("push"));
    let r = app.get("/api/v1/push/subscription", None).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn invalid_subscriptions_are_refused_naming_the_field() {
    let app = spawn().await;
    let ana = app.sign_up("ana").await;
    let browser = Subscriber::new();
    let good_key = browser.p256dh();
    let good_auth = browser.auth();
    let compressed = URL_SAFE_NO_PAD.encode(
        browser
            .secret
            .public_key()
            .to_encoded_point(true)
            .as_bytes(),
    );
    let short_auth = URL_SAFE_NO_PAD.encode([1_u8; 15]);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("subscription[keys][p256dh]", &good_key),
                ("subscription[keys][auth]", &good_auth),
            ],
            "subscription[endpoint] is required",
        ),
        (
            vec![
                ("subscription[endpoint]", "http://push.example/x"),
                ("subscription[keys][p256dh]", &good_key),
                ("subscription[keys][auth]", &good_auth),
            ],
            "subscription[endpoint] must be an https URL",
        ),
        (
            vec![
                ("subscription[endpoint]", "not a url"),
                ("subscription[keys][p256dh]", &good_key),
                ("subscription[keys][auth]", &good_auth),
            ],
            "subscription[endpoint] must be an https URL",
        ),
        (
            vec![
                ("subscription[endpoint]", "https://push.example/x"),
                ("subscription[keys][auth]", &good_auth),
            ],
            "subscription[keys][p256dh] is required",
        ),
        (
            vec![
                ("subscription[endpoint]", "https://push.example/x"),
                ("subscription[keys][p256dh]", &compressed),
                ("subscription[keys][auth]", &good_auth),
            ],
            "subscription[keys][p256dh] must be",
        ),
        (
            vec![
                ("subscription[endpoint]", "https://push.example/x"),
                ("subscription[keys][p256dh]", "%%%"),
                ("subscription[keys][auth]", &good_auth),
            ],
            "subscription[keys][p256dh] must be",
        ),
        (
            vec![
                ("subscription[endpoint]", "https://push.example/x"),
                ("subscription[keys][p256dh]", &good_key),
                ("subscription[keys][auth]", &short_auth),
            ],
            "subscription[keys][auth] must be",
        ),
        (
            vec![
                ("subscription[endpoint]", "https://push.example/x"),
                ("subscription[keys][p256dh]", &good_key),
                ("subscription[keys][auth]", &good_auth),
                ("data[policy]", "friends"),
            ],
            "data[policy] must be one of all, followed, follower, none",
        ),
        (
            vec![
                ("subscription[endpoint]", "https://push.example/x"),
                ("subscription[keys][p256dh]", &good_key),
                ("subscription[keys][auth]", &good_auth),
                ("data[alerts][mention]", "maybe"),
            ],
            "data[alerts][mention] must be true or false",
        ),
    ];
    for (form, expected) in cases {
        let r = app
            .post_form("/api/v1/push/subscription", Some(&ana), &form)
            .await;
        let message = error(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(message.contains(expected), "{message:?} for {form:?}");
    }
    let r = app.get("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(r.status(), 404, "nothing was stored");
    // https anywhere is fine, http only to loopback.
    for endpoint in ["https://push.example/x", "http://localhost:9/x"] {
        let r = app
            .post_form(
                "/api/v1/push/subscription",
                Some(&ana),
                &[
                    ("subscription[endpoint]", endpoint),
                    ("subscription[keys][p256dh]", &good_key),
                    ("subscription[keys][auth]", &good_auth),
                ],
            )
            .await;
        assert_eq!(r.status(), 200, "{endpoint}");
    }
}

#[tokio::test]
async fn alerts_and_policy_decide_what_is_pushed() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cal = app.sign_up("cal").await;
    let key = server_key(&app).await;
    let ben_id = account_id(&app, &ben).await;
    follow(&app, &ana, &ben_id).await;
    let browser = Subscriber::new();
    subscribe(
        &app,
        &ana,
        &push.endpoint("ana"),
        &browser,
        &["mention"],
        "followed",
    )
    .await;

    // Not followed by Ana: no push. Favourites: no alert, no push.
    post(&app, &cal, json!({"status": "@ana hello from cal"})).await;
    let own = post(&app, &ana, json!({"status": "my post"})).await;
    let own_id = own["id"].as_str().unwrap();
    let r = app
        .post_json(
            &format!("/api/v1/statuses/{own_id}/favourite"),
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Followed, and a mention: pushed.
    post(&app, &ben, json!({"status": "@ana hello from ben"})).await;
    let payload = open(&push.next().await, &browser, &key, &push.origin);
    assert_eq!(payload["body"], "@ana hello from ben");
    settle(&app).await;
    push.assert_silent();

    // Mentions switched off: nothing, even from Ben.
    let r = app
        .put_json(
            "/api/v1/push/subscription",
            Some(&ana),
            json!({"data": {"alerts": {"favourite": true}, "policy": "all"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    post(&app, &ben, json!({"status": "@ana are you there?"})).await;
    settle(&app).await;
    push.assert_silent();
    // Favourites on, policy all: Cal's favourite comes through.
    let r = app
        .post_json(
            &format!("/api/v1/statuses/{own_id}/favourite"),
            Some(&cal),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let payload = open(&push.next().await, &browser, &key, &push.origin);
    assert_eq!(payload["notification_type"], "favourite");
    assert_eq!(payload["title"], "cal favourited your post");
    assert_eq!(payload["body"], "my post");

    // Policy `none`: nothing at all.
    let r = app
        .put_json(
            "/api/v1/push/subscription",
            Some(&ana),
            json!({"data": {"alerts": {"mention": true, "favourite": true}, "policy": "none"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    post(&app, &ben, json!({"status": "@ana ping"})).await;
    settle(&app).await;
    push.assert_silent();

    // Policy `follower`: Cal follows Ana, so Cal's mention comes; Ben does not follow her.
    follow(&app, &cal, &account_id(&app, &ana).await).await;
    let r = app
        .put_json(
            "/api/v1/push/subscription",
            Some(&ana),
            json!({"data": {"alerts": {"mention": true}, "policy": "follower"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    post(&app, &ben, json!({"status": "@ana from ben again"})).await;
    post(&app, &cal, json!({"status": "@ana from cal again"})).await;
    let payload = open(&push.next().await, &browser, &key, &push.origin);
    assert_eq!(payload["body"], "@ana from cal again");
    settle(&app).await;
    push.assert_silent();
}

#[tokio::test]
async fn pushes_never_carry_what_the_recipient_may_not_see() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let eve = app.sign_up("eve").await;
    let key = server_key(&app).await;
    let browser = Subscriber::new();
    subscribe(
        &app,
        &eve,
        &push.endpoint("eve"),
        &browser,
        &["mention", "status"],
        "all",
    )
    .await;

    // A private group's post mentioning Eve, who is not a member: nothing.
    let group = expect_json(
        app.post_json(
            "/api/v1/groups",
            Some(&ana),
            json!({"name": "Board", "visibility": "private"}),
        )
        .await,
        "create group",
    )
    .await;
    let group_id = group["id"].as_str().unwrap();
    let secret = post(
        &app,
        &ana,
        json!({"status": "Board only, @eve cannot see this", "group_id": group_id}),
    )
    .await;
    assert_eq!(secret["visibility"], "private");
    settle(&app).await;
    push.assert_silent();

    // Visibility is checked again when the push goes out: Ben's mention fails once at the
    // push service; Eve blocks Ben before the retry, which then sends nothing.
    push.answer("eve", &[503]);
    post(&app, &ben, json!({"status": "@eve first try"})).await;
    let first = push.next().await;
    assert_eq!(first.answered, 503);
    let ben_id = account_id(&app, &ben).await;
    let r = app
        .post_json(
            &format!("/api/v1/accounts/{ben_id}/block"),
            Some(&eve),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    settle(&app).await;
    push.assert_silent();

    // What Eve may see still comes through.
    post(&app, &ana, json!({"status": "@eve a public hello"})).await;
    let payload = open(&push.next().await, &browser, &key, &push.origin);
    assert_eq!(payload["body"], "@eve a public hello");
    settle(&app).await;
    push.assert_silent();
}

#[tokio::test]
async fn a_gone_endpoint_removes_the_subscription() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let browser = Subscriber::new();
    subscribe(
        &app,
        &ana,
        &push.endpoint("ana"),
        &browser,
        &["mention"],
        "all",
    )
    .await;
    push.answer("ana", &[410]);
    post(&app, &ben, json!({"status": "@ana one"})).await;
    assert_eq!(push.next().await.answered, 410);
    settle(&app).await;
    let r = app.get("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(r.status(), 404, "the subscription is gone");
    post(&app, &ben, json!({"status": "@ana two"})).await;
    settle(&app).await;
    push.assert_silent();
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered_or_given_up() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let key = server_key(&app).await;
    let browser = Subscriber::new();
    subscribe(
        &app,
        &ana,
        &push.endpoint("ana"),
        &browser,
        &["mention"],
        "all",
    )
    .await;

    // 500, then 429, then accepted: the same notification three times, each one a fresh
    // encryption that opens.
    push.answer("ana", &[500, 429]);
    post(&app, &ben, json!({"status": "@ana retry me"})).await;
    let mut ids = Vec::new();
    for expected in [500, 429, 201] {
        let r = push.next().await;
        assert_eq!(r.answered, expected);
        let payload = open(&r, &browser, &key, &push.origin);
        ids.push(payload["notification_id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    settle(&app).await;
    push.assert_silent();
    let r = app.get("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(r.status(), 200, "the subscription stays");

    // Failing every time: given up after `push_max_attempts` (3).
    push.answer("ana", &[502, 502, 502, 502]);
    post(&app, &ben, json!({"status": "@ana never"})).await;
    for _ in 0..3 {
        assert_eq!(push.next().await.answered, 502);
    }
    settle(&app).await;
    push.assert_silent();
    let r = app.get("/api/v1/push/subscription", Some(&ana)).await;
    assert_eq!(r.status(), 200, "the subscription stays");
}

/// `POST /oauth/token` with the password grant.
async fn password_grant(
    app: &TestApp,
    client_id: &str,
    client_secret: &str,
    username: &str,
    scope: &str,
) -> String {
    let password = format!("password-{username}");
    let token = expect_json(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("username", username),
                ("password", &password),
                ("scope", scope),
            ],
        )
        .await,
        "password grant",
    )
    .await;
    token["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn revoking_the_token_removes_its_subscription() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let key = server_key(&app).await;
    let (client_id, client_secret) = app.register_app().await;
    let phone = password_grant(&app, &client_id, &client_secret, "ana", ALL_SCOPES).await;
    let laptop = password_grant(&app, &client_id, &client_secret, "ana", ALL_SCOPES).await;
    let phone_keys = Subscriber::new();
    let laptop_keys = Subscriber::new();
    subscribe(
        &app,
        &phone,
        &push.endpoint("phone"),
        &phone_keys,
        &["mention"],
        "all",
    )
    .await;
    subscribe(
        &app,
        &laptop,
        &push.endpoint("laptop"),
        &laptop_keys,
        &["mention"],
        "all",
    )
    .await;

    let r = app
        .post_form(
            "/oauth/revoke",
            None,
            &[
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("token", phone.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    post(&app, &ben, json!({"status": "@ana after the revocation"})).await;
    let received = push.next().await;
    assert_eq!(
        received.name, "laptop",
        "only the live token's subscription"
    );
    let payload = open(&received, &laptop_keys, &key, &push.origin);
    assert_eq!(payload["body"], "@ana after the revocation");
    settle(&app).await;
    push.assert_silent();
}

#[tokio::test]
async fn the_vapid_key_is_kept_in_the_database() {
    let first = spawn().await;
    let key = server_key(&first).await;
    // A second node (or the next start) on the same database uses the same key.
    let url = first.app.settings().database_url();
    let second = spawn_with(|s| s.database_url = Some(url)).await;
    assert_eq!(server_key(&second).await, key);
    // A fresh database gets a key of its own.
    let other = spawn().await;
    assert_ne!(server_key(&other).await, key);
}

#[tokio::test]
async fn two_nodes_on_one_database_deliver_each_push_once() {
    let first = spawn().await;
    let url = first.app.settings().database_url();
    let second = spawn_with(|s| s.database_url = Some(url)).await;
    let mut push = PushService::start().await;
    let ana = first.sign_up("ana").await;
    let ben = first.sign_up("ben").await;
    let key = server_key(&first).await;
    let browser = Subscriber::new();
    subscribe(
        &first,
        &ana,
        &push.endpoint("ana"),
        &browser,
        &["mention"],
        "all",
    )
    .await;

    // Posts land on both nodes; both workers claim from the one queue.
    let mut sent = std::collections::BTreeSet::new();
    for i in 0..12 {
        let node = if i % 2 == 0 { &first } else { &second };
        sent.insert(format!("@ana number {i}"));
        post(node, &ben, json!({"status": format!("@ana number {i}")})).await;
    }
    let mut received = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let payload = open(&push.next().await, &browser, &key, &push.origin);
        assert!(
            received.insert(payload["body"].as_str().unwrap().to_owned()),
            "delivered twice: {payload}"
        );
    }
    assert_eq!(received, sent);
    settle(&first).await;
    settle(&second).await;
    push.assert_silent();
}

#[tokio::test]
async fn queued_pushes_survive_a_restart() {
    // The database must outlive the first server: for SQLite a file of our own (a test
    // server deletes its folder when it stops); PostgreSQL test databases stay anyway.
    let dir = tempfile::tempdir().unwrap();
    let own_file = format!("sqlite://{}", dir.path().join("kept.db").display());
    let mut url = String::new();
    let first = spawn_with(|s| {
        if s.database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("sqlite"))
        {
            s.database_url = Some(own_file);
        }
        url = s.database_url.clone().unwrap();
        s.push_retry_max_ms = 1_500;
    })
    .await;
    let mut push = PushService::start().await;
    let ana = first.sign_up("ana").await;
    let ben = first.sign_up("ben").await;
    let key = server_key(&first).await;
    let browser = Subscriber::new();
    subscribe(
        &first,
        &ana,
        &push.endpoint("ana"),
        &browser,
        &["mention"],
        "all",
    )
    .await;

    // The push service is busy (503, `Retry-After: 1`): the push is rescheduled a second
    // ahead, and the server stops before then.
    push.answer("ana", &[503]);
    post(
        &first,
        &ben,
        json!({"status": "@ana still there after the restart?"}),
    )
    .await;
    assert_eq!(push.next().await.answered, 503);
    first.stop().await;

    // The next start on the same database delivers it.
    let second = spawn_with(|s| s.database_url = Some(url)).await;
    let payload = open(&push.next().await, &browser, &key, &push.origin);
    assert_eq!(payload["body"], "@ana still there after the restart?");
    settle(&second).await;
    push.assert_silent();
}

#[tokio::test]
async fn a_slow_push_service_holds_up_only_its_own_pushes() {
    let app = spawn().await;
    let mut push = PushService::start().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cal = app.sign_up("cal").await;
    let key = server_key(&app).await;
    let (ana_keys, ben_keys) = (Subscriber::new(), Subscriber::new());
    subscribe(
        &app,
        &ana,
        &push.endpoint("ana"),
        &ana_keys,
        &["mention"],
        "all",
    )
    .await;
    subscribe(
        &app,
        &ben,
        &push.endpoint("ben"),
        &ben_keys,
        &["mention"],
        "all",
    )
    .await;
    push.slow_down("ana", Duration::from_secs(3));

    post(&app, &cal, json!({"status": "@ana the slow one"})).await;
    // Ana's push has reached a push service that takes its time …
    push.arrival().await;
    let started = tokio::time::Instant::now();
    post(&app, &cal, json!({"status": "@ben the quick one"})).await;
    // … and Ben's does not wait for it.
    let first = push.next().await;
    assert_eq!(first.name, "ben");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        open(&first, &ben_keys, &key, &push.origin)["body"],
        "@ben the quick one"
    );
    let second = push.next().await;
    assert_eq!(second.name, "ana");
    assert_eq!(
        open(&second, &ana_keys, &key, &push.origin)["body"],
        "@ana the slow one"
    );
    settle(&app).await;
    push.assert_silent();
}

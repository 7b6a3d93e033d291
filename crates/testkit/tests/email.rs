//! E-mail notifications over HTTP, end to end: each test starts a real SMTP server —
//! aiosmtpd, from PyPI, in the test venv that `scripts/test` installs — on 127.0.0.1 and a
//! free port, writing what it receives to a Maildir, and reads the messages back with
//! Python's own `email` parser (independent of lettre, which wrote them).
//!
//! Covered: the mails for a mention, a direct message and a follow (subject, body, link,
//! addresses); preferences switched off; blocks and mutes; content the recipient may not
//! see (a private group, a block between queueing and sending, while the SMTP server was
//! down and the mail was being retried); the digest, to those who opted in only; no SMTP
//! configured; and the preferences endpoint. "No mail was sent" is only ever asserted after
//! a later mail to the same person arrived and the queue is empty — every queued mail has
//! then been sent or dropped — so no test waits for silence.
//!
//! The Python comes from `STARLING_TEST_PYTHON` (set by `scripts/test`), else
//! `target/test-venv/bin/python` if it exists; without aiosmtpd the tests fail saying how
//! to install it, as the test command always provides it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use serde_json::{Value, json};
use starling_testkit::{TestApp, expect_json, json_body, spawn_app_with};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(15);

// ---- the SMTP server ---------------------------------------------------------------------

/// The Python that has aiosmtpd.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("STARLING_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python");
    if venv.exists() {
        return venv;
    }
    panic!(
        "the e-mail tests need Python with aiosmtpd: run scripts/test (it installs it into \
         target/test-venv), or set STARLING_TEST_PYTHON to a Python that has it \
         (python3 -m venv v && v/bin/pip install -r tests/python/requirements.txt)"
    )
}

/// A port nothing listens on now (the SMTP server is started on it, maybe later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A received message, as Python's `email` package reads it.
#[derive(Debug, Clone)]
struct Mail {
    /// The envelope recipient(s) aiosmtpd recorded (`X-RcptTo`).
    rcpt: String,
    from: String,
    to: String,
    subject: String,
    message_id: String,
    /// The text/plain part.
    text: String,
    /// The text/html part.
    html: String,
}

/// Reads every message of a Maildir, oldest first, as JSON lines.
const READ_MAILDIR: &str = r#"
import email.policy, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
out = []
for key in box.keys():
    raw = box.get_bytes(key)
    m = email.message_from_bytes(raw, policy=email.policy.default)
    plain = m.get_body(("plain",))
    html = m.get_body(("html",))
    out.append({
        "rcpt": str(m.get("X-RcptTo", "")),
        "from": str(m.get("From", "")),
        "to": str(m.get("To", "")),
        "subject": str(m.get("Subject", "")),
        "message_id": str(m.get("Message-ID", "")),
        "text": plain.get_content() if plain is not None else "",
        "html": html.get_content() if html is not None else "",
        "key": key,
    })
out.sort(key=lambda o: o["key"])
print(json.dumps(out))
"#;

/// aiosmtpd writing to a Maildir; killed when dropped.
struct SmtpServer {
    port: u16,
    child: Child,
    dir: TempDir,
}

impl SmtpServer {
    /// Starts it on `port` and waits until it accepts connections.
    async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let mut child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                panic!(
                    "aiosmtpd exited ({status}) instead of listening on 127.0.0.1:{port}: {err}\n\
                     Is aiosmtpd installed? scripts/test installs it (tests/python/requirements.txt)."
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        Self { port, child, dir }
    }

    async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Everything received so far, oldest first.
    fn mails(&self) -> Vec<Mail> {
        let maildir = self.dir.path().join("maildir");
        if !maildir.join("new").exists() {
            return Vec::new();
        }
        let out = Command::new(python())
            .args(["-c", READ_MAILDIR])
            .arg(&maildir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "reading the maildir failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        all.iter()
            .map(|m| Mail {
                rcpt: s(m, "rcpt"),
                from: s(m, "from"),
                to: s(m, "to"),
                subject: s(m, "subject"),
                message_id: s(m, "message_id"),
                text: s(m, "text"),
                html: s(m, "html"),
            })
            .collect()
    }

    /// Mails to `address`.
    fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.rcpt.contains(address))
            .collect()
    }

    /// Waits for the first mail to `address` with `subject`.
    async fn wait_for(&self, address: &str, subject: &str) -> Mail {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(m) = self
                .mails_to(address)
                .into_iter()
                .find(|m| m.subject == subject)
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no mail {subject:?} to {address}; received: {:#?}",
                self.mails()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // By PID: this child only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the Starling side -------------------------------------------------------------------

/// A server that mails through `smtp` and whose mail worker looks often and retries
/// quickly.
async fn spawn_mailing(port: u16) -> TestApp {
    spawn_app_with(|s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.mail_poll_interval_ms = 20;
        s.mail_retry_base_ms = 50;
        s.mail_retry_max_ms = 200;
        s.mail_max_attempts = 200;
    })
    .await
}

/// Waits until the post `id` is in the home timeline of `token` (fan-out runs in the
/// background).
async fn wait_for_home(app: &TestApp, token: &str, id: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let home = expect_json(app.get("/api/v1/timelines/home", Some(token)).await, "home").await;
        if home.as_array().unwrap().iter().any(|s| s["id"] == id) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "post {id} never reached the home"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every queued mail has been sent or dropped.
async fn settle(app: &TestApp) {
    let deadline = Instant::now() + WAIT;
    while app.app.email_backlog().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the e-mail queue did not empty");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

async fn act(app: &TestApp, token: &str, target: &str, action: &str) {
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{target}/{action}"),
            Some(token),
            json!({}),
        )
        .await,
        action,
    )
    .await;
}

/// The id of the newest notification of `token`.
async fn mention_notification_id(app: &TestApp, token: &str) -> String {
    let notes = expect_json(app.get("/api/v1/notifications", Some(token)).await, "notes").await;
    notes[0]["id"].as_str().unwrap().to_owned()
}

async fn set_prefs(app: &TestApp, token: &str, body: Value) -> Value {
    expect_json(
        app.patch_json("/api/v1/email_preferences", Some(token), body)
            .await,
        "PATCH /api/v1/email_preferences",
    )
    .await
}

// ---- the tests ---------------------------------------------------------------------------

#[tokio::test]
async fn a_mention_mails_the_mentioned_person() {
    let smtp = SmtpServer::start().await;
    let app = spawn_mailing(smtp.port).await;
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;
    let status = post(
        &app,
        &ana,
        json!({"status": "Lunch at <noon>, @bob? & bring the slides"}),
    )
    .await;
    let id = status["id"].as_str().unwrap();

    let mail = smtp.wait_for("bob@example.com", "ana mentioned you").await;
    assert!(mail.to.contains("bob@example.com"), "{mail:?}");
    assert!(
        mail.from.contains("notifications@localhost") && mail.from.contains("Starling"),
        "{mail:?}"
    );
    assert!(
        mail.text
            .contains("Lunch at <noon>, @bob? & bring the slides"),
        "{}",
        mail.text
    );
    let link = format!("{}/@ana/{id}", app.base_url);
    assert!(mail.text.contains(&link), "{link} in {}", mail.text);
    // The HTML alternative escapes what people wrote.
    assert!(
        mail.html
            .contains("Lunch at &lt;noon&gt;, @bob? &amp; bring"),
        "{}",
        mail.html
    );
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    assert_eq!(
        mail.message_id,
        format!(
            "<{}.mention@localhost>",
            mention_notification_id(&app, &bob).await
        )
    );

    settle(&app).await;
    // Only bob was mentioned: the author gets nothing.
    assert!(smtp.mails_to("ana@example.com").is_empty());
    assert_eq!(smtp.mails().len(), 1, "{:#?}", smtp.mails());
}

#[tokio::test]
async fn a_direct_message_mails_its_recipients_only() {
    let smtp = SmtpServer::start().await;
    let app = spawn_mailing(smtp.port).await;
    let ana = app.sign_up("ana").await;
    let _bob = app.sign_up("bob").await;
    let carl = app.sign_up("carl").await;
    // carl follows ana, so he would see her followers-only posts — but not her DMs.
    let ana_id = account_id(&app, &ana).await;
    act(&app, &carl, &ana_id, "follow").await;
    let dm = post(
        &app,
        &ana,
        json!({"status": "@bob the door code is 4321", "visibility": "direct"}),
    )
    .await;

    let mail = smtp
        .wait_for("bob@example.com", "New direct message from ana")
        .await;
    assert!(mail.text.contains("the door code is 4321"), "{}", mail.text);
    assert!(
        mail.text.contains(&format!(
            "{}/@ana/{}",
            app.base_url,
            dm["id"].as_str().unwrap()
        )),
        "{}",
        mail.text
    );
    // A positive mail to carl afterwards, then nothing else for him.
    let dora = app.sign_up("dora").await;
    let carl_id = account_id(&app, &carl).await;
    act(&app, &dora, &carl_id, "follow").await;
    smtp.wait_for("carl@example.com", "dora followed you").await;
    settle(&app).await;
    let to_carl = smtp.mails_to("carl@example.com");
    assert_eq!(to_carl.len(), 1, "{to_carl:#?}");
    assert!(
        smtp.mails()
            .iter()
            .all(|m| !m.text.contains("4321") || m.rcpt.contains("bob@"))
    );
}

#[tokio::test]
async fn a_follow_mails_the_followed_person() {
    let smtp = SmtpServer::start().await;
    let app = spawn_mailing(smtp.port).await;
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;
    expect_json(
        app.patch_json(
            "/api/v1/accounts/update_credentials",
            Some(&ana),
            json!({"display_name": "Ana Lima"}),
        )
        .await,
        "update_credentials",
    )
    .await;
    let bob_id = account_id(&app, &bob).await;
    act(&app, &ana, &bob_id, "follow").await;
    let mail = smtp
        .wait_for("bob@example.com", "Ana Lima followed you")
        .await;
    assert!(
        mail.text.contains("Ana Lima (@ana) is now following you"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains(&format!("{}/@ana", app.base_url)),
        "{}",
        mail.text
    );

    // Starling has no locked accounts yet, so no follow requests: their mail (under the
    // same `follow` preference) is covered by the unit tests of the message.
}

#[tokio::test]
async fn preferences_switched_off_send_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn_mailing(smtp.port).await;
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;

    let defaults = expect_json(
        app.get("/api/v1/email_preferences", Some(&bob)).await,
        "GET /api/v1/email_preferences",
    )
    .await;
    assert_eq!(
        defaults,
        json!({"mention": true, "direct": true, "follow": true, "digest": false, "email_enabled": true})
    );
    let changed = set_prefs(&app, &bob, json!({"mention": false, "direct": false})).await;
    assert_eq!(changed["mention"], false);
    assert_eq!(changed["direct"], false);
    assert_eq!(changed["follow"], true, "unsent switches are kept");
    // Forms work too, as most Mastodon clients send them.
    let form = expect_json(
        app.request(
            reqwest::Method::PATCH,
            "/api/v1/email_preferences",
            Some(&bob),
        )
        .form(&[("digest", "false")])
        .send()
        .await
        .unwrap(),
        "PATCH as a form",
    )
    .await;
    assert_eq!(form["mention"], false);

    post(&app, &ana, json!({"status": "hey @bob, look"})).await;
    post(
        &app,
        &ana,
        json!({"status": "@bob secret", "visibility": "direct"}),
    )
    .await;
    let bob_id = account_id(&app, &bob).await;
    act(&app, &ana, &bob_id, "follow").await;
    smtp.wait_for("bob@example.com", "ana followed you").await;
    settle(&app).await;
    let to_bob = smtp.mails_to("bob@example.com");
    assert_eq!(to_bob.len(), 1, "only the follow: {to_bob:#?}");
    // Nothing was even queued for the mentions: the notifications are there all the same.
    let notes = expect_json(app.get("/api/v1/notifications", Some(&bob)).await, "notes").await;
    assert_eq!(notes.as_array().unwrap().len(), 3, "{notes}");

    // Switched back on, mentions are mailed again.
    set_prefs(&app, &bob, json!({"mention": true})).await;
    post(&app, &ana, json!({"status": "again @bob"})).await;
    smtp.wait_for("bob@example.com", "ana mentioned you").await;
}

#[tokio::test]
async fn blocked_and_muted_accounts_mail_nothing() {
    let smtp = SmtpServer::start().await;
    let app = spawn_mailing(smtp.port).await;
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;
    let carl = app.sign_up("carl").await;
    let dora = app.sign_up("dora").await;
    let ana_id = account_id(&app, &ana).await;
    let carl_id = account_id(&app, &carl).await;
    act(&app, &bob, &ana_id, "block").await;
    act(&app, &bob, &carl_id, "mute").await;

    post(&app, &ana, json!({"status": "@bob from a blocked account"})).await;
    post(&app, &carl, json!({"status": "@bob from a muted account"})).await;
    post(&app, &dora, json!({"status": "@bob from a friend"})).await;
    smtp.wait_for("bob@example.com", "dora mentioned you").await;
    settle(&app).await;
    let to_bob = smtp.mails_to("bob@example.com");
    assert_eq!(to_bob.len(), 1, "{to_bob:#?}");
}

#[tokio::test]
async fn mail_never_carries_what_the_recipient_may_not_see() {
    // The SMTP server is down at first: mails are queued and retried.
    let port = free_port();
    let app = spawn_mailing(port).await;
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;
    let carl = app.sign_up("carl").await;

    // A post in a private group mentioning an outsider: he hears nothing of it.
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
    post(
        &app,
        &ana,
        json!({"status": "@bob the board's secret plan", "group_id": group["id"]}),
    )
    .await;

    // A mention queued while bob could see it (in the posting transaction, so it is
    // there as soon as the post is answered), and a block before it could be sent.
    post(&app, &ana, json!({"status": "@bob the merger is off"})).await;
    assert!(
        app.app.email_backlog().await.unwrap() >= 1,
        "the mention's mail waits for the SMTP server"
    );
    let ana_id = account_id(&app, &ana).await;
    act(&app, &bob, &ana_id, "block").await;
    post(&app, &carl, json!({"status": "@bob hello from carl"})).await;

    let smtp = SmtpServer::start_on(port).await;
    smtp.wait_for("bob@example.com", "carl mentioned you").await;
    settle(&app).await;
    let to_bob = smtp.mails_to("bob@example.com");
    assert_eq!(to_bob.len(), 1, "{to_bob:#?}");
    for m in smtp.mails() {
        assert!(
            !m.text.contains("secret plan") && !m.text.contains("merger"),
            "{m:#?}"
        );
    }
}

#[tokio::test]
async fn the_digest_goes_to_people_who_opted_in_only() {
    let smtp = SmtpServer::start().await;
    let app = spawn_mailing(smtp.port).await;
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;
    let carl = app.sign_up("carl").await;
    let dora = app.sign_up("dora").await;
    // bob and dora want a digest (and no other mail); carl keeps the defaults (no digest).
    for token in [&bob, &dora] {
        let prefs = set_prefs(
            &app,
            token,
            json!({"digest": true, "mention": false, "follow": false}),
        )
        .await;
        assert_eq!(prefs["digest"], true);
    }
    let ana_id = account_id(&app, &ana).await;
    let bob_id = account_id(&app, &bob).await;
    let carl_id = account_id(&app, &carl).await;
    act(&app, &bob, &ana_id, "follow").await;
    act(&app, &ana, &bob_id, "follow").await;
    act(&app, &ana, &carl_id, "follow").await;
    post(
        &app,
        &ana,
        json!({"status": "@bob @carl standup moved to 10"}),
    )
    .await;
    // A popular post in bob's home: liked by carl.
    let news = post(&app, &ana, json!({"status": "Big news: we shipped it"})).await;
    expect_json(
        app.post_json(
            &format!(
                "/api/v1/statuses/{}/favourite",
                news["id"].as_str().unwrap()
            ),
            Some(&carl),
            json!({}),
        )
        .await,
        "favourite",
    )
    .await;
    // carl's mention and follow mails come as usual; then the queue is empty.
    smtp.wait_for("carl@example.com", "ana mentioned you").await;
    wait_for_home(&app, &bob, news["id"].as_str().unwrap()).await;
    settle(&app).await;
    let before = smtp.mails().len();

    // What `starling admin send-digests` runs.
    let mut lines = Vec::new();
    let reports = app
        .app
        .send_digests_now(|r| lines.push(format!("{} {:?}", r.username, r.outcome)))
        .await
        .unwrap();
    assert_eq!(reports.len(), 2, "bob and dora opted in: {lines:?}");
    assert_eq!(lines.len(), 2, "one progress line each: {lines:?}");

    let digest = smtp
        .wait_for(
            "bob@example.com",
            "Your Starling digest: 2 new notifications",
        )
        .await;
    assert!(digest.text.starts_with("Hi bob,"), "{}", digest.text);
    assert!(
        digest
            .text
            .contains("ana mentioned you: \"@bob @carl standup moved to 10\""),
        "{}",
        digest.text
    );
    assert!(digest.text.contains("ana followed you"), "{}", digest.text);
    assert!(
        digest
            .text
            .contains("ana: \"Big news: we shipped it\" (1 like, 0 replies)"),
        "{}",
        digest.text
    );
    assert!(digest.text.contains(&app.base_url), "{}", digest.text);
    settle(&app).await;
    // dora had nothing to catch up on; carl did not opt in.
    assert!(
        lines.iter().any(|l| l.starts_with("dora NotSent")),
        "{lines:?}"
    );
    assert_eq!(smtp.mails().len(), before + 1, "{:#?}", smtp.mails());
    assert!(smtp.mails_to("dora@example.com").is_empty());
    assert!(
        smtp.mails_to("carl@example.com")
            .iter()
            .all(|m| !m.subject.contains("digest"))
    );

    // Read notifications are not reported again.
    let notes = expect_json(app.get("/api/v1/notifications", Some(&bob)).await, "notes").await;
    let newest = notes[0]["id"].as_str().unwrap().to_owned();
    expect_json(
        app.post_json(
            "/api/v1/markers",
            Some(&bob),
            json!({"notifications": {"last_read_id": newest}}),
        )
        .await,
        "markers",
    )
    .await;
    app.app.send_digests_now(|_| {}).await.unwrap();
    let digest = smtp
        .wait_for("bob@example.com", "Your Starling digest")
        .await;
    assert!(!digest.text.contains("mentioned you"), "{}", digest.text);
    assert!(digest.text.contains("Big news"), "{}", digest.text);
}

#[tokio::test]
async fn without_smtp_nothing_is_queued_and_requests_succeed() {
    let app = spawn_app_with(|_| {}).await;
    assert!(!app.app.email_enabled());
    let ana = app.sign_up("ana").await;
    let bob = app.sign_up("bob").await;
    post(&app, &ana, json!({"status": "hi @bob"})).await;
    post(
        &app,
        &ana,
        json!({"status": "@bob psst", "visibility": "direct"}),
    )
    .await;
    let bob_id = account_id(&app, &bob).await;
    act(&app, &ana, &bob_id, "follow").await;
    let notes = expect_json(app.get("/api/v1/notifications", Some(&bob)).await, "notes").await;
    assert_eq!(notes.as_array().unwrap().len(), 3);
    assert_eq!(app.app.email_backlog().await.unwrap(), 0);
    // Preferences can still be kept; the answer says mail is off.
    let prefs = set_prefs(&app, &bob, json!({"digest": true})).await;
    assert_eq!(prefs["email_enabled"], false);
    assert_eq!(prefs["digest"], true);
    let err = app.app.send_digests_now(|_| {}).await.unwrap_err();
    assert!(err.to_string().contains("smtp_url"), "{err}");
}

#[tokio::test]
async fn the_preferences_endpoint_validates_and_needs_a_token() {
    let app = spawn_app_with(|_| {}).await;
    let bob = app.sign_up("bob").await;

    for r in [
        app.get("/api/v1/email_preferences", None).await,
        app.patch_json("/api/v1/email_preferences", None, json!({"digest": true}))
            .await,
    ] {
        assert_eq!(r.status(), 401);
        assert!(json_body(r).await["error"].is_string());
    }

    let r = app
        .patch_json(
            "/api/v1/email_preferences",
            Some(&bob),
            json!({"digest": "sometimes"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e = json_body(r).await["error"].as_str().unwrap().to_owned();
    assert!(e.contains("digest must be true or false"), "{e}");

    let r = app
        .patch_json(
            "/api/v1/email_preferences",
            Some(&bob),
            json!({"mentions": false}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e = json_body(r).await["error"].as_str().unwrap().to_owned();
    assert!(e.contains("mentions is not an e-mail preference"), "{e}");

    let r = app
        .patch_json(
            "/api/v1/email_preferences",
            Some(&bob),
            json!({"follow": 2}),
        )
        .await;
    assert_eq!(r.status(), 422);

    // Nothing was changed by the refused requests.
    let prefs = expect_json(
        app.get("/api/v1/email_preferences", Some(&bob)).await,
        "get",
    )
    .await;
    assert_eq!(prefs["digest"], false);
    assert_eq!(prefs["follow"], true);

    // Reading needs read:accounts, changing write:accounts.
    let read_only = app
        .app
        .admin_token("bob", "read")
        .await
        .unwrap()
        .access_token;
    let r = app.get("/api/v1/email_preferences", Some(&read_only)).await;
    assert_eq!(r.status(), 200);
    let r = app
        .patch_json(
            "/api/v1/email_preferences",
            Some(&read_only),
            json!({"digest": true}),
        )
        .await;
    assert_eq!(r.status(), 403);
}

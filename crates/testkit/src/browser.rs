//! A small browser stand-in for tests of the web UI over HTTP: [`Browser`] keeps one
//! visitor's cookies, sends them with each request and reads the forms' anti-forgery
//! (CSRF) token out of the HTML, as a browser would send them back. It follows no
//! redirects (the tests look at them) and runs no scripts.
//!
//! ```no_run
//! # async fn demo() {
//! use starling_testkit::browser::{Browser, location};
//! let app = starling_testkit::spawn_app().await;
//! let mut ana = Browser::new(&app);
//! ana.sign_up("ana").await;
//! let r = ana.post_status("hello").await;
//! assert_eq!(location(&r), "/home");
//! # }
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail by panicking.

use crate::TestApp;
use reqwest::header::{COOKIE, LOCATION, REFERER, SET_COOKIE};
use reqwest::{Response, StatusCode};
use starling_service::Page;
use starling_service::timelines::Timeline;
use std::collections::BTreeMap;
use std::time::Duration;

/// The password [`Browser::sign_up`] gives new accounts.
pub const SIGN_UP_PASSWORD: &str = "correct horse battery";

/// One visitor's cookies, and requests that carry them.
#[derive(Debug)]
pub struct Browser<'a> {
    app: &'a TestApp,
    /// The cookies the server has set (name → value), sent back with every request;
    /// tests may read or replace them (e.g. to replay an old session cookie).
    pub cookies: BTreeMap<String, String>,
    /// The page forms are sent from (their `Referer`) unless a request names its own.
    referer: Option<String>,
    /// The account signed in through [`Browser::sign_up`] or [`Browser::sign_in`].
    username: Option<String>,
}

impl<'a> Browser<'a> {
    /// A visitor of `app` with no cookies yet, whose forms carry no `Referer`.
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            referer: None,
            username: None,
        }
    }

    /// The same visitor, sending each form as if from the page `path` (a `Referer`
    /// header) unless [`Browser::post_from`] names another page.
    pub fn with_referer(mut self, path: &str) -> Self {
        self.referer = Some(path.to_owned());
        self
    }

    /// The `Cookie` header value of this visitor's cookies.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the cookies a response sets and forgets the ones it expires.
    fn keep_cookies(&mut self, r: &Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// `GET path` with the cookies.
    pub async fn get(&mut self, path: &str) -> Response {
        let r = self
            .app
            .client
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    /// The HTML of page `path`; panics unless it answers 200.
    pub async fn page(&mut self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.unwrap()
    }

    /// `POST path` with a form and the cookies (and the [`Browser::with_referer`] page).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let from = self.referer.clone();
        self.send_form(from.as_deref(), path, form).await
    }

    /// `POST path` with a form as if from the page `from` (its `Referer`).
    pub async fn post_from(&mut self, from: &str, path: &str, form: &[(&str, &str)]) -> Response {
        self.send_form(Some(from), path, form).await
    }

    async fn send_form(
        &mut self,
        from: Option<&str>,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .app
            .client
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header());
        if let Some(from) = from {
            request = request.header(REFERER, self.app.url(from));
        }
        let r = request.form(form).send().await.unwrap();
        self.keep_cookies(&r);
        r
    }

    /// The anti-forgery token of the signed-in session, from the home page's forms.
    pub async fn csrf(&mut self) -> String {
        csrf_of(&self.page("/home").await)
    }

    /// `POST path` with `fields` after this session's anti-forgery token.
    pub async fn send(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf().await;
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(path, &form).await
    }

    /// Signs up through the form with e-mail `{name}@example.com` and
    /// [`SIGN_UP_PASSWORD`]; the browser is then signed in.
    pub async fn sign_up(&mut self, name: &str) {
        let csrf = csrf_of(&self.page("/sign-up").await);
        let email = format!("{name}@example.com");
        let r = self
            .post(
                "/sign-up",
                &[
                    ("csrf", &csrf),
                    ("username", name),
                    ("email", &email),
                    ("password", SIGN_UP_PASSWORD),
                    ("agreement", "true"),
                ],
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{}",
            r.text().await.unwrap()
        );
        assert!(self.cookies.contains_key("starling_session"));
        self.username = Some(name.to_owned());
    }

    /// Signs in through the form with `password-{name}` (the password of
    /// [`TestApp::sign_up`]); panics unless it succeeds.
    pub async fn sign_in(&mut self, name: &str) {
        let password = format!("password-{name}");
        let r = self.try_sign_in(name, &password).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {name}");
        self.username = Some(name.to_owned());
    }

    /// Sends the sign-in form with `login` and `password`; returns the response.
    pub async fn try_sign_in(&mut self, login: &str, password: &str) -> Response {
        let csrf = csrf_of(&self.page("/sign-in").await);
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("login", login), ("password", password)],
        )
        .await
    }

    /// Posts `text` publicly through the home page's composer; returns the response.
    pub async fn post_status(&mut self, text: &str) -> Response {
        self.post_status_to(text, "public").await
    }

    /// Posts `text` with `visibility` through the home page's composer; returns the
    /// response.
    pub async fn post_status_to(&mut self, text: &str, visibility: &str) -> Response {
        let csrf = self.csrf().await;
        self.post(
            "/statuses",
            &[
                ("csrf", &csrf),
                ("status", text),
                ("visibility", visibility),
                ("return_to", "/home"),
            ],
        )
        .await
    }

    /// Posts `text` with `visibility` like [`Browser::post_status_to`], panics unless the
    /// post is accepted, and returns its id.
    pub async fn publish(&mut self, text: &str, visibility: &str) -> String {
        let r = self.post_status_to(text, visibility).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let name = self
            .username
            .as_deref()
            .expect("publish needs a browser signed up or in by name");
        let me = self.app.app.lookup(name).await.unwrap();
        let newest = self
            .app
            .app
            .timeline(
                Some(&me),
                Timeline::Account(me.id, Default::default()),
                Page::first(1),
            )
            .await
            .unwrap();
        newest.items[0].status.id.to_string()
    }
}

/// The value of the first `csrf` hidden field in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The `Location` header of a response, or `""` without one.
pub fn location(r: &Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Reads a streamed (SSE) body until `needle` appears; returns all read so far. Panics
/// after 10 s without it.
pub async fn read_until(r: &mut Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"))
            .unwrap()
            .expect("stream open");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    seen
}

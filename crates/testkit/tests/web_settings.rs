//! The web UI's settings, consent page and people pages over HTTP: profile errors per
//! field, password change (wrong current password refused, other sessions and tokens
//! revoked), sessions and authorised apps (revoking only one's own), e-mail preferences,
//! the OAuth consent page (Authorize, Deny, CSRF), followers lists, block and mute.
//!
//! The testkit's browser stand-in ([`Browser`]) keeps cookies and reads the forms' CSRF
//! token out of the HTML, as a browser would send them back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::Value;
use starling_testkit::browser::{Browser, csrf_of, location};
use starling_testkit::{TestApp, spawn_app};
use std::collections::BTreeMap;

/// Every value of `data-{attr}="…"` in a page, in order.
fn data_values(html: &str, attr: &str) -> Vec<String> {
    let marker = format!("data-{attr}=\"");
    html.match_indices(&marker)
        .map(|(i, _)| {
            let start = i + marker.len();
            let end = html[start..].find('"').unwrap() + start;
            html[start..end].to_owned()
        })
        .collect()
}

async fn account_id(app: &TestApp, token: &str) -> String {
    let me: Value = app
        .get("/api/v1/accounts/verify_credentials", Some(token))
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn profile_edits_show_on_the_profile_and_bad_values_name_their_field() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let csrf = ana.csrf().await;
    let r = ana
        .post(
            "/settings/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Ana <Lopez>"),
                ("note", "Tends the <b>garden</b>"),
                ("privacy", "unlisted"),
                ("language", "es"),
                ("bot", "true"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/settings/profile?done=saved");
    let page = ana.page("/settings/profile?done=saved").await;
    assert!(page.contains("Your profile was saved."));
    assert!(page.contains("value=\"unlisted\" selected"));
    let profile = ana.page("/@ana").await;
    assert!(profile.contains("Ana &#60;Lopez&#62;") || profile.contains("Ana &lt;Lopez&gt;"));
    assert!(!profile.contains("<b>garden</b>"), "the bio is escaped");
    // The API sees the same account.
    let shown: Value = app
        .get("/api/v1/accounts/lookup?acct=ana", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["display_name"], "Ana <Lopez>");
    assert_eq!(shown["bot"], true);

    let long = "x".repeat(31);
    let r = ana
        .post(
            "/settings/profile",
            &[
                ("csrf", &csrf),
                ("display_name", &long),
                ("note", "fine"),
                ("privacy", "everyone"),
                ("language", "Spanish"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"display_name-error\""), "{html}");
    assert!(html.contains("display_name must be at most 30 characters"));
    assert!(html.contains("id=\"privacy-error\""));
    assert!(html.contains("id=\"language-error\""));
    assert!(!html.contains("id=\"note-error\""));
    assert!(
        html.contains(&long),
        "the refused value is kept in the form"
    );
    let shown: Value = app
        .get("/api/v1/accounts/lookup?acct=ana", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["display_name"], "Ana <Lopez>", "nothing was saved");
}

#[tokio::test]
async fn settings_forms_refuse_a_missing_or_foreign_csrf_token() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    app.sign_up("ben").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_in("ben").await;
    let bens_csrf = ben.csrf().await;
    let sessions = ana.page("/settings/sessions").await;
    let session_id = data_values(&sessions, "session-id")[0].clone();
    for path in [
        "/settings/profile".to_owned(),
        "/settings/password".to_owned(),
        "/settings/email".to_owned(),
        format!("/settings/sessions/{session_id}/revoke"),
        "/settings/apps/1/revoke".to_owned(),
        "/accounts/1/block".to_owned(),
        "/accounts/1/mute".to_owned(),
    ] {
        for csrf in ["", bens_csrf.as_str()] {
            let r = ana
                .post(
                    &path,
                    &[
                        ("csrf", csrf),
                        ("display_name", "forged"),
                        ("current_password", "password-ana"),
                        ("new_password", "forged-password"),
                        ("confirm_password", "forged-password"),
                    ],
                )
                .await;
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "POST {path} csrf={csrf:?}"
            );
        }
    }
    // Nothing happened: the name, the password and the session are as they were.
    assert!(!ana.page("/settings/profile").await.contains("forged"));
    assert_eq!(
        Browser::new(&app)
            .try_sign_in("ana", "password-ana")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_the_stored_one_still_works() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let csrf = ana.csrf().await;
    let r = ana
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", "not-my-password"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"current_password-error\""));
    assert!(html.contains("current_password is not the password of this account"));
    // Confirmation and length are checked too, naming their field.
    let r = ana
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", "password-ana"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-passwort"),
            ],
        )
        .await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"confirm_password-error\"")
    );
    let r = ana
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", "password-ana"),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("new_password must be at least 8 characters"),
        "{html}"
    );
    // The stored password is unchanged.
    assert_eq!(
        Browser::new(&app)
            .try_sign_in("ana", "password-ana")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        Browser::new(&app)
            .try_sign_in("ana", "a-new-password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session_and_token_but_this_one() {
    let app = spawn_app().await;
    let api_token = app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let mut laptop = Browser::new(&app);
    laptop.sign_in("ana").await;
    // Both in use before the change (so a cache of tokens would know them).
    assert_eq!(laptop.get("/home").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&api_token))
            .await
            .status(),
        StatusCode::OK
    );
    let csrf = ana.csrf().await;
    let r = ana
        .post(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", "password-ana"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/settings/password?done=changed&count=2");
    let page = ana.page(&location(&r)).await;
    assert!(
        page.contains(
            "2 other sessions and app tokens were signed out; this session stays signed in"
        )
    );
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&api_token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the app token was revoked"
    );
    let r = laptop.get("/home").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the other session ended");
    assert!(location(&r).starts_with("/sign-in"));
    assert_eq!(
        ana.get("/home").await.status(),
        StatusCode::OK,
        "this one stays"
    );
    let mut fresh = Browser::new(&app);
    assert_eq!(
        Browser::new(&app)
            .try_sign_in("ana", "password-ana")
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the old password is refused"
    );
    assert_eq!(
        fresh.try_sign_in("ana", "a-new-password").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sessions_are_listed_and_revoking_one_signs_that_browser_out() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let mut phone = Browser::new(&app);
    phone.sign_in("ana").await;
    let page = ana.page("/settings/sessions").await;
    let ids = data_values(&page, "session-id");
    assert_eq!(ids.len(), 2, "{page}");
    assert_eq!(page.matches("(this session)").count(), 1);
    // The API sign-up's app is listed under apps, not sessions.
    assert_eq!(data_values(&page, "app-id").len(), 1);
    // The phone's session is the newest (listed first) and is not this one.
    let phone_id = &ids[0];
    assert_eq!(
        phone.get("/settings/sessions").await.status(),
        StatusCode::OK
    );
    let csrf = csrf_of(&page);
    let r = ana
        .post(
            &format!("/settings/sessions/{phone_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = phone.get("/settings/sessions").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/sign-in"));
    let page = ana.page("/settings/sessions").await;
    assert_eq!(data_values(&page, "session-id").len(), 1);
}

#[tokio::test]
async fn another_accounts_session_or_app_cannot_be_revoked() {
    let app = spawn_app().await;
    let bens_token = app.sign_up("ben").await;
    app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_in("ben").await;
    let bens_page = ben.page("/settings/sessions").await;
    let bens_session = data_values(&bens_page, "session-id")[0].clone();
    let bens_app = data_values(&bens_page, "app-id")[0].clone();
    let csrf = ana.csrf().await;
    for path in [
        format!("/settings/sessions/{bens_session}/revoke"),
        format!("/settings/apps/{bens_app}/revoke"),
        "/settings/sessions/12345/revoke".to_owned(),
        "/settings/sessions/not-an-id/revoke".to_owned(),
    ] {
        let r = ana.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    assert_eq!(ben.get("/home").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&bens_token))
            .await
            .status(),
        StatusCode::OK
    );
    // And ana's page shows nothing of ben's.
    let anas_page = ana.page("/settings/sessions").await;
    assert!(!anas_page.contains(&bens_session));
}

#[tokio::test]
async fn email_preferences_are_saved_from_the_checkboxes() {
    let app = spawn_app().await;
    let token = app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let page = ana.page("/settings/email").await;
    assert!(
        page.contains("id=\"mention\" name=\"mention\" type=\"checkbox\" value=\"true\" checked")
    );
    let csrf = csrf_of(&page);
    let r = ana
        .post(
            "/settings/email",
            &[("csrf", &csrf), ("follow", "true"), ("digest", "true")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let prefs: Value = app
        .get("/api/v1/email_preferences", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs["mention"], false, "{prefs}");
    assert_eq!(prefs["direct"], false);
    assert_eq!(prefs["follow"], true);
    assert_eq!(prefs["digest"], true);
}

/// Registers an app with an out-of-band and a web redirect URI.
async fn register_app(app: &TestApp) -> (String, String) {
    let r: Value = app
        .post_form(
            "/api/v1/apps",
            None,
            &[
                ("client_name", "Pocket <Reader>"),
                (
                    "redirect_uris",
                    "urn:ietf:wg:oauth:2.0:oob\nhttps://reader.example/cb",
                ),
                ("scopes", "read write follow"),
                ("website", "https://reader.example"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    (
        r["client_id"].as_str().unwrap().to_owned(),
        r["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn authorize_url(client_id: &str, redirect: &str) -> String {
    let mut u = url::Url::parse("http://x/oauth/authorize").unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "read write")
        .append_pair("state", "s-123");
    format!("/oauth/authorize?{}", u.query().unwrap())
}

/// The consent form's fields, from the page.
fn consent_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let form = html
        .split("action=\"/oauth/authorize\"")
        .nth(1)
        .unwrap()
        .split("</form>")
        .next()
        .unwrap();
    for part in form.split("<input type=\"hidden\" name=\"").skip(1) {
        let (name, rest) = part.split_once('"').unwrap();
        let value = rest
            .split("value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let value = value
            .replace("&#58;", ":")
            .replace("&#47;", "/")
            .replace("&#10;", "\n");
        out.push((name.to_owned(), value));
    }
    out
}

#[tokio::test]
async fn the_consent_page_authorizes_an_app_which_then_shows_in_settings() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (client_id, client_secret) = register_app(&app).await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let oob = "urn:ietf:wg:oauth:2.0:oob";
    let html = ana.page(&authorize_url(&client_id, oob)).await;
    assert!(
        html.contains("Authorize <span class=\"app-name\">Pocket &#60;Reader&#62;</span>")
            || html.contains("Pocket &lt;Reader&gt;"),
        "{html}"
    );
    assert!(html.contains("read everything your account can see"));
    assert!(html.contains("post, edit and delete posts"));
    assert!(
        !html.contains("follow and unfollow people"),
        "only the scopes asked for"
    );
    assert!(html.contains(">Authorize</button>") && html.contains(">Deny</button>"));
    let fields = consent_fields(&html);
    let mut form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Without the session's token the button does nothing.
    let forged: Vec<(&str, &str)> = form
        .iter()
        .map(|(k, v)| if *k == "csrf" { (*k, "") } else { (*k, *v) })
        .chain([("decision", "approve")])
        .collect();
    assert_eq!(
        ana.post("/oauth/authorize", &forged).await.status(),
        StatusCode::FORBIDDEN
    );
    form.push(("decision", "approve"));
    let r = ana.post("/oauth/authorize", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let code = html
        .split("<code id=\"code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let t: Value = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
                ("code", &code),
                ("redirect_uri", oob),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let token = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t["scope"], "read write");
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await
            .status(),
        StatusCode::OK
    );
    let page = ana.page("/settings/sessions").await;
    assert!(page.contains("Pocket &#60;Reader&#62;") || page.contains("Pocket &lt;Reader&gt;"));
    let app_ids = data_values(&page, "app-id");
    assert_eq!(app_ids.len(), 2, "the sign-up app and the reader");
    let reader = app_ids
        .iter()
        .find(|id| {
            let at = page.find(&format!("data-app-id=\"{id}\"")).unwrap();
            page[at..].split("</li>").next().unwrap().contains("Reader")
        })
        .unwrap()
        .clone();
    let r = ana
        .post(
            &format!("/settings/apps/{reader}/revoke"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_the_page_lets_the_redirect_through() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (client_id, _) = register_app(&app).await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let redirect = "https://reader.example/cb";
    let r = ana.get(&authorize_url(&client_id, redirect)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://reader.example;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'"));
    let html = r.text().await.unwrap();
    let fields = consent_fields(&html);
    let mut form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("decision", "deny"));
    let r = ana.post("/oauth/authorize", &form).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(to.as_str().split('?').next(), Some(redirect));
    let q: BTreeMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q.get("state").map(String::as_str), Some("s-123"));
    assert!(!q.contains_key("code"));
    // Approving redirects with a code and the state.
    form.pop();
    form.push(("decision", "approve"));
    let r = ana.post("/oauth/authorize", &form).await;
    let to = url::Url::parse(&location(&r)).unwrap();
    let q: BTreeMap<_, _> = to.query_pairs().into_owned().collect();
    assert!(q.contains_key("code"));
    assert_eq!(q.get("state").map(String::as_str), Some("s-123"));
    // Out of band, a denial is shown.
    let html = ana
        .page(&authorize_url(&client_id, "urn:ietf:wg:oauth:2.0:oob"))
        .await;
    let mut form: Vec<(String, String)> = consent_fields(&html);
    form.push(("decision".into(), "deny".into()));
    let r = ana
        .post(
            "/oauth/authorize",
            &form
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("access_denied"));
    // An unregistered redirect URI is refused on the page, never redirected to.
    let r = ana
        .get(&authorize_url(&client_id, "https://evil.example/cb"))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(location(&r).is_empty());
}

#[tokio::test]
async fn without_a_session_the_consent_page_signs_in_first() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (client_id, _) = register_app(&app).await;
    let mut visitor = Browser::new(&app);
    let url = authorize_url(&client_id, "urn:ietf:wg:oauth:2.0:oob");
    let html = visitor.page(&url).await;
    assert!(html.contains("name=\"password\"") && html.contains("Sign in first"));
    let mut form = consent_fields(&html);
    let wrong = {
        let mut f = form.clone();
        f.push(("login".into(), "ana".into()));
        f.push(("password".into(), "nope-nope-nope".into()));
        f
    };
    let r = visitor
        .post(
            "/oauth/authorize",
            &wrong
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    form.push(("login".into(), "ana".into()));
    form.push(("password".into(), "password-ana".into()));
    let r = visitor
        .post(
            "/oauth/authorize",
            &form
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/oauth/authorize?"));
    assert!(visitor.cookies.contains_key("starling_session"));
    let html = visitor.page(&location(&r)).await;
    assert!(html.contains(">Authorize</button>"), "{html}");
    assert!(html.contains("@ana"));
}

async fn post_status(app: &TestApp, token: &str, text: &str) -> String {
    let r: Value = app
        .post_json(
            "/api/v1/statuses",
            Some(token),
            serde_json::json!({"status": text, "visibility": "public"}),
        )
        .await
        .json()
        .await
        .unwrap();
    r["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn followers_lists_and_blocking_and_muting_from_a_profile() {
    let app = spawn_app().await;
    let ana_token = app.sign_up("ana").await;
    let ben_token = app.sign_up("ben").await;
    let cat_token = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana_token).await;
    let ben_id = account_id(&app, &ben_token).await;
    let cat_id = account_id(&app, &cat_token).await;
    for (token, target) in [
        (&ben_token, &ana_id),
        (&ana_token, &ben_id),
        (&ana_token, &cat_id),
    ] {
        let r = app
            .post_form(
                &format!("/api/v1/accounts/{target}/follow"),
                Some(token),
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let mut visitor = Browser::new(&app);
    let followers = visitor.page("/@ana/followers").await;
    assert!(followers.contains("href=\"/@ben\""), "{followers}");
    assert!(!followers.contains("href=\"/@cat\""));
    let following = visitor.page("/@ana/following").await;
    assert!(following.contains("href=\"/@ben\"") && following.contains("href=\"/@cat\""));
    assert_eq!(
        visitor.get("/@nobody/followers").await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        visitor
            .page("/@ana")
            .await
            .contains("href=\"/@ana/followers\"")
    );

    post_status(&app, &ben_token, "ben says hello").await;
    post_status(&app, &cat_token, "cat says hello").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let home = ana.page("/home").await;
    assert!(home.contains("ben says hello") && home.contains("cat says hello"));

    let profile = ana.page("/@ben").await;
    assert!(profile.contains(">Block<") && profile.contains(">Mute<"));
    let csrf = csrf_of(&profile);
    let r = ana
        .post(&format!("/accounts/{ben_id}/block"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/@ben");
    let profile = ana.page("/@ben").await;
    assert!(profile.contains("You block ben.") && profile.contains(">Unblock<"));
    assert!(
        !profile.contains(">Follow<"),
        "no follow button while blocking"
    );
    let home = ana.page("/home").await;
    assert!(
        !home.contains("ben says hello"),
        "a blocked person's posts leave home"
    );
    assert!(home.contains("cat says hello"));

    let r = ana
        .post(&format!("/accounts/{cat_id}/mute"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(ana.page("/@cat").await.contains("You mute cat."));
    assert!(
        !ana.page("/home").await.contains("cat says hello"),
        "muted too"
    );
    let r = ana
        .post(&format!("/accounts/{cat_id}/unmute"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(ana.page("/home").await.contains("cat says hello"));
    let r = ana
        .post(&format!("/accounts/{ben_id}/unblock"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(ana.page("/@ben").await.contains(">Block<"));
}

#[tokio::test]
async fn revoking_a_session_from_settings_ends_its_live_stream_at_once() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let mut phone = Browser::new(&app);
    phone.sign_in("ana").await;
    let mut live = phone.get("/live?stream=home").await;
    assert_eq!(live.status(), StatusCode::OK);
    let page = ana.page("/settings/sessions").await;
    let phone_id = data_values(&page, "session-id")[0].clone();
    let r = ana
        .post(
            &format!("/settings/sessions/{phone_id}/revoke"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The stream ends well before its periodic access check (a minute) would end it.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = live.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the revoked session's stream is still open");
}

#[tokio::test]
async fn the_consent_page_takes_mastodon_py_s_literal_none_and_false_parameters() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (client_id, _) = register_app(&app).await;
    // Mastodon.py's `auth_request_url()` sends these as the strings "False" and "None".
    let path = format!(
        "/oauth/authorize?client_id={client_id}&response_type=code&redirect_uri=urn:ietf:wg:oauth:2.0:oob\
         &scope=read+write+follow&force_login=False&state=None&lang=None"
    );
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let html = ana.page(&path).await;
    assert!(html.contains(">Authorize</button>"));
    let mut form = consent_fields(&html);
    form.push(("decision".into(), "approve".into()));
    let r = ana
        .post(
            "/oauth/authorize",
            &form
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("<code id=\"code\">"));
}

struct Quiet;

impl starling_service::seed::SeedProgress for Quiet {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

#[tokio::test]
async fn followers_lists_are_paginated_without_repeats_or_gaps() {
    let app = spawn_app().await;
    // The seeder's celebrity is followed by every other account: 44 followers.
    let plan = starling_service::seed::SeedPlan {
        accounts: 45,
        active: 2,
        follows_min: 0,
        follows_max: 1,
        posts_per_active: 0,
        celebrity_posts: 0,
        filler_posts: 0,
        group_members: 0,
        group_posts: 0,
        rng_seed: 3,
    };
    app.app.seed(&plan, &Quiet).await.unwrap();
    let mut visitor = Browser::new(&app);
    let first = visitor.page("/@celebrity/followers").await;
    let names = |html: &str| -> Vec<String> {
        html.split("<li class=\"person-item\">")
            .skip(1)
            .map(|li| {
                li.split("href=\"/@")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let mut seen = names(&first);
    assert_eq!(seen.len(), 40, "a full first page");
    let more = first
        .split("<p class=\"older\"><a href=\"")
        .nth(1)
        .expect("a link to the next page")
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(more.starts_with("/@celebrity/followers?max_id="), "{more}");
    let second = visitor.page(&more).await;
    assert!(
        !second.contains("More people"),
        "the last page has no next link"
    );
    seen.extend(names(&second));
    let unique: std::collections::BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 44, "{seen:?}");
    assert_eq!(unique.len(), 44, "no one listed twice");
    assert!(!unique.contains("celebrity"));
}

#[tokio::test]
async fn credentials_posted_from_another_site_are_refused_but_scripts_still_get_a_code() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (client_id, _) = register_app(&app).await;
    let form = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
        ("scope", "read"),
        ("login", "ana"),
        ("password", "password-ana"),
    ];
    // A forged sign-in from another site's page (login CSRF) is refused.
    let r = app
        .client
        .post(app.url("/oauth/authorize"))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // This site's own page, or a script (no Origin), gets the code.
    for origin in [Some(app.base_url.clone()), None] {
        let mut req = app.client.post(app.url("/oauth/authorize")).form(&form);
        if let Some(o) = &origin {
            req = req.header("Origin", o);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "origin {origin:?}");
        assert!(r.text().await.unwrap().contains("<code id=\"code\">"));
    }
}

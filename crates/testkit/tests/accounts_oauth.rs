//! Sign-up, OAuth2 grants, scopes and account administration, over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::json;
use starling_testkit::{json_body as body, spawn_app, spawn_app_with};

#[tokio::test]
async fn sign_up_gives_a_working_token_and_first_account_is_admin() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let me = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(me["username"], "ana");
    assert_eq!(me["acct"], "ana");
    assert!(me["id"].is_string());
    assert_eq!(me["source"]["privacy"], "public");
    assert_eq!(me["role"]["name"], "Admin");
    let ben = app.sign_up("ben").await;
    let me = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ben))
            .await,
    )
    .await;
    assert_eq!(me["role"]["name"], "");
}

#[tokio::test]
async fn bad_sign_ups_are_refused_with_clear_errors_and_nothing_stored() {
    let app = spawn_app_with(|s| s.allowed_email_domains = vec!["example.com".into()]).await;
    app.sign_up("ana").await;
    let (id, secret) = app.register_app().await;
    let tok = body(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "read write"),
            ],
        )
        .await,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (
            "ANA",
            "other@example.com",
            "password-1",
            "username is already taken",
        ),
        (
            "bob",
            "ana@example.com",
            "password-1",
            "email is already taken",
        ),
        (
            "bad name",
            "bob@example.com",
            "password-1",
            "username must be",
        ),
        (
            "bob",
            "bob@elsewhere.org",
            "password-1",
            "email domain is not allowed",
        ),
        ("bob", "not-an-email", "password-1", "email must be"),
        (
            "bob",
            "bob@example.com",
            "short",
            "password must be at least 8",
        ),
    ];
    for (username, email, password, message) in cases {
        let r = app
            .post_json(
                "/api/v1/accounts",
                Some(&tok),
                json!({"username": username, "email": email, "password": password, "agreement": true}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{username} {email}"
        );
        let b = body(r).await;
        assert!(
            b["error"].as_str().unwrap().contains(message),
            "{b} should mention {message}"
        );
    }
    let r = app
        .post_json(
            "/api/v1/accounts",
            Some(&tok),
            json!({"username": "bob", "email": "bob@example.com", "password": "password-1"}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "agreement is required"
    );
    let users = app.app.list_users(0, 100).await.unwrap();
    assert_eq!(users.len(), 1, "nothing was stored by the refused sign-ups");
}

#[tokio::test]
async fn password_grant_accepts_username_or_email_and_echoes_scope() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (id, secret) = app.register_app().await;
    for login in ["ana", "ANA@example.com"] {
        let r = app
            .post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "password"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("username", login),
                    ("password", "password-ana"),
                    ("scope", "read write follow push"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{login}");
        let t = body(r).await;
        assert_eq!(t["token_type"], "Bearer");
        let scopes: Vec<&str> = t["scope"].as_str().unwrap().split(' ').collect();
        for s in ["read", "write", "follow", "push"] {
            assert!(scopes.contains(&s), "scope {s} echoed");
        }
        assert!(t["refresh_token"].is_string());
    }
    let r = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("username", "ana"),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body(r).await["error"].is_string());
    let r = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", "nope"),
                ("username", "ana"),
                ("password", "password-ana"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn scopes_are_enforced_and_revoked_tokens_stop_working() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (id, secret) = app.register_app().await;
    let grant = |scope: &'static str| {
        let (id, secret) = (id.clone(), secret.clone());
        let app = &app;
        async move {
            body(
                app.post_form(
                    "/oauth/token",
                    None,
                    &[
                        ("grant_type", "password"),
                        ("client_id", &id),
                        ("client_secret", &secret),
                        ("username", "ana"),
                        ("password", "password-ana"),
                        ("scope", scope),
                    ],
                )
                .await,
            )
            .await["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let read_only = grant("read").await;
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&read_only),
            json!({"status": "hi"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        body(r).await["error"]
            .as_str()
            .unwrap()
            .contains("write:statuses")
    );
    let narrow = grant("write:statuses read:accounts").await;
    let r = app
        .post_json("/api/v1/statuses", Some(&narrow), json!({"status": "hi"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get("/api/v1/timelines/home", Some(&narrow)).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "read:statuses is missing"
    );

    let r = app
        .post_form(
            "/oauth/revoke",
            None,
            &[
                ("client_id", &id),
                ("client_secret", &secret),
                ("token", &read_only),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .get("/api/v1/accounts/verify_credentials", Some(&read_only))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(body(r).await["error"].is_string());
}

#[tokio::test]
async fn deactivation_revokes_every_token_at_once() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&ben))
            .await
            .status(),
        StatusCode::OK
    );
    app.app.deactivate("ben").await.unwrap();
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&ben))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let lookup = app.get("/api/v1/accounts/lookup?acct=ben", None).await;
    assert_eq!(lookup.status(), StatusCode::NOT_FOUND);
    app.app.reactivate("ben").await.unwrap();
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&ben))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "old tokens stay revoked after reactivation"
    );
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_and_refresh() {
    let app = spawn_app().await;
    app.sign_up("ana").await;
    let (id, secret) = app.register_app().await;
    let oob = "urn:ietf:wg:oauth:2.0:oob";
    let page = app
        .get(&format!("/oauth/authorize/?response_type=code&client_id={id}&redirect_uri={oob}&scope=read+write"), None)
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("name=\"password\""));
    // challenge = BASE64URL(SHA256(verifier)), computed independently with Python.
    let verifier = "dBjftJeZ4CVP-mJ0kKWFQeK9u0r6Ih3SJDMZfRPmbLo";
    let challenge = "kSyo9GnB2Qtl8-Dt4IdHwqpQAlT4zvlnwzmmb-3IUCo";
    let r = app
        .post_form(
            "/oauth/authorize",
            None,
            &[
                ("client_id", &id),
                ("redirect_uri", oob),
                ("scope", "read write"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("login", "ana"),
                ("password", "password-ana"),
            ],
        )
        .await;
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
    let bad = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("code", &code),
                ("redirect_uri", oob),
                ("code_verifier", "wrong"),
            ],
        )
        .await;
    assert_eq!(
        bad.status(),
        StatusCode::BAD_REQUEST,
        "a wrong verifier is refused (and burns the code)"
    );

    let r = app
        .post_form(
            "/oauth/authorize",
            None,
            &[
                ("client_id", &id),
                ("redirect_uri", oob),
                ("scope", "read write"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("login", "ana@example.com"),
                ("password", "password-ana"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    let code = html
        .split("<code id=\"code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let t = body(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("code", &code),
                ("redirect_uri", oob),
                ("code_verifier", verifier),
            ],
        )
        .await,
    )
    .await;
    let token = t["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{t}"))
        .to_owned();
    assert_eq!(t["scope"], "read write");
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await
            .status(),
        StatusCode::OK
    );

    let refreshed = body(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await,
    )
    .await;
    let new_token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(new_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "refresh rotates the token"
    );
}

#[tokio::test]
async fn profiles_update_and_lookup() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let r = app
        .patch_json("/api/v1/accounts/update_credentials", Some(&ana), json!({"display_name": "Ana <b>", "note": "Hi\nthere", "source": {"privacy": "private"}}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let me = body(r).await;
    assert_eq!(me["display_name"], "Ana <b>");
    assert_eq!(me["note"], "<p>Hi<br>there</p>");
    assert_eq!(me["source"]["privacy"], "private");
    let r = app
        .patch_json(
            "/api/v1/accounts/update_credentials",
            Some(&ana),
            json!({"display_name": "x".repeat(31)}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body(r).await["error"]
            .as_str()
            .unwrap()
            .contains("display_name")
    );
    let found = body(app.get("/api/v1/accounts/lookup?acct=@ANA", None).await).await;
    assert_eq!(found["id"], me["id"]);
    let shown = body(
        app.get(
            &format!("/api/v1/accounts/{}", me["id"].as_str().unwrap()),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(shown["display_name"], "Ana <b>");
    assert!(
        shown.get("source").is_none(),
        "source is only for the owner"
    );
}

#[tokio::test]
async fn password_guessing_is_throttled_per_login() {
    // Three a minute: one attempt comes back every 20 s, so the three wrong guesses below
    // must take under 20 s for the fourth to be refused (with five a minute they had only
    // 12 s, and debug-build password hashing on a loaded CI machine once took longer).
    let app = spawn_app_with(|s| s.sign_in_attempts_per_minute = 3).await;
    app.sign_up("ana").await;
    app.sign_up("ben").await;
    let (id, secret) = app.register_app().await;
    let attempt = |login: &'static str, password: &'static str| {
        let (id, secret) = (id.clone(), secret.clone());
        let app = &app;
        async move {
            app.post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "password"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("username", login),
                    ("password", password),
                ],
            )
            .await
        }
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("ana", "guess-guess").await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    let r = attempt("ana", "password-ana").await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        body(r).await["error"]
            .as_str()
            .unwrap()
            .contains("Too many sign-in attempts")
    );
    assert_eq!(
        attempt("ben", "password-ben").await.status(),
        StatusCode::OK,
        "other accounts are unaffected"
    );
}

#[tokio::test]
async fn apps_may_not_register_redirects_that_a_browser_would_run() {
    let app = spawn_app().await;
    for uri in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
    ] {
        let r = app
            .post_json(
                "/api/v1/apps",
                None,
                json!({"client_name": "Evil", "redirect_uris": uri}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        let error = body(r).await["error"].as_str().unwrap().to_owned();
        assert!(error.contains("redirect_uris may not use the"), "{error}");
    }
    // An app's own scheme and https remain fine.
    let r = app
        .post_json(
            "/api/v1/apps",
            None,
            json!({"client_name": "Phone", "redirect_uris": "myapp://oauth https://example.com/cb"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

//! The settings pages of a signed-in visitor: profile, password, sessions and authorised
//! apps, and e-mail notifications. Each section is a page of its own with one form (or a
//! form per row); every POST checks the session's anti-forgery token, calls one use case
//! and redirects back to its page (Post/Redirect/Get) with a short notice, or renders the
//! form again with the refused values and an error beside each field.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_domain::id::{now_millis, parse_id};
use starling_service::accounts::{FieldError, ProfileChanges};
use starling_service::email::EmailPreferencesUpdate;
use starling_service::{ServiceError, Starling};

use super::pages::{layout, see_other};
use super::render;
use crate::error::{WebError, WebResult};
use crate::session::{Session, SignedIn};
use crate::view::{Layout, Nav, When, scopes_in_words};

/// `?done=` after a saved form: which notice to show.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
    count: Option<usize>,
}

/// The error of `field` among `errors` (empty when it has none).
fn error_of(errors: &[FieldError], field: &str) -> String {
    errors
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn settings_layout(app: &Starling, session: &Session, title: &str) -> WebResult<Layout> {
    layout(app, Some(session), title, Nav::Settings).await
}

/// `GET /settings`: the first section.
pub(crate) async fn index(SignedIn(_): SignedIn) -> Response {
    see_other("/settings/profile")
}

// ---- Profile ----

/// The profile form's values, as stored or as last submitted.
#[derive(Debug, Clone)]
struct ProfileValues {
    display_name: String,
    note: String,
    privacy: String,
    sensitive: bool,
    language: String,
    discoverable: bool,
    bot: bool,
}

#[derive(Template)]
#[template(path = "settings_profile.html")]
struct ProfileSettingsPage {
    layout: Layout,
    section: &'static str,
    notice: String,
    values: ProfileValues,
    errors: Vec<FieldError>,
}

impl ProfileSettingsPage {
    fn error(&self, field: &str) -> String {
        error_of(&self.errors, field)
    }
}

/// `GET /settings/profile`.
pub(crate) async fn profile_page(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Done>,
) -> WebResult<Response> {
    let a = &session.account;
    render(&ProfileSettingsPage {
        layout: settings_layout(&app, &session, "Profile settings").await?,
        section: "profile",
        notice: match q.done.as_deref() {
            Some("saved") => "Your profile was saved.".to_owned(),
            _ => String::new(),
        },
        values: ProfileValues {
            display_name: a.display_name.clone(),
            note: a.note.clone(),
            privacy: a.default_privacy.clone(),
            sensitive: a.default_sensitive,
            language: a.default_language.clone().unwrap_or_default(),
            discoverable: a.discoverable,
            bot: a.bot,
        },
        errors: Vec::new(),
    })
}

/// The profile form's fields (an unticked checkbox is absent: false).
#[derive(Debug, Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    privacy: String,
    sensitive: Option<String>,
    #[serde(default)]
    language: String,
    discoverable: Option<String>,
    bot: Option<String>,
}

/// `POST /settings/profile`: saves the profile, or shows every refused field.
pub(crate) async fn save_profile(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<ProfileForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let language = form.language.trim().to_owned();
    let changes = ProfileChanges {
        display_name: Some(form.display_name.clone()),
        note: Some(form.note.clone()),
        locked: None,
        bot: Some(form.bot.is_some()),
        discoverable: Some(form.discoverable.is_some()),
        privacy: Some(form.privacy.clone()),
        sensitive: Some(form.sensitive.is_some()),
        // Empty keeps what is stored: the account simply has no default language yet.
        language: (!language.is_empty()).then(|| language.clone()),
    };
    let errors = Starling::profile_errors(&changes);
    let errors = if errors.is_empty() {
        match app.update_profile(&session.account, changes).await {
            Ok(_) => return Ok(see_other("/settings/profile?done=saved")),
            // A rule the form could not know of: shown at the top of the form.
            Err(ServiceError::Validation(message)) => vec![FieldError {
                field: "form",
                message,
            }],
            Err(e) => return Err(e.into()),
        }
    } else {
        errors
    };
    let page = ProfileSettingsPage {
        layout: settings_layout(&app, &session, "Profile settings").await?,
        section: "profile",
        notice: String::new(),
        values: ProfileValues {
            display_name: form.display_name,
            note: form.note,
            privacy: form.privacy,
            sensitive: form.sensitive.is_some(),
            language,
            discoverable: form.discoverable.is_some(),
            bot: form.bot.is_some(),
        },
        errors,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

// ---- Password ----

#[derive(Template)]
#[template(path = "settings_password.html")]
struct PasswordSettingsPage {
    layout: Layout,
    section: &'static str,
    notice: String,
    errors: Vec<FieldError>,
}

impl PasswordSettingsPage {
    fn error(&self, field: &str) -> String {
        error_of(&self.errors, field)
    }
}

/// `GET /settings/password`.
pub(crate) async fn password_page(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Done>,
) -> WebResult<Response> {
    let notice = match (q.done.as_deref(), q.count.unwrap_or(0)) {
        (Some("changed"), 0) => {
            "Your password was changed. No other session or app was signed in; this session stays signed in.".to_owned()
        }
        (Some("changed"), 1) => {
            "Your password was changed. 1 other session or app token was signed out; this session stays signed in.".to_owned()
        }
        (Some("changed"), n) => format!(
            "Your password was changed. {n} other sessions and app tokens were signed out; this session stays signed in."
        ),
        _ => String::new(),
    };
    render(&PasswordSettingsPage {
        layout: settings_layout(&app, &session, "Password").await?,
        section: "password",
        notice,
        errors: Vec::new(),
    })
}

/// The password form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /settings/password`: changes the password; every other session and app token
/// of the account is revoked, this session is kept.
pub(crate) async fn change_password(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<PasswordForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let (status, error) = if form.new_password != form.confirm_password {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            FieldError {
                field: "confirm_password",
                message: "confirm_password must repeat the new password exactly".to_owned(),
            },
        )
    } else {
        match app
            .change_password(
                &session.principal,
                &form.current_password,
                &form.new_password,
            )
            .await
        {
            Ok(n) => {
                return Ok(see_other(&format!(
                    "/settings/password?done=changed&count={n}"
                )));
            }
            Err(ServiceError::Validation(message)) => {
                let field = if message.starts_with("current_password") {
                    "current_password"
                } else {
                    "new_password"
                };
                let message = message.replacen("password must", "new_password must", 1);
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    FieldError { field, message },
                )
            }
            Err(ServiceError::RateLimited(message)) => (
                StatusCode::TOO_MANY_REQUESTS,
                FieldError {
                    field: "current_password",
                    message,
                },
            ),
            Err(e) => return Err(e.into()),
        }
    };
    let page = PasswordSettingsPage {
        layout: settings_layout(&app, &session, "Password").await?,
        section: "password",
        notice: String::new(),
        errors: vec![error],
    };
    Ok((status, render(&page)?).into_response())
}

// ---- Sessions and authorised apps ----

/// A browser session in the list.
#[derive(Debug, Clone)]
struct SessionRow {
    id: String,
    signed_in: When,
    current: bool,
}

/// An authorised app in the list.
#[derive(Debug, Clone)]
struct AppRow {
    id: String,
    name: String,
    website: Option<String>,
    can: Vec<String>,
    tokens: usize,
    first: When,
    last: When,
}

/// A script's token in the list.
#[derive(Debug, Clone)]
struct ScriptRow {
    id: String,
    issued: When,
    can: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings_sessions.html")]
struct SessionsPage {
    layout: Layout,
    section: &'static str,
    notice: String,
    sessions: Vec<SessionRow>,
    apps: Vec<AppRow>,
    scripts: Vec<ScriptRow>,
}

/// Only http(s) web sites become links (an app registers any text it likes).
fn web_link(site: Option<&str>) -> Option<String> {
    site.filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .map(str::to_owned)
}

/// `GET /settings/sessions`: browser sessions, authorised apps and scripts' tokens.
pub(crate) async fn sessions_page(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Done>,
) -> WebResult<Response> {
    let list = app.access_list(&session.principal).await?;
    let now = now_millis();
    let current = session.principal.token_id;
    render(&SessionsPage {
        layout: settings_layout(&app, &session, "Sessions and apps").await?,
        section: "sessions",
        notice: match q.done.as_deref() {
            Some("session") => "The session was signed out.".to_owned(),
            Some("app") => "The app's access was revoked.".to_owned(),
            Some("token") => "The token was revoked.".to_owned(),
            _ => String::new(),
        },
        sessions: list
            .sessions
            .iter()
            .map(|t| SessionRow {
                id: t.id.to_string(),
                signed_in: When::new(t.created_at, now),
                current: t.id == current,
            })
            .collect(),
        apps: list
            .apps
            .iter()
            .map(|a| AppRow {
                id: a.app_id.to_string(),
                name: a.name.clone(),
                website: web_link(a.website.as_deref()),
                can: scopes_in_words(&a.scopes),
                tokens: a.tokens,
                first: When::new(a.first_at, now),
                last: When::new(a.last_at, now),
            })
            .collect(),
        scripts: list
            .scripts
            .iter()
            .map(|t| ScriptRow {
                id: t.id.to_string(),
                issued: When::new(t.created_at, now),
                can: scopes_in_words(&t.scopes),
            })
            .collect(),
    })
}

/// `POST /settings/sessions/{id}/revoke`: signs out one session (or a script's token)
/// of this account; another account's id is not found.
pub(crate) async fn revoke_session(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<super::actions::TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    app.revoke_own_token(&session.principal, id).await?;
    if id == session.principal.token_id {
        // The visitor revoked the session they are using: that is a sign-out.
        return Ok(see_other("/sign-in"));
    }
    Ok(see_other("/settings/sessions?done=session"))
}

/// `POST /settings/apps/{id}/revoke`: revokes every token the app holds for this account.
pub(crate) async fn revoke_app(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<super::actions::TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    app.revoke_own_app(&session.principal, id).await?;
    Ok(see_other("/settings/sessions?done=app"))
}

// ---- E-mail notifications ----

#[derive(Template)]
#[template(path = "settings_email.html")]
struct EmailSettingsPage {
    layout: Layout,
    section: &'static str,
    notice: String,
    enabled: bool,
    mention: bool,
    direct: bool,
    follow: bool,
    digest: bool,
}

/// `GET /settings/email`.
pub(crate) async fn email_page(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Done>,
) -> WebResult<Response> {
    let prefs = app.email_preferences(&session.principal).await?;
    render(&EmailSettingsPage {
        layout: settings_layout(&app, &session, "E-mail notifications").await?,
        section: "email",
        notice: match q.done.as_deref() {
            Some("saved") => "Your e-mail preferences were saved.".to_owned(),
            _ => String::new(),
        },
        enabled: app.email_enabled(),
        mention: prefs.mention,
        direct: prefs.direct,
        follow: prefs.follow,
        digest: prefs.digest,
    })
}

/// The e-mail form's checkboxes (absent: off).
#[derive(Debug, Deserialize)]
pub(crate) struct EmailForm {
    #[serde(default)]
    csrf: String,
    mention: Option<String>,
    direct: Option<String>,
    follow: Option<String>,
    digest: Option<String>,
}

/// `POST /settings/email`: sets all four switches as the form shows them.
pub(crate) async fn save_email(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<EmailForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    app.update_email_preferences(
        &session.principal,
        EmailPreferencesUpdate {
            mention: Some(form.mention.is_some()),
            direct: Some(form.direct.is_some()),
            follow: Some(form.follow.is_some()),
            digest: Some(form.digest.is_some()),
        },
    )
    .await?;
    Ok(see_other("/settings/email?done=saved"))
}

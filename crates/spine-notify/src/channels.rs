//! Sending one message over one channel, and what a failure means for retrying.
//!
//! - webhook: `POST` of the JSON body with `Content-Type: application/json`,
//!   `X-Spine-Delivery: <delivery id>` and `X-Spine-Signature: sha256=<hex>`, the HMAC-SHA256 of
//!   the exact body bytes under the subscription's secret;
//! - slack: `POST` of `{"text": ...}` to an incoming-webhook URL;
//! - email: SMTP through the server of [`SmtpSettings`], STARTTLS whenever the server offers it.
//!
//! Retryable: HTTP 5xx, 429, timeouts and connection errors, and every SMTP error (a mail server
//! refusing now may accept later). Not retryable: any other HTTP 4xx (the receiver says the
//! request itself is wrong; sending it again cannot help).

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;

use crate::message::Email;

/// The header carrying the delivery id.
pub const DELIVERY_HEADER: &str = "X-Spine-Delivery";
/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Spine-Signature";

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as `X-Spine-Signature` carries it.
/// Receivers compute the same over the raw body they received and compare.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature` (`sha256=<hex>`) is the signature of `body` under `secret`, compared in
/// constant time: what a receiver does.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex_part) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_part) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Why one send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// What went wrong, for the delivery log.
    pub message: String,
    /// The HTTP status or SMTP code, when the other side answered.
    pub status: Option<i32>,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

/// Where and how email is sent: an `smtp://` or `smtps://` URL.
///
/// `smtp://[user@]host[:port]` uses STARTTLS when the server offers it (opportunistic);
/// `?tls=required` refuses a server without it; `smtps://` is TLS from the first byte (port 465);
/// `?tls=none` never upgrades (loopback test sinks). `?from=addr` sets the sender (default
/// `spine@localhost`). The password is never in the URL: it is read from the subscription's
/// `--secret-env` variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// The server's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The user to log in as, if any.
    pub user: Option<String>,
    /// How TLS is used.
    pub tls: SmtpTls,
    /// The sender address.
    pub from: String,
}

/// How an SMTP connection uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS when offered, plain otherwise.
    Opportunistic,
    /// STARTTLS or fail.
    Required,
    /// TLS from the first byte.
    Wrapper,
    /// Never (loopback only, tests).
    None,
}

impl SmtpSettings {
    /// Parses an `smtp://` / `smtps://` URL (see the type's documentation).
    pub fn parse(url: &str) -> Result<SmtpSettings, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let wrapper = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(format!(
                    "`{url}`: the SMTP server URL must start with smtp:// or smtps://, not {other}://"
                ));
            }
        };
        if parsed.password().is_some() {
            return Err(
                "the SMTP URL must not hold a password: name the variable that holds it with \
                 --secret-env"
                    .to_string(),
            );
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{url}` names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let mut tls = if wrapper {
            SmtpTls::Wrapper
        } else {
            SmtpTls::Opportunistic
        };
        let mut from = "spine@localhost".to_string();
        for (k, v) in parsed.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "required") => tls = SmtpTls::Required,
                ("tls", "opportunistic") => tls = SmtpTls::Opportunistic,
                ("tls", "none") => tls = SmtpTls::None,
                ("from", addr) => {
                    addr.parse::<Mailbox>()
                        .map_err(|e| format!("`from={addr}` is not an email address: {e}"))?;
                    from = addr.to_string();
                }
                (k, v) => {
                    return Err(format!(
                        "`{url}`: unknown parameter `{k}={v}` (accepted: tls=required|opportunistic|none, from=ADDRESS)"
                    ));
                }
            }
        }
        let port = parsed.port().unwrap_or(if wrapper { 465 } else { 587 });
        let user = (!parsed.username().is_empty()).then(|| parsed.username().to_string());
        Ok(SmtpSettings {
            host,
            port,
            user,
            tls,
            from,
        })
    }
}

/// Whether `addr` is an email address lettre can send to.
pub fn valid_address(addr: &str) -> Result<(), String> {
    addr.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("`{addr}` is not an email address: {e}"))
}

/// Whether `target` is an http(s) URL with a host and no password in it.
pub fn valid_http_url(target: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(target).map_err(|e| format!("`{target}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{target}` is not an http:// or https:// URL with a host"
        ));
    }
    if url.password().is_some() {
        return Err(
            "the URL holds a password: name a variable with --secret-env instead".to_string(),
        );
    }
    Ok(())
}

/// Builds the HTTP client every send of one pass uses.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    #[cfg(feature = "https")]
    {
        // An `Err` only means some provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .user_agent(concat!("market-spine/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// POSTs `body` as JSON to `url` with the delivery id and, when `secret` is given, the signature.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    delivery_id: &str,
    body: Vec<u8>,
    secret: Option<&[u8]>,
) -> Result<i32, SendFailure> {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(DELIVERY_HEADER, delivery_id);
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, &body));
    }
    match request.body(body).send().await {
        Ok(response) => {
            let status = response.status();
            let code = i32::from(status.as_u16());
            if status.is_success() {
                return Ok(code);
            }
            let retryable = status.is_server_error() || code == 429;
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            Err(SendFailure {
                message: format!("HTTP {status} from the receiver: {}", text.trim()),
                status: Some(code),
                retryable,
            })
        }
        Err(e) => Err(SendFailure {
            message: if e.is_timeout() {
                format!("timed out: {}", error_chain(&e))
            } else {
                format!("request failed: {}", error_chain(&e))
            },
            status: None,
            retryable: true,
        }),
    }
}

/// Sends `email` to `to` through `smtp`, logging in as the URL's user with `password` if given.
/// The Message-ID carries the delivery id, so a mailbox can spot a duplicate.
pub async fn send_email(
    smtp: &SmtpSettings,
    password: Option<&str>,
    to: &str,
    delivery_id: &str,
    email: &Email,
    timeout: Duration,
) -> Result<i32, SendFailure> {
    let permanent = |message: String| SendFailure {
        message,
        status: None,
        retryable: false,
    };
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| permanent(format!("bad sender `{}`: {e}", smtp.from)))?;
    let to_box: Mailbox = to
        .parse()
        .map_err(|e| permanent(format!("bad recipient `{to}`: {e}")))?;
    let message = Message::builder()
        .from(from)
        .to(to_box)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{delivery_id}@market-spine>")))
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| permanent(format!("cannot build the email: {e}")))?;
    let _ = ContentType::TEXT_PLAIN;
    let tls_params = || {
        TlsParameters::new(smtp.host.clone()).map_err(|e| SendFailure {
            message: format!("TLS setup for {}: {e}", smtp.host),
            status: None,
            retryable: false,
        })
    };
    let tls = match smtp.tls {
        SmtpTls::Opportunistic => Tls::Opportunistic(tls_params()?),
        SmtpTls::Required => Tls::Required(tls_params()?),
        SmtpTls::Wrapper => Tls::Wrapper(tls_params()?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&smtp.user, password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
    }
    let transport = builder.build();
    match transport.send(message).await {
        Ok(response) => Ok(response.code().to_string().parse().unwrap_or(250)),
        Err(e) => Err(SendFailure {
            status: e.status().and_then(|c| c.to_string().parse().ok()),
            message: format!("SMTP: {}", error_chain(&e)),
            retryable: true,
        }),
    }
}

/// An error and its sources, joined: the useful part of a network error is usually its cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

//! Email through an SMTP relay (lettre's async transport, rustls for TLS).
//!
//! The relay is the organisation's own (a local MTA, the mail gateway, or a
//! submission service): Riposte speaks plain SMTP, STARTTLS or implicit
//! TLS to it, optionally authenticated, and never runs a local `sendmail`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the relay is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on this host or a trusted segment.
    None,
    /// Plain connection upgraded with STARTTLS; refused if the relay does
    /// not offer it (no silent downgrade).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl SmtpTls {
    pub const NAMES: &'static str = "none, starttls, tls";

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "starttls" => Some(Self::Starttls),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }

    /// The port a relay usually listens on with this security.
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

/// `notify.smtp` in riposte.yaml, validated: the sender parses as a
/// mailbox, and the password was read from its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The `From:` mailbox, e.g. `Riposte <riposte@example.org>`.
    pub from: String,
    /// Bounds the whole conversation with the relay.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches logs or debug output.
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One message: a plain-text body, and optionally an HTML alternative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0:?} is not an email address")]
    Address(String),
    #[error("a message needs at least one recipient")]
    NoRecipient,
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP relay {relay}: {message}")]
    Send { relay: String, message: String },
}

/// Parses an address as lettre does when sending, for configuration checks.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, NotifyError> {
    text.parse::<Mailbox>()
        .map_err(|_| NotifyError::Address(text.to_owned()))
}

/// Sends mail through one relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    relay: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, NotifyError> {
        let relay = format!("{}:{}", config.host, config.port);
        let send_err = |e: lettre::transport::smtp::Error| NotifyError::Send {
            relay: relay.clone(),
            message: e.to_string(),
        };
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(send_err)?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(send_err)?
            }
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some(user) = &config.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: parse_mailbox(&config.from)?,
            relay,
        })
    }

    /// Sends `mail`; the error names the relay and what it answered.
    pub async fn send(&self, mail: &Mail) -> Result<(), NotifyError> {
        self.send_with_id(mail, None).await
    }

    /// Sends `mail` with the Message-ID `<unique@sender's domain>`: the
    /// same `unique` for a message sent again (a playbook step retried
    /// after a crash) lets receivers and archives drop the repeat.
    /// `unique` keeps only characters a Message-ID allows.
    pub async fn send_with_id(&self, mail: &Mail, unique: Option<&str>) -> Result<(), NotifyError> {
        let message = self.build_with_id(mail, unique)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| NotifyError::Send {
                relay: self.relay.clone(),
                message: e.to_string(),
            })?;
        tracing::debug!(relay = %self.relay, to = ?mail.to, "mail sent");
        Ok(())
    }

    #[cfg(test)]
    fn build(&self, mail: &Mail) -> Result<Message, NotifyError> {
        self.build_with_id(mail, None)
    }

    fn build_with_id(&self, mail: &Mail, unique: Option<&str>) -> Result<Message, NotifyError> {
        if mail.to.is_empty() {
            return Err(NotifyError::NoRecipient);
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(one_line(&mail.subject));
        if let Some(unique) = unique {
            let left: String = unique
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            builder = builder.message_id(Some(format!("<{left}@{}>", self.from.email.domain())));
        }
        for to in &mail.to {
            builder = builder.to(parse_mailbox(to)?);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone());
        let result = match &mail.html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
            None => builder.singlepart(text),
        };
        result.map_err(|e| NotifyError::Build(e.to_string()))
    }
}

/// A header value on one line: text that reaches a subject (rule titles,
/// attacker-chosen user names) must not start new headers.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(port: u16) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Riposte <riposte@example.org>".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn subjects_stay_on_one_line() {
        assert_eq!(
            one_line("ban\r\nBcc: victim@example.org"),
            "ban  Bcc: victim@example.org"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        let mut c = config(25);
        c.password = Some("hunter2hunter2".into());
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[tokio::test]
    async fn sends_text_and_html_alternatives_to_every_recipient() {
        let sink = riposte_testkit::SmtpSink::start();
        let mailer = Mailer::new(&config(sink.port())).unwrap();
        mailer
            .send(&Mail {
                to: vec!["soc@example.org".into(), "Lead <lead@example.org>".into()],
                subject: "Riposte digest\nBcc: x@example.org".into(),
                text: "2 automated decisions".into(),
                html: Some("<p>2 automated decisions</p>".into()),
            })
            .await
            .unwrap();
        let got = sink.messages();
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m.from, "riposte@example.org");
        assert_eq!(m.to, vec!["soc@example.org", "lead@example.org"]);
        assert_eq!(
            m.header("Subject").as_deref(),
            Some("Riposte digest Bcc: x@example.org")
        );
        assert_eq!(m.header("Bcc"), None);
        assert!(m.data.contains("multipart/alternative"), "{}", m.data);
        assert_eq!(
            m.parts(),
            [
                (
                    "text/plain; charset=utf-8".to_owned(),
                    "2 automated decisions".to_owned()
                ),
                (
                    "text/html; charset=utf-8".to_owned(),
                    "<p>2 automated decisions</p>".to_owned()
                ),
            ]
        );
    }

    #[tokio::test]
    async fn authenticates_when_a_user_is_configured() {
        let sink = riposte_testkit::SmtpSink::start();
        let mut c = config(sink.port());
        c.username = Some("riposte".into());
        c.password = Some("s3cret-pass".into());
        Mailer::new(&c)
            .unwrap()
            .send(&Mail {
                to: vec!["soc@example.org".into()],
                subject: "s".into(),
                text: "t".into(),
                html: None,
            })
            .await
            .unwrap();
        assert_eq!(
            sink.messages()[0].auth.as_deref(),
            Some("riposte:s3cret-pass")
        );
    }

    #[tokio::test]
    async fn a_refusing_relay_is_an_error_naming_it() {
        let sink = riposte_testkit::SmtpSink::start();
        sink.refuse_recipients();
        let err = Mailer::new(&config(sink.port()))
            .unwrap()
            .send(&Mail {
                to: vec!["soc@example.org".into()],
                subject: "s".into(),
                text: "t".into(),
                html: None,
            })
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("SMTP relay 127.0.0.1:{}: ", sink.port())),
            "{text}"
        );
        assert!(text.contains("550"), "{text}");
        assert!(sink.messages().is_empty());
    }

    #[test]
    fn bad_addresses_are_named() {
        let mailer = Mailer::new(&config(25)).unwrap();
        let err = mailer
            .build(&Mail {
                to: vec!["not an address".into()],
                subject: "s".into(),
                text: "t".into(),
                html: None,
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"not an address\" is not an email address"
        );
        assert!(matches!(
            mailer.build(&Mail {
                to: vec![],
                subject: "s".into(),
                text: "t".into(),
                html: None
            }),
            Err(NotifyError::NoRecipient)
        ));
    }
}

//! A real SMTP server on loopback that keeps what it receives: the relay
//! that tests of email delivery talk to (RFC 5321 commands, AUTH PLAIN and
//! LOGIN, dot-unstuffed DATA). Threads, not an async runtime, so a test of
//! any kind can start one.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One message as the sink received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub to: Vec<String>,
    /// The message as sent after `DATA`: headers, blank line, body (CRLF
    /// line ends, dot-stuffing removed).
    pub data: String,
    /// `user:password` when the client authenticated.
    pub auth: Option<String>,
}

impl ReceivedMail {
    /// The first header named `name` (case-insensitive), unfolded and with
    /// RFC 2047 encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        header_in(head_of(&self.data), name).map(|v| decode_words(&v))
    }

    /// The leaf parts of the message as (content type, decoded body):
    /// multipart bodies are split at their boundaries, base64 and
    /// quoted-printable bodies decoded.
    pub fn parts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        collect_parts(&self.data, &mut out);
        out
    }

    /// The decoded body of the first part whose content type starts with
    /// `mime` (`text/plain`, `text/html`).
    pub fn body(&self, mime: &str) -> Option<String> {
        self.parts()
            .into_iter()
            .find(|(t, _)| t.starts_with(mime))
            .map(|(_, b)| b)
    }
}

fn head_of(entity: &str) -> &str {
    entity.split("\r\n\r\n").next().unwrap_or("")
}

fn header_in(head: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            found = Some(v.trim().to_owned());
        }
    }
    found
}

/// `=?charset?B|Q?text?=` words decoded (as UTF-8); whitespace between two
/// encoded words dropped, as RFC 2047 says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        let decoded = word[2..].splitn(3, '?').collect::<Vec<_>>();
        let end = decoded
            .get(2)
            .and_then(|t| t.find("?="))
            .filter(|_| decoded.len() == 3);
        let Some(end) = end else { break };
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let text = &decoded[2][..end];
        let bytes = match decoded[1] {
            "B" | "b" => STANDARD.decode(text).unwrap_or_default(),
            _ => quoted_printable(&text.replace('_', " ")),
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        let consumed = 2 + decoded[0].len() + 1 + decoded[1].len() + 1 + end + 2;
        rest = &word[consumed..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if let Some(h) = text.get(i + 1..i + 3)
                && let Ok(b) = u8::from_str_radix(h, 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn collect_parts(entity: &str, out: &mut Vec<(String, String)>) {
    let (head, body) = entity.split_once("\r\n\r\n").unwrap_or((entity, ""));
    let ctype = header_in(head, "Content-Type").unwrap_or_else(|| "text/plain".to_owned());
    if ctype.to_ascii_lowercase().starts_with("multipart/") {
        let Some(boundary) = ctype
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .map(|b| b.trim_matches('"').to_owned())
        else {
            return;
        };
        let delimiter = format!("--{boundary}");
        for part in body.split(delimiter.as_str()).skip(1) {
            if part.starts_with("--") {
                break;
            }
            collect_parts(part.trim_start_matches("\r\n"), out);
        }
        return;
    }
    let encoding = header_in(head, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap_or_default(),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let text = String::from_utf8_lossy(&bytes);
    out.push((ctype, text.strip_suffix("\r\n").unwrap_or(&text).to_owned()));
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<ReceivedMail>>,
    refuse_recipients: AtomicBool,
}

/// The sink; it stops accepting when dropped.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("port", &self.port)
            .finish()
    }
}

impl SmtpSink {
    /// Listens on 127.0.0.1, on a port of the system's choosing.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = session(conn, &s);
                });
            }
        });
        Self { port, shared, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared
            .messages
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// From now on, answer every `RCPT TO` with 550 (a relay refusing to
    /// deliver).
    pub fn refuse_recipients(&self) {
        self.shared.refuse_recipients.store(true, Ordering::Relaxed);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn decode(b64: &str) -> String {
    STANDARD
        .decode(b64.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn angle(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(arg, |(addr, _)| addr);
    inner.to_owned()
}

fn session(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut input = BufReader::new(conn);
    let mut line = String::new();
    let read = |input: &mut BufReader<TcpStream>, line: &mut String| {
        line.clear();
        input.read_line(line).map(|n| n > 0)
    };
    out.write_all(b"220 sink.test ESMTP riposte-testkit\r\n")?;
    let (mut from, mut to, mut auth) = (String::new(), Vec::new(), None);
    while read(&mut input, &mut line)? {
        let cmd = line.trim_end_matches(['\r', '\n']).to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 sink.test\r\n")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let mut b64 = cmd[10..].trim().to_owned();
            if b64.is_empty() {
                out.write_all(b"334 \r\n")?;
                read(&mut input, &mut line)?;
                b64 = line.trim().to_owned();
            }
            let plain = decode(&b64);
            let mut parts = plain.split('\0').skip(1);
            auth = Some(format!(
                "{}:{}",
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("")
            ));
            out.write_all(b"235 2.7.0 accepted\r\n")?;
        } else if upper.starts_with("AUTH LOGIN") {
            out.write_all(b"334 VXNlcm5hbWU6\r\n")?;
            read(&mut input, &mut line)?;
            let user = decode(&line);
            out.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
            read(&mut input, &mut line)?;
            auth = Some(format!("{user}:{}", decode(&line)));
            out.write_all(b"235 2.7.0 accepted\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&cmd[10..]);
            to.clear();
            out.write_all(b"250 2.1.0 ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            if shared.refuse_recipients.load(Ordering::Relaxed) {
                out.write_all(b"550 5.1.1 mailbox unavailable\r\n")?;
            } else {
                to.push(angle(&cmd[8..]));
                out.write_all(b"250 2.1.5 ok\r\n")?;
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                out.write_all(b"554 5.5.1 no valid recipients\r\n")?;
                continue;
            }
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = String::new();
            while read(&mut input, &mut line)? {
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push_str("\r\n");
            }
            if let Ok(mut m) = shared.messages.lock() {
                m.push(ReceivedMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                    auth: auth.clone(),
                });
            }
            out.write_all(b"250 2.0.0 queued\r\n")?;
        } else if upper == "RSET" {
            to.clear();
            out.write_all(b"250 2.0.0 ok\r\n")?;
        } else if upper == "NOOP" {
            out.write_all(b"250 2.0.0 ok\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 2.0.0 bye\r\n")?;
            break;
        } else {
            out.write_all(b"502 5.5.2 command not recognized\r\n")?;
        }
    }
    Ok(())
}

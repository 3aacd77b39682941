//! Why a record could not be decoded. The message becomes a dead letter's
//! `reason`, so it quotes the bad value (cut short, so a hostile line cannot
//! blow up the reason) and says what was expected.

/// Why one record could not be turned into an event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid UTF-8 at byte {at}")]
    InvalidUtf8 { at: usize },
    /// The record ended inside a JSON value: usually a line cut by the writer
    /// or by a crash, rather than a decoder bug.
    #[error("truncated JSON: {0}")]
    TruncatedJson(serde_json::Error),
    #[error("invalid JSON: {0}")]
    InvalidJson(serde_json::Error),
    /// Valid JSON of the wrong shape (an array, a string, an `alert` that is
    /// not an object, …). serde quotes a string of the wrong type in full,
    /// so the message is cut in the middle.
    #[error("not an EVE record: {}", clip_middle(&.0.to_string()))]
    NotEveRecord(serde_json::Error),
    /// A JSON array where an object was expected. Checked before serde,
    /// which would otherwise read an array of the right length positionally.
    #[error("not an EVE record: expected a JSON object, found an array")]
    ArrayNotObject,
    #[error("missing field \"{0}\"")]
    MissingField(&'static str),
    #[error("field \"{field}\" must be {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("field \"{field}\" is not an IP address: {value:?}")]
    InvalidIp { field: &'static str, value: String },
    /// Suricata grows new event types; refusing unknown ones keeps them in
    /// the dead-letter store, replayable once a decoder knows them, instead of
    /// half-decoding them.
    #[error("unsupported suricata event_type {0:?}")]
    UnsupportedEventType(String),
    #[error("invalid timestamp {value:?} (expected {expected})")]
    InvalidTimestamp {
        value: String,
        expected: &'static str,
    },
    #[error("not a syslog line: {0}")]
    NotSyslog(String),
    /// A JSON format got valid JSON that is not an object.
    #[error("expected a JSON object, found {0}")]
    NotObject(&'static str),
    /// A record of the right syntax that the format's decoder cannot read;
    /// `format` names the format, `reason` says what is wrong.
    #[error("not a {format} record: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
}

impl DecodeError {
    /// Sorts serde_json's errors so the reason says whether the line was cut,
    /// malformed, or well-formed JSON of the wrong shape.
    pub(crate) fn from_json(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof => DecodeError::TruncatedJson(e),
            Category::Syntax | Category::Io => DecodeError::InvalidJson(e),
            Category::Data => DecodeError::NotEveRecord(e),
        }
    }
}

/// A format name that is not one of [`crate::Format::ALL`].
#[derive(Debug)]
pub struct UnknownFormat(pub String);

impl std::fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown format {:?} (valid: ", self.0)?;
        for (i, format) in crate::Format::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(format.as_str())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for UnknownFormat {}

/// The longest piece of input quoted in an error message.
const QUOTE_MAX: usize = 64;

/// Cuts untrusted text for quoting in a message, on a character boundary,
/// marking the cut with `…`.
pub(crate) fn clip(s: &str) -> String {
    if s.len() <= QUOTE_MAX {
        return s.to_owned();
    }
    let mut end = QUOTE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The longest message of someone else's (serde's) kept whole in a reason.
const MESSAGE_MAX: usize = 160;

/// Cuts a message that may quote untrusted text at any length, keeping its
/// start and its end (serde's end says what was expected, and where): the
/// first [`QUOTE_MAX`] bytes, `…`, and the rest up to [`MESSAGE_MAX`] from
/// the end, on character boundaries.
pub(crate) fn clip_middle(s: &str) -> String {
    if s.len() <= MESSAGE_MAX {
        return s.to_owned();
    }
    let mut head = QUOTE_MAX;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - (MESSAGE_MAX - QUOTE_MAX);
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{}", &s[..head], &s[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_on_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(40); // 80 bytes
        let cut = clip(&long);
        assert_eq!(cut, format!("{}…", "é".repeat(32)));
    }

    #[test]
    fn clip_middle_keeps_both_ends_on_char_boundaries() {
        let short = "x".repeat(MESSAGE_MAX);
        assert_eq!(clip_middle(&short), short);
        let long = format!("{}{}{}", "a".repeat(63), "é".repeat(100), "z".repeat(95));
        assert_eq!(
            clip_middle(&long),
            format!("{}…{}", "a".repeat(63), "z".repeat(95))
        );
    }

    #[test]
    fn format_list_in_message_matches_all() {
        let names: Vec<&str> = crate::Format::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            UnknownFormat("x".into()).to_string(),
            format!("unknown format \"x\" (valid: {})", names.join(", "))
        );
    }
}

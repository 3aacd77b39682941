use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Input that could not be turned into an event, kept with the reason so that
/// nothing is lost silently and the decoder can be fixed and the input
/// replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub received_at: Timestamp,
    /// The source's name (a file path, `http`, …).
    pub source: String,
    /// Byte offset of the record in the source, when it has offsets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Which decoder refused it.
    pub format: String,
    pub reason: String,
    /// The raw bytes, cut to a bounded prefix; `raw_len` is the full length.
    #[serde(with = "lossy_bytes")]
    pub raw: Vec<u8>,
    pub raw_len: u64,
}

impl DeadLetter {
    /// The most raw bytes kept per dead letter; enough to see what went wrong
    /// without letting a 10 MB line fill the store.
    pub const MAX_RAW: usize = 4096;

    pub fn new(
        received_at: Timestamp,
        source: &str,
        offset: Option<u64>,
        format: &str,
        reason: impl Into<String>,
        raw: &[u8],
        raw_len: u64,
    ) -> Self {
        Self {
            received_at,
            source: source.to_owned(),
            offset,
            format: format.to_owned(),
            reason: reason.into(),
            raw: raw[..raw.len().min(Self::MAX_RAW)].to_vec(),
            raw_len,
        }
    }
}

/// Raw bytes appear in JSON as text with invalid UTF-8 replaced, because the
/// API's readers want to see them; the store keeps the exact bytes.
mod lossy_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(raw))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

//! What the TAXII server shares and with whom: the validated form of the
//! `taxii:` section of riposte.yaml, which `riposte-service` parses (its
//! `taxii_config.rs`). Kept here, with the server that serves it, so the
//! routers need no configuration parser.

use std::net::SocketAddr;

use riposte_model::{IndicatorKind, Tlp};

/// What `riposte serve` shares over TAXII (present only when enabled).
#[derive(Clone, Debug, PartialEq)]
pub struct TaxiiConfig {
    /// The discovery resource's title.
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// A listener of its own; `None` serves TAXII beside the REST API.
    pub listen: Option<SocketAddr>,
    pub collections: Vec<TaxiiCollection>,
    pub clients: Vec<TaxiiClient>,
}

/// One read-only collection: a view of the indicator store.
#[derive(Clone, Debug, PartialEq)]
pub struct TaxiiCollection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// Only these feeds (empty: every feed).
    pub feeds: Vec<String>,
    /// Only these kinds (empty: every kind).
    pub kinds: Vec<IndicatorKind>,
    /// The most restrictive TLP served; never `red`.
    pub max_tlp: Tlp,
}

/// A partner allowed to read some collections.
#[derive(Clone, PartialEq, Eq)]
pub struct TaxiiClient {
    /// Also the HTTP Basic user name.
    pub name: String,
    /// SHA-256 of the token (the Bearer token or the Basic password).
    pub token_sha256: [u8; 32],
    /// Ids of the collections it may read.
    pub collections: Vec<String>,
}

impl std::fmt::Debug for TaxiiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a token's digest stays out of logs.
        f.debug_struct("TaxiiClient")
            .field("name", &self.name)
            .field("token_sha256", &"<redacted>")
            .field("collections", &self.collections)
            .finish()
    }
}

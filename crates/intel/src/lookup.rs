//! What every feed says about one value, as the matcher would see it: the
//! value itself, every network containing an address, and every parent of
//! a domain (parents count only when their indicator covers subdomains).
//! `riposte intel lookup` and the playbook action `enrich.intel` share it.

use riposte_model::{Indicator, IndicatorKind};
use riposte_store::Store;

use crate::import::csv::guess_kind;
use crate::normalize::{BadValue, normalize};

/// A value looked up, normalized, and the indicators that cover it.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub kind: IndicatorKind,
    pub value: String,
    pub found: Vec<Indicator>,
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    BadValue(#[from] BadValue),
    #[error(transparent)]
    Store(#[from] riposte_store::StoreError),
}

/// Looks `value` up in the store (`kind` guessed from its shape when not
/// given).
pub async fn lookup(
    store: &dyn Store,
    kind: Option<IndicatorKind>,
    value: &str,
) -> Result<Lookup, LookupError> {
    let kind = kind.unwrap_or_else(|| guess_kind(value));
    let (kind, normalized) = normalize(kind, value)?;
    let mut found = store.lookup_indicators(kind, &normalized).await?;
    if let Ok(ip) = normalized.parse::<std::net::IpAddr>() {
        for len in (0..=if ip.is_ipv4() { 32 } else { 128 }).rev() {
            if let Ok(net) = ipnet::IpNet::new(ip, len) {
                let net = net.trunc().to_string();
                found.extend(store.lookup_indicators(IndicatorKind::Cidr, &net).await?);
            }
        }
    } else if kind == IndicatorKind::Domain {
        let mut rest = normalized.as_str();
        while let Some(i) = rest.find('.') {
            rest = &rest[i + 1..];
            let parents = store.lookup_indicators(IndicatorKind::Domain, rest).await?;
            found.extend(parents.into_iter().filter(|p| p.subdomains));
        }
    }
    Ok(Lookup {
        kind,
        value: normalized.to_string(),
        found,
    })
}

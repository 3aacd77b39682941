//! The in-memory matcher: every indicator, keyed for a constant number of
//! lookups per event field.
//!
//! - addresses: a hash map per family keyed by the address as an integer;
//! - networks: a prefix trie per family (`prefix-trie`), whose `cover`
//!   walk yields every network containing an address;
//! - hashes and JA3/JA3S: hash maps keyed by the raw digest bytes;
//! - domains, URLs, emails, user agents, file names: [`StrTable`]s, keys in
//!   one arena per kind. A domain is looked up whole, then each parent
//!   (`a.b.example` → `b.example` → `example`) — the suffix walk, one hash
//!   probe per label — where only indicators that cover subdomains count.
//!
//! Each key points at a chain of [`Entry`]s, one per feed that lists it
//! (12 bytes each). What an entry says — feed, confidence, TLP, tags — is a
//! shared [`Context`]: a feed's indicators mostly say the same thing, so
//! contexts are interned and reference-counted.

use std::collections::HashMap as StdHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use compact_str::{CompactString, ToCompactString};
use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use riposte_model::{Confidence, Indicator, IndicatorKind, Pap, Timestamp, Tlp};

use crate::normalize::{self, BadValue};
use crate::strtable::{StrTable, TableFull};

const NONE: u32 = u32::MAX;

/// What one feed says about an indicator, shared by all indicators that
/// say the same. `first_seen`/`last_seen` are not kept in memory (they are
/// in the store); `valid_until` is per entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Context {
    pub feed: CompactString,
    pub confidence: Confidence,
    pub tlp: Tlp,
    pub pap: Pap,
    pub to_ids: bool,
    pub subdomains: bool,
    pub tags: Box<[String]>,
    pub description: Option<Box<str>>,
    pub reference: Option<Box<str>>,
}

impl Context {
    fn of(ind: &Indicator) -> Self {
        Self {
            feed: ind.feed.clone(),
            confidence: ind.confidence,
            tlp: ind.tlp,
            pap: ind.pap,
            to_ids: ind.to_ids,
            subdomains: ind.subdomains,
            tags: ind.tags.clone().into_boxed_slice(),
            description: ind.description.as_deref().map(Box::from),
            reference: ind.reference.as_deref().map(Box::from),
        }
    }
}

/// One indicator of one feed: 12 bytes.
#[derive(Clone, Copy, Debug)]
struct Entry {
    ctx: u32,
    /// Seconds since the Unix epoch after which the entry never matches
    /// (rounded down, so it lapses at most a second early); `u32::MAX` for
    /// never (or after 2106).
    until: u32,
    /// The next entry for the same key (another feed), or `NONE`.
    next: u32,
}

/// A value an index lookup is keyed by.
#[derive(Clone, Copy, Debug)]
enum Key<'a> {
    V4(u32),
    V6(u128),
    Net4(Ipv4Net),
    Net6(Ipv6Net),
    H16(IndicatorKind, [u8; 16]),
    H20([u8; 20]),
    H32([u8; 32]),
    Str(IndicatorKind, &'a str),
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    BadValue(#[from] BadValue),
    #[error("{0}")]
    Full(#[from] TableFull),
    #[error("more than 4 billion indicators")]
    TooMany,
}

/// One indicator that matched an event value.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub kind: IndicatorKind,
    /// The indicator's value: the address, the network that contains it, the
    /// domain or parent domain, the normalized URL…
    pub indicator: CompactString,
    /// The event field that carried the value, and the value as it was there.
    pub field: CompactString,
    pub observed: CompactString,
    pub context: Arc<Context>,
}

/// Every indicator Riposte matches events against. Not internally locked:
/// the service keeps it behind an `RwLock` that the pipeline reads and feed
/// updates write.
#[derive(Debug, Default)]
pub struct IntelIndex {
    entries: Vec<Entry>,
    free: Vec<u32>,
    contexts: Vec<Option<Arc<Context>>>,
    context_refs: Vec<u32>,
    context_ids: StdHashMap<Arc<Context>, u32>,
    free_contexts: Vec<u32>,
    v4: HashMap<u32, u32>,
    v6: HashMap<u128, u32>,
    net4: PrefixMap<Ipv4Net, u32>,
    net6: PrefixMap<Ipv6Net, u32>,
    md5: HashMap<[u8; 16], u32>,
    ja3: HashMap<[u8; 16], u32>,
    ja3s: HashMap<[u8; 16], u32>,
    sha1: HashMap<[u8; 20], u32>,
    sha256: HashMap<[u8; 32], u32>,
    domains: StrTable,
    urls: StrTable,
    emails: StrTable,
    user_agents: StrTable,
    filenames: StrTable,
    /// Whether any domain entry covers subdomains: if none does, the
    /// parent-domain walk is skipped.
    subdomain_entries: u64,
    live: usize,
}

/// Event fields read besides the observables, for the kinds no observable
/// carries.
const EXTRA_FIELDS: &[(&str, IndicatorKind)] = &[
    ("tls.client.ja3", IndicatorKind::Ja3),
    ("tls.server.ja3s", IndicatorKind::Ja3s),
    ("user_agent.original", IndicatorKind::UserAgent),
    ("file.name", IndicatorKind::Filename),
    ("email.attachments.file.name", IndicatorKind::Filename),
];

fn seconds(at: Option<Timestamp>) -> u32 {
    match at {
        None => u32::MAX,
        Some(t) => u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX),
    }
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl IntelIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indicators (feed entries) held.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Distinct contexts held (for memory accounting).
    pub fn contexts(&self) -> usize {
        self.context_ids.len()
    }

    /// The key of a normalized value of a kind.
    fn key(kind: IndicatorKind, value: &str) -> Option<Key<'_>> {
        use IndicatorKind as K;
        Some(match kind {
            K::Ip => match value.parse::<IpAddr>().ok()? {
                IpAddr::V4(a) => Key::V4(a.to_bits()),
                IpAddr::V6(a) => Key::V6(a.to_bits()),
            },
            K::Cidr => match value.parse::<IpNet>().ok()? {
                IpNet::V4(n) => Key::Net4(n),
                IpNet::V6(n) => Key::Net6(n),
            },
            K::Md5 | K::Ja3 | K::Ja3s => Key::H16(kind, hex_bytes(value)?),
            K::Sha1 => Key::H20(hex_bytes(value)?),
            K::Sha256 => Key::H32(hex_bytes(value)?),
            K::Domain | K::Url | K::Email | K::UserAgent | K::Filename => Key::Str(kind, value),
        })
    }

    fn table(&self, kind: IndicatorKind) -> &StrTable {
        match kind {
            IndicatorKind::Domain => &self.domains,
            IndicatorKind::Url => &self.urls,
            IndicatorKind::Email => &self.emails,
            IndicatorKind::UserAgent => &self.user_agents,
            _ => &self.filenames,
        }
    }

    fn table_mut(&mut self, kind: IndicatorKind) -> &mut StrTable {
        match kind {
            IndicatorKind::Domain => &mut self.domains,
            IndicatorKind::Url => &mut self.urls,
            IndicatorKind::Email => &mut self.emails,
            IndicatorKind::UserAgent => &mut self.user_agents,
            _ => &mut self.filenames,
        }
    }

    fn h16(&self, kind: IndicatorKind) -> &HashMap<[u8; 16], u32> {
        match kind {
            IndicatorKind::Ja3 => &self.ja3,
            IndicatorKind::Ja3s => &self.ja3s,
            _ => &self.md5,
        }
    }

    fn head(&self, key: Key<'_>) -> Option<u32> {
        match key {
            Key::V4(a) => self.v4.get(&a).copied(),
            Key::V6(a) => self.v6.get(&a).copied(),
            Key::Net4(n) => self.net4.get(&n).copied(),
            Key::Net6(n) => self.net6.get(&n).copied(),
            Key::H16(kind, h) => self.h16(kind).get(&h).copied(),
            Key::H20(h) => self.sha1.get(&h).copied(),
            Key::H32(h) => self.sha256.get(&h).copied(),
            Key::Str(kind, s) => self.table(kind).get(s),
        }
    }

    fn set_head(&mut self, key: Key<'_>, head: u32) -> Result<(), IndexError> {
        let remove = head == NONE;
        macro_rules! put {
            ($map:expr, $k:expr) => {
                if remove {
                    $map.remove(&$k);
                } else {
                    $map.insert($k, head);
                }
            };
        }
        match key {
            Key::V4(a) => put!(self.v4, a),
            Key::V6(a) => put!(self.v6, a),
            Key::Net4(n) => put!(self.net4, n),
            Key::Net6(n) => put!(self.net6, n),
            Key::H16(IndicatorKind::Ja3, h) => put!(self.ja3, h),
            Key::H16(IndicatorKind::Ja3s, h) => put!(self.ja3s, h),
            Key::H16(_, h) => put!(self.md5, h),
            Key::H20(h) => put!(self.sha1, h),
            Key::H32(h) => put!(self.sha256, h),
            Key::Str(kind, s) => {
                if remove {
                    self.table_mut(kind).remove(s);
                } else {
                    self.table_mut(kind).insert(s, head)?;
                }
            }
        }
        Ok(())
    }

    fn intern(&mut self, ctx: Context) -> u32 {
        if let Some(&id) = self.context_ids.get(&ctx) {
            self.context_refs[id as usize] += 1;
            return id;
        }
        let ctx = Arc::new(ctx);
        let id = match self.free_contexts.pop() {
            Some(id) => {
                self.contexts[id as usize] = Some(ctx.clone());
                self.context_refs[id as usize] = 1;
                id
            }
            None => {
                self.contexts.push(Some(ctx.clone()));
                self.context_refs.push(1);
                (self.contexts.len() - 1) as u32
            }
        };
        self.context_ids.insert(ctx, id);
        id
    }

    fn release(&mut self, id: u32) {
        let refs = &mut self.context_refs[id as usize];
        *refs -= 1;
        if *refs == 0
            && let Some(ctx) = self.contexts[id as usize].take()
        {
            self.context_ids.remove(&ctx);
            self.free_contexts.push(id);
        }
    }

    fn context(&self, id: u32) -> &Arc<Context> {
        // Entries only point at live contexts (released with the entry).
        self.contexts[id as usize]
            .as_ref()
            .unwrap_or_else(|| unreachable!("entry points at a released context"))
    }

    fn subdomain_delta(&mut self, ctx: u32, add: bool, kind: IndicatorKind) {
        if kind == IndicatorKind::Domain && self.context(ctx).subdomains {
            if add {
                self.subdomain_entries += 1;
            } else {
                self.subdomain_entries -= 1;
            }
        }
    }

    /// Adds an indicator, or replaces what the index holds for the same
    /// (kind, value, feed). The value is normalized first; an invalid one is
    /// refused. Merging duplicates is the store's job (see
    /// [`Indicator::merge`]): the index holds the merged result.
    pub fn insert(&mut self, ind: &Indicator) -> Result<(), IndexError> {
        let (kind, value) = normalize::normalize(ind.kind, &ind.value)?;
        let key = Self::key(kind, &value).ok_or_else(|| BadValue {
            kind,
            value: value.to_string(),
            why: "not indexable",
        })?;
        let until = seconds(ind.valid_until);
        let mut cursor = self.head(key).unwrap_or(NONE);
        while cursor != NONE {
            let e = self.entries[cursor as usize];
            if self.context(e.ctx).feed == ind.feed {
                let ctx = self.intern(Context::of(ind));
                self.subdomain_delta(e.ctx, false, kind);
                self.release(e.ctx);
                self.subdomain_delta(ctx, true, kind);
                let slot = &mut self.entries[cursor as usize];
                slot.ctx = ctx;
                slot.until = until;
                return Ok(());
            }
            cursor = e.next;
        }
        let ctx = self.intern(Context::of(ind));
        let next = self.head(key).unwrap_or(NONE);
        let entry = Entry { ctx, until, next };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = entry;
                id
            }
            None => {
                let id = u32::try_from(self.entries.len())
                    .ok()
                    .filter(|&id| id != NONE)
                    .ok_or(IndexError::TooMany)?;
                self.entries.push(entry);
                id
            }
        };
        if let Err(e) = self.set_head(key, id) {
            self.release(ctx);
            self.free.push(id);
            return Err(e);
        }
        self.subdomain_delta(ctx, true, kind);
        self.live += 1;
        Ok(())
    }

    /// Removes what `feed` says about a value; false if it said nothing.
    pub fn remove(&mut self, kind: IndicatorKind, value: &str, feed: &str) -> bool {
        let Ok((kind, value)) = normalize::normalize(kind, value) else {
            return false;
        };
        let Some(key) = Self::key(kind, &value) else {
            return false;
        };
        let head = self.head(key).unwrap_or(NONE);
        let (mut prev, mut cursor) = (NONE, head);
        while cursor != NONE {
            let e = self.entries[cursor as usize];
            if self.context(e.ctx).feed == feed {
                if prev == NONE {
                    // Only a string table can fail, and only on insert of a
                    // new key; this key is present.
                    let _ = self.set_head(key, e.next);
                } else {
                    self.entries[prev as usize].next = e.next;
                }
                self.subdomain_delta(e.ctx, false, kind);
                self.release(e.ctx);
                self.free.push(cursor);
                self.live -= 1;
                return true;
            }
            prev = cursor;
            cursor = e.next;
        }
        false
    }

    /// Entries for a normalized key that are valid at `now`.
    fn valid(&self, head: Option<u32>, now: u32) -> impl Iterator<Item = &Arc<Context>> {
        let mut cursor = head.unwrap_or(NONE);
        std::iter::from_fn(move || {
            while cursor != NONE {
                let e = self.entries[cursor as usize];
                cursor = e.next;
                if now < e.until {
                    return Some(self.context(e.ctx));
                }
            }
            None
        })
    }

    /// Every indicator matching `value` of `kind` at `now`: an address also
    /// matches the networks containing it, a domain the indicators on its
    /// parents that cover subdomains. `field` is only carried into the hits.
    pub fn lookup_into(
        &self,
        kind: IndicatorKind,
        value: &str,
        field: &str,
        now: Timestamp,
        out: &mut Vec<Hit>,
    ) {
        let now = seconds(Some(now));
        let hit = |kind, indicator: &str, ctx: &Arc<Context>| Hit {
            kind,
            indicator: indicator.into(),
            field: field.into(),
            observed: value.into(),
            context: ctx.clone(),
        };
        use IndicatorKind as K;
        match kind {
            K::Ip | K::Cidr => {
                let Ok(ip) = value.trim().parse::<IpAddr>() else {
                    return;
                };
                let ip = match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                    v4 => v4,
                };
                let text = ip.to_compact_string();
                match ip {
                    IpAddr::V4(a) => {
                        for c in self.valid(self.v4.get(&a.to_bits()).copied(), now) {
                            out.push(hit(K::Ip, &text, c));
                        }
                        if !self.net4.is_empty() {
                            for (net, &head) in self.net4.cover(&Ipv4Net::from(a)) {
                                let net = net.to_compact_string();
                                for c in self.valid(Some(head), now) {
                                    out.push(hit(K::Cidr, &net, c));
                                }
                            }
                        }
                    }
                    IpAddr::V6(a) => {
                        for c in self.valid(self.v6.get(&a.to_bits()).copied(), now) {
                            out.push(hit(K::Ip, &text, c));
                        }
                        if !self.net6.is_empty() {
                            for (net, &head) in self.net6.cover(&Ipv6Net::from(a)) {
                                let net = net.to_compact_string();
                                for c in self.valid(Some(head), now) {
                                    out.push(hit(K::Cidr, &net, c));
                                }
                            }
                        }
                    }
                }
            }
            K::Domain => {
                let lowered;
                let mut d = value.trim();
                d = d.strip_suffix('.').unwrap_or(d);
                if d.bytes().any(|b| b.is_ascii_uppercase()) {
                    lowered = d.to_ascii_lowercase();
                    d = &lowered;
                }
                for c in self.valid(self.domains.get(d), now) {
                    out.push(hit(K::Domain, d, c));
                }
                if self.subdomain_entries > 0 {
                    let mut rest = d;
                    while let Some(i) = rest.find('.') {
                        rest = &rest[i + 1..];
                        for c in self.valid(self.domains.get(rest), now) {
                            if c.subdomains {
                                out.push(hit(K::Domain, rest, c));
                            }
                        }
                    }
                }
            }
            K::Md5 | K::Ja3 | K::Ja3s | K::Sha1 | K::Sha256 => {
                let v = value.trim();
                let Some(key) = Self::key(kind, v) else {
                    return;
                };
                if self.head(key).is_some() {
                    let lower = v.to_ascii_lowercase();
                    for c in self.valid(self.head(key), now) {
                        out.push(hit(kind, &lower, c));
                    }
                }
            }
            K::Url | K::Email | K::UserAgent | K::Filename => {
                if self.table(kind).len() == 0 {
                    return;
                }
                let Ok((_, norm)) = normalize::normalize(kind, value) else {
                    return;
                };
                for c in self.valid(self.table(kind).get(&norm), now) {
                    out.push(hit(kind, &norm, c));
                }
            }
        }
    }

    /// Every indicator matching any of the event's observables (addresses,
    /// domains, URLs, hashes, emails) or its JA3/JA3S, user-agent and file
    /// name fields, at `now`. One lookup (a few for networks and parent
    /// domains) per value: the cost grows with the event, not the index.
    pub fn match_event(&self, event: &riposte_model::Event, now: Timestamp, out: &mut Vec<Hit>) {
        use riposte_model::ObservableKind as O;
        for obs in &event.observables {
            let kind = match obs.kind {
                O::Ip => IndicatorKind::Ip,
                O::Domain => IndicatorKind::Domain,
                O::Url => IndicatorKind::Url,
                O::Md5 => IndicatorKind::Md5,
                O::Sha1 => IndicatorKind::Sha1,
                O::Sha256 => IndicatorKind::Sha256,
                O::Email => IndicatorKind::Email,
                O::User | O::Host | O::Process => continue,
            };
            let field = obs.field.as_deref().unwrap_or("");
            self.lookup_into(kind, &obs.value, field, now, out);
        }
        // A URL field without a scheme is no URL observable, but feeds list
        // such values as URLs (`evil.example/gate.php`); they are read as
        // http:// like the feed's.
        for field in ["url.full", "url.original"] {
            if let Some(s) = event.get_str(field)
                && !s.contains("://")
                && !s.starts_with('/')
            {
                self.lookup_into(IndicatorKind::Url, s, field, now, out);
            }
        }
        for &(field, kind) in EXTRA_FIELDS {
            match event.fields.get(field) {
                Some(riposte_model::FieldValue::Str(s)) => {
                    self.lookup_into(kind, s, field, now, out);
                }
                Some(riposte_model::FieldValue::List(items)) => {
                    for item in items {
                        if let Some(s) = item.as_str() {
                            self.lookup_into(kind, s, field, now, out);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The contexts the index holds for one value at `now` (CLI `lookup`).
    pub fn lookup(&self, kind: IndicatorKind, value: &str, now: Timestamp) -> Vec<Hit> {
        let mut out = Vec::new();
        self.lookup_into(kind, value, "", now, &mut out);
        out
    }

    /// Approximate heap bytes held, from capacities (what the benchmark
    /// reports next to the allocator's own figure).
    pub fn heap_bytes(&self) -> usize {
        fn map<K, V>(m: &HashMap<K, V>) -> usize {
            m.capacity() * (std::mem::size_of::<(K, V)>() + 1)
        }
        let contexts: usize = self
            .context_ids
            .keys()
            .map(|c| {
                std::mem::size_of::<Context>()
                    + 16
                    + c.tags.iter().map(|t| t.capacity() + 24).sum::<usize>()
                    + c.description.as_ref().map_or(0, |d| d.len())
                    + c.reference.as_ref().map_or(0, |d| d.len())
            })
            .sum();
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.free.capacity() * 4
            + self.contexts.capacity() * 8
            + self.context_refs.capacity() * 4
            + self.context_ids.capacity() * 24
            + contexts
            + map(&self.v4)
            + map(&self.v6)
            + (self.net4.len() + self.net6.len()) * 64
            + map(&self.md5)
            + map(&self.ja3)
            + map(&self.ja3s)
            + map(&self.sha1)
            + map(&self.sha256)
            + self.domains.heap_bytes()
            + self.urls.heap_bytes()
            + self.emails.heap_bytes()
            + self.user_agents.heap_bytes()
            + self.filenames.heap_bytes()
    }

    /// Every (kind, value, context) held, expired or not: for exporting
    /// straight from memory and for tests. Order is unspecified.
    pub fn iter(&self) -> impl Iterator<Item = (IndicatorKind, CompactString, &Arc<Context>)> + '_ {
        let chain = move |head: u32| {
            let mut cursor = head;
            std::iter::from_fn(move || {
                if cursor == NONE {
                    return None;
                }
                let e = self.entries[cursor as usize];
                cursor = e.next;
                Some(self.context(e.ctx))
            })
        };
        let v4 = self.v4.iter().flat_map(move |(&a, &h)| {
            let v = Ipv4Addr::from_bits(a).to_compact_string();
            chain(h).map(move |c| (IndicatorKind::Ip, v.clone(), c))
        });
        let v6 = self.v6.iter().flat_map(move |(&a, &h)| {
            let v = Ipv6Addr::from_bits(a).to_compact_string();
            chain(h).map(move |c| (IndicatorKind::Ip, v.clone(), c))
        });
        let n4 = self.net4.iter().flat_map(move |(n, &h)| {
            let v = n.to_compact_string();
            chain(h).map(move |c| (IndicatorKind::Cidr, v.clone(), c))
        });
        let n6 = self.net6.iter().flat_map(move |(n, &h)| {
            let v = n.to_compact_string();
            chain(h).map(move |c| (IndicatorKind::Cidr, v.clone(), c))
        });
        let h16 = [
            (IndicatorKind::Md5, &self.md5),
            (IndicatorKind::Ja3, &self.ja3),
            (IndicatorKind::Ja3s, &self.ja3s),
        ]
        .into_iter()
        .flat_map(move |(kind, m)| {
            m.iter().flat_map(move |(k, &h)| {
                let v: CompactString = hex::encode(k).into();
                chain(h).map(move |c| (kind, v.clone(), c))
            })
        });
        let sha1 = self.sha1.iter().flat_map(move |(k, &h)| {
            let v: CompactString = hex::encode(k).into();
            chain(h).map(move |c| (IndicatorKind::Sha1, v.clone(), c))
        });
        let sha256 = self.sha256.iter().flat_map(move |(k, &h)| {
            let v: CompactString = hex::encode(k).into();
            chain(h).map(move |c| (IndicatorKind::Sha256, v.clone(), c))
        });
        let strings = [
            IndicatorKind::Domain,
            IndicatorKind::Url,
            IndicatorKind::Email,
            IndicatorKind::UserAgent,
            IndicatorKind::Filename,
        ]
        .into_iter()
        .flat_map(move |kind| {
            self.table(kind).iter().flat_map(move |(k, h)| {
                let v: CompactString = k.into();
                chain(h).map(move |c| (kind, v.clone(), c))
            })
        });
        v4.chain(v6)
            .chain(n4)
            .chain(n6)
            .chain(h16)
            .chain(sha1)
            .chain(sha256)
            .chain(strings)
    }

    /// Per-kind counts of held entries.
    pub fn counts(&self) -> Vec<(IndicatorKind, usize)> {
        let mut counts: std::collections::BTreeMap<IndicatorKind, usize> = Default::default();
        for (kind, _, _) in self.iter() {
            *counts.entry(kind).or_default() += 1;
        }
        counts.into_iter().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use riposte_model::{Event, ObservableKind};

    fn t(h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, h, 0, 0).unwrap()
    }

    fn ind(kind: IndicatorKind, value: &str, feed: &str) -> Indicator {
        Indicator::new(kind, value, feed)
    }

    fn hits(
        ix: &IntelIndex,
        kind: IndicatorKind,
        v: &str,
        now: Timestamp,
    ) -> Vec<(String, String)> {
        let mut h: Vec<_> = ix
            .lookup(kind, v, now)
            .into_iter()
            .map(|h| (h.indicator.to_string(), h.context.feed.to_string()))
            .collect();
        h.sort();
        h
    }

    #[test]
    fn addresses_match_exactly_and_through_every_covering_network() {
        let mut ix = IntelIndex::new();
        ix.insert(&ind(IndicatorKind::Ip, "192.0.2.1", "a"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Cidr, "192.0.2.0/24", "b"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Cidr, "192.0.0.0/16", "c"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Ip, "2001:db8::/32", "d"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Ip, "2001:DB8::7", "e"))
            .unwrap();
        assert_eq!(
            hits(&ix, IndicatorKind::Ip, "192.0.2.1", t(0)),
            [
                ("192.0.0.0/16".into(), "c".into()),
                ("192.0.2.0/24".into(), "b".into()),
                ("192.0.2.1".into(), "a".into())
            ]
        );
        assert_eq!(
            hits(&ix, IndicatorKind::Ip, "192.0.3.1", t(0)),
            [("192.0.0.0/16".to_string(), "c".to_string())]
        );
        assert!(hits(&ix, IndicatorKind::Ip, "192.1.0.1", t(0)).is_empty());
        assert_eq!(
            hits(&ix, IndicatorKind::Ip, "2001:db8::7", t(0)),
            [
                ("2001:db8::/32".into(), "d".into()),
                ("2001:db8::7".into(), "e".into())
            ]
        );
        assert_eq!(
            hits(&ix, IndicatorKind::Ip, "::ffff:192.0.2.1", t(0)).len(),
            3
        );
        assert_eq!(ix.len(), 5);
    }

    #[test]
    fn domains_match_parents_only_when_the_indicator_covers_subdomains() {
        let mut ix = IntelIndex::new();
        let mut wide = ind(IndicatorKind::Domain, "evil.example", "wide");
        wide.subdomains = true;
        ix.insert(&wide).unwrap();
        ix.insert(&ind(IndicatorKind::Domain, "example", "narrow"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Domain, "x.evil.example", "exact"))
            .unwrap();
        assert_eq!(
            hits(&ix, IndicatorKind::Domain, "A.X.Evil.Example.", t(0)),
            [("evil.example".to_string(), "wide".to_string())]
        );
        assert_eq!(
            hits(&ix, IndicatorKind::Domain, "x.evil.example", t(0)),
            [
                ("evil.example".into(), "wide".into()),
                ("x.evil.example".into(), "exact".into())
            ]
        );
        assert_eq!(
            hits(&ix, IndicatorKind::Domain, "example", t(0)),
            [("example".to_string(), "narrow".to_string())]
        );
        assert!(hits(&ix, IndicatorKind::Domain, "notevil.example", t(0)).is_empty());
        assert!(ix.remove(IndicatorKind::Domain, "Evil.Example", "wide"));
        assert_eq!(ix.subdomain_entries, 0);
        assert!(hits(&ix, IndicatorKind::Domain, "a.x.evil.example", t(0)).is_empty());
    }

    #[test]
    fn expired_entries_never_match_and_feeds_are_replaced_and_removed_separately() {
        let mut ix = IntelIndex::new();
        let mut a = ind(IndicatorKind::Sha256, &"AB".repeat(32), "a");
        a.valid_until = Some(t(10));
        ix.insert(&a).unwrap();
        ix.insert(&ind(IndicatorKind::Sha256, &"ab".repeat(32), "b"))
            .unwrap();
        let h = "ab".repeat(32);
        assert_eq!(hits(&ix, IndicatorKind::Sha256, &h, t(9)).len(), 2);
        assert_eq!(
            hits(&ix, IndicatorKind::Sha256, &h, t(10)),
            [(h.clone(), "b".to_string())]
        );
        // Re-importing feed a's indicator with a later expiry replaces it.
        a.valid_until = Some(t(12));
        a.confidence = Confidence::new(90).unwrap();
        ix.insert(&a).unwrap();
        assert_eq!(ix.len(), 2);
        let got = ix.lookup(IndicatorKind::Sha256, &h, t(11));
        assert_eq!(got.len(), 2);
        assert!(
            got.iter()
                .any(|h| h.context.feed == "a" && h.context.confidence.get() == 90)
        );
        assert!(ix.remove(IndicatorKind::Sha256, &h, "b"));
        assert!(!ix.remove(IndicatorKind::Sha256, &h, "b"));
        assert_eq!(
            hits(&ix, IndicatorKind::Sha256, &h, t(11)),
            [(h.clone(), "a".to_string())]
        );
        assert!(ix.remove(IndicatorKind::Sha256, &h, "a"));
        assert!(ix.is_empty());
        assert_eq!(ix.contexts(), 0);
        assert!(ix.sha256.is_empty());
    }

    #[test]
    fn an_event_is_matched_on_observables_and_extra_fields() {
        let mut ix = IntelIndex::new();
        ix.insert(&ind(IndicatorKind::Ip, "203.0.113.7", "f"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Url, "evil.example/gate.php", "f"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Ja3, &"E7".repeat(16), "f"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::UserAgent, "EvilBot/1.0", "f"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Filename, "Invoice.EXE", "f"))
            .unwrap();
        ix.insert(&ind(IndicatorKind::Email, "x@evil.example", "f"))
            .unwrap();
        let mut ev = Event::new(t(1), "test");
        ev.add_observable(ObservableKind::Ip, "203.0.113.7", "destination.ip");
        ev.add_observable(
            ObservableKind::Url,
            "HTTP://EVIL.example:80/gate.php",
            "url.full",
        );
        ev.add_observable(
            ObservableKind::Email,
            "X@Evil.Example",
            "email.from.address",
        );
        ev.set("tls.client.ja3", "e7".repeat(16));
        ev.set("user_agent.original", "EvilBot/1.0");
        ev.set("file.name", "invoice.exe");
        let mut out = Vec::new();
        ix.match_event(&ev, t(1), &mut out);
        let got: Vec<(String, String, String)> = out
            .iter()
            .map(|h| {
                (
                    h.kind.to_string(),
                    h.indicator.to_string(),
                    h.field.to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("ip".into(), "203.0.113.7".into(), "destination.ip".into()),
                (
                    "url".into(),
                    "http://evil.example/gate.php".into(),
                    "url.full".into()
                ),
                (
                    "email".into(),
                    "x@evil.example".into(),
                    "email.from.address".into()
                ),
                ("ja3".into(), "e7".repeat(16), "tls.client.ja3".into()),
                (
                    "user-agent".into(),
                    "EvilBot/1.0".into(),
                    "user_agent.original".into()
                ),
                ("filename".into(), "invoice.exe".into(), "file.name".into()),
            ]
        );
        let mut kinds: Vec<_> = ix.iter().map(|(k, v, _)| (k, v)).collect();
        kinds.sort();
        assert_eq!(kinds.len(), 6);
        assert_eq!(kinds[0], (IndicatorKind::Ip, "203.0.113.7".into()));
    }

    #[test]
    fn invalid_values_are_refused_with_the_value() {
        let mut ix = IntelIndex::new();
        let err = ix
            .insert(&ind(IndicatorKind::Domain, "domain autuo.xicp.net", "f"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "domain \"domain autuo.xicp.net\": not a DNS name"
        );
        assert!(ix.is_empty());
    }
}

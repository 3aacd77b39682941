//! The state fail2ban keeps between the lines of one log: the last
//! `maxlines` lines, which a failregex sees joined with `\n` (lines a match
//! used are taken out, lines a `<SKIPLINES>` stepped over stay), and the
//! `<F-MLFID>` sessions: every line that names a session id merges what it
//! captured into the session, so a later line ("Connection closed …") can
//! fail with the host an earlier one ("Connection from …") gave.
//! `<F-NOFAIL>` lines only feed the session, `<F-MLFFORGET>` ends it, and
//! `<F-MLFGAINED>` (a login that succeeded) is no failure unless the
//! session tried more than one user.
//!
//! Memory is bounded: at most [`SESSION_CAPACITY`] sessions, each forgotten
//! [`SESSION_MAX_AGE_SECS`] after it began (by the "now" the caller gives:
//! the event's time in rules);
//! when full, the oldest session is evicted and counted.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::{NaiveDateTime, TimeDelta};

use super::{Fail2banFilter, Fail2banMatch, Fail2banTime, collect};

/// Sessions kept per filter (fail2ban keeps 100).
pub const SESSION_CAPACITY: usize = 1000;
/// How long a session is remembered after its first line (fail2ban: 5 min).
pub const SESSION_MAX_AGE_SECS: i64 = 300;
/// The largest `maxlines` a filter may ask for.
pub const MAX_MAXLINES: u32 = 1000;

/// Counters of one filter's multi-line state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MultiLineStats {
    /// Sessions held now.
    pub sessions: usize,
    /// Sessions dropped because the cache was full.
    pub evicted: u64,
    /// Sessions dropped because they were older than the maximum age.
    pub expired: u64,
}

#[derive(Debug)]
struct Session {
    fields: BTreeMap<String, String>,
    users: BTreeSet<String>,
    started: NaiveDateTime,
    seq: u64,
}

#[derive(Debug)]
pub(super) struct MultiLine {
    maxlines: usize,
    /// The last lines, without their dates.
    lines: VecDeque<String>,
    /// The time of the last line that had one (lines without a date take it).
    last_time: Option<Fail2banTime>,
    sessions: HashMap<String, Session>,
    /// Session ids by age; entries whose seq no longer matches are stale.
    order: VecDeque<(u64, String)>,
    seq: u64,
    capacity: usize,
    max_age: TimeDelta,
    evicted: u64,
    expired: u64,
}

// fail2ban's flags in Filter._mergeFailure.
const NOFAIL: u8 = 1;
const FORGET: u8 = 2;
const GAINED: u8 = 8;

impl MultiLine {
    pub(super) fn new(maxlines: u32) -> Self {
        Self::with_limits(maxlines, SESSION_CAPACITY, SESSION_MAX_AGE_SECS)
    }

    pub(super) fn with_limits(maxlines: u32, capacity: usize, max_age_secs: i64) -> Self {
        MultiLine {
            maxlines: maxlines.max(1) as usize,
            lines: VecDeque::new(),
            last_time: None,
            sessions: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            capacity: capacity.max(1),
            max_age: TimeDelta::seconds(max_age_secs),
            evicted: 0,
            expired: 0,
        }
    }

    pub(super) fn stats(&self) -> MultiLineStats {
        MultiLineStats {
            sessions: self.sessions.len(),
            evicted: self.evicted,
            expired: self.expired,
        }
    }

    /// fail2ban's `Filter.findFailure` for one more line.
    pub(super) fn process(
        &mut self,
        filter: &Fail2banFilter,
        line: &str,
        now: NaiveDateTime,
    ) -> Option<Fail2banMatch> {
        let (text, time) = filter.cut_date(line, now);
        let time = match time {
            Some(t) => {
                self.last_time = Some(t);
                Some(t)
            }
            None => self.last_time,
        };
        self.lines.push_back(text);
        while self.lines.len() > self.maxlines {
            self.lines.pop_front();
        }
        let mut buf = String::new();
        for l in &self.lines {
            buf.push_str(l);
            buf.push('\n');
        }
        let mut fields = BTreeMap::new();
        let content = filter.prefilter(&buf, &mut fields)?;
        if let Some(c) = &content {
            // The content replaces the buffer, as fail2ban does.
            self.lines.clear();
            self.lines.push_back(c.trim_end_matches('\n').to_owned());
        }
        let hay = content.unwrap_or(buf);
        let (index, caps) = filter.first_failregex(&hay)?;
        if self.maxlines > 1 {
            self.drop_matched(&caps);
        }
        if filter.ignoreregex.iter().any(|re| re.is_match(&hay)) {
            return None;
        }
        collect(&caps, &hay, &mut fields);
        if let Some(mlfid) = fields.get("mlfid").cloned() {
            fields = self.merge(&mlfid, fields, now);
            if fields.contains_key("nofail") {
                return None;
            }
        } else if fields.contains_key("nofail") || fields.contains_key("mlfgained") {
            return None;
        }
        Fail2banFilter::failure(fields, time, index)
    }

    /// Takes the lines a match used out of the buffer; lines inside a
    /// `<SKIPLINES>` group stay for later matches.
    fn drop_matched(&mut self, caps: &super::Caps) {
        let Some(Some((start, end))) = caps.spans.first().copied() else {
            return;
        };
        let skipped: Vec<(usize, usize)> = caps
            .named_spans()
            .filter(|(n, _)| n.starts_with("skiplines"))
            .map(|(_, s)| s)
            .collect();
        let mut keep = VecDeque::new();
        let mut at = 0;
        for l in self.lines.drain(..) {
            let (ls, le) = (at, at + l.len());
            at = le + 1;
            // As fail2ban: every line from the one the match starts in to
            // the one it ends in, less the lines a <SKIPLINES> took whole.
            let used = if start == end {
                ls <= start && start <= le
            } else {
                start <= le && end > ls
            };
            let in_skip = skipped.iter().any(|&(s, e)| ls >= s && le < e);
            if !used || in_skip {
                keep.push_back(l);
            }
        }
        self.lines = keep;
    }

    /// fail2ban's `Filter._mergeFailure`: joins `fail` with what the
    /// session `mlfid` already holds and returns the merged captures.
    fn merge(
        &mut self,
        mlfid: &str,
        mut fail: BTreeMap<String, String>,
        now: NaiveDateTime,
    ) -> BTreeMap<String, String> {
        let mut flags = 0u8;
        if let Some(g) = fail.get("mlfgained").cloned() {
            flags |= NOFAIL | GAINED;
            if fail.get("nofail").is_none_or(String::is_empty) {
                fail.insert("nofail".into(), g);
            }
        } else if fail.get("nofail").is_some_and(|v| !v.is_empty()) {
            flags |= NOFAIL;
        }
        if fail.get("mlfforget").is_some_and(|v| !v.is_empty()) {
            flags |= FORGET;
        }
        let user = fail.get("user").filter(|u| !u.is_empty()).cloned();
        let mut users = 0;
        let known = self.session(mlfid, now);
        let mut merged = if let Some(s) = known {
            if let Some(u) = user {
                s.users.insert(u);
                users = s.users.len();
            }
            // Only the last line decides `nofail`/`mlfgained` (fail2ban
            // deletes both, in that order, and stops at the first missing).
            if s.fields.remove("nofail").is_some() {
                s.fields.remove("mlfgained");
            }
            s.fields.extend(fail);
            let merged = s.fields.clone();
            if flags & FORGET != 0 {
                self.sessions.remove(mlfid);
            }
            merged
        } else {
            if flags & FORGET == 0 {
                let users: BTreeSet<String> = user.into_iter().collect();
                self.insert(mlfid, fail.clone(), users, now);
            }
            if fail.contains_key("user") {
                users = 1;
            }
            fail
        };
        // More than one user in a session is a failure even if it ends well.
        if users > 1
            && merged.remove("nofail").is_some()
            && let Some(s) = self.sessions.get_mut(mlfid)
        {
            s.fields.remove("nofail");
        }
        merged.remove("mlfforget");
        merged
    }

    /// The live session `mlfid`; an expired one is dropped.
    fn session(&mut self, mlfid: &str, now: NaiveDateTime) -> Option<&mut Session> {
        let expired = self
            .sessions
            .get(mlfid)
            .is_some_and(|s| now - s.started > self.max_age);
        if expired {
            self.sessions.remove(mlfid);
            self.expired += 1;
        }
        self.sessions.get_mut(mlfid)
    }

    fn insert(
        &mut self,
        mlfid: &str,
        fields: BTreeMap<String, String>,
        users: BTreeSet<String>,
        now: NaiveDateTime,
    ) {
        if self.sessions.len() >= self.capacity {
            let max_age = self.max_age;
            let before = self.sessions.len();
            self.sessions.retain(|_, s| now - s.started <= max_age);
            self.expired += (before - self.sessions.len()) as u64;
        }
        while self.sessions.len() >= self.capacity {
            let Some((seq, id)) = self.order.pop_front() else {
                break;
            };
            if self.sessions.get(&id).is_some_and(|s| s.seq == seq) {
                self.sessions.remove(&id);
                self.evicted += 1;
            }
        }
        self.seq += 1;
        self.sessions.insert(
            mlfid.to_owned(),
            Session {
                fields,
                users,
                started: now,
                seq: self.seq,
            },
        );
        self.order.push_back((self.seq, mlfid.to_owned()));
        // Drop stale order entries so the queue stays bounded too.
        if self.order.len() > 2 * self.capacity {
            let sessions = &self.sessions;
            self.order
                .retain(|(seq, id)| sessions.get(id).is_some_and(|s| s.seq == *seq));
        }
    }
}

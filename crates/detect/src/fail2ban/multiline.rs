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
/// Distinct users remembered per session.
const MAX_SESSION_USERS: usize = 8;
/// Line buffers kept per filter, one per stream (event dataset).
pub const STREAM_CAPACITY: usize = 256;

/// Counters of one filter's multi-line state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MultiLineStats {
    /// Sessions held now.
    pub sessions: usize,
    /// Sessions dropped because the cache was full.
    pub evicted: u64,
    /// Sessions dropped because they were older than the maximum age.
    pub expired: u64,
    /// Line buffers (of streams) dropped because too many streams fed the filter.
    pub streams_evicted: u64,
}

/// The last lines of one stream, without their dates.
#[derive(Debug, Default)]
struct Stream {
    lines: VecDeque<String>,
    /// The time of the last line that had one (lines without a date take it).
    last_time: Option<Fail2banTime>,
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
    /// Lines of different streams (event datasets: logs) are never joined.
    streams: HashMap<String, Stream>,
    streams_evicted: u64,
    sessions: HashMap<String, Session>,
    /// Session ids by age; entries whose seq no longer matches are stale.
    order: VecDeque<(u64, String)>,
    seq: u64,
    capacity: usize,
    max_age: TimeDelta,
    evicted: u64,
    expired: u64,
}

impl MultiLine {
    pub(super) fn new(maxlines: u32) -> Self {
        Self::with_limits(maxlines, SESSION_CAPACITY, SESSION_MAX_AGE_SECS)
    }

    pub(super) fn with_limits(maxlines: u32, capacity: usize, max_age_secs: i64) -> Self {
        MultiLine {
            maxlines: maxlines.max(1) as usize,
            streams: HashMap::new(),
            streams_evicted: 0,
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
            streams_evicted: self.streams_evicted,
        }
    }

    /// fail2ban's `Filter.findFailure` for one more line.
    pub(super) fn process(
        &mut self,
        filter: &Fail2banFilter,
        stream: &str,
        line: &str,
        now: NaiveDateTime,
    ) -> Option<Fail2banMatch> {
        if !self.streams.contains_key(stream) && self.streams.len() >= STREAM_CAPACITY {
            // Any one: a stream that stops briefly only loses its context.
            if let Some(k) = self.streams.keys().next().cloned() {
                self.streams.remove(&k);
                self.streams_evicted += 1;
            }
        }
        let st = self.streams.entry(stream.to_owned()).or_default();
        let (text, time) = filter.cut_date(line, now);
        let time = match time {
            Some(t) => {
                st.last_time = Some(t);
                Some(t)
            }
            None => st.last_time,
        };
        st.lines.push_back(text);
        while st.lines.len() > self.maxlines {
            st.lines.pop_front();
        }
        let mut buf = String::new();
        for l in &st.lines {
            buf.push_str(l);
            buf.push('\n');
        }
        let mut fields = BTreeMap::new();
        let content = filter.prefilter(&buf, &mut fields)?;
        if let Some(c) = &content {
            // The content replaces the buffer, as fail2ban does.
            st.lines.clear();
            st.lines.push_back(c.trim_end_matches('\n').to_owned());
        }
        let hay = content.unwrap_or(buf);
        let (index, caps) = filter.first_failregex(&hay)?;
        if self.maxlines > 1 {
            drop_matched(&mut st.lines, &caps);
        }
        if filter.ignoreregex.iter().any(|re| re.is_match(&hay)) {
            return None;
        }
        collect(&caps, &hay, &mut fields);
        let Some(mlfid) = fields.get("mlfid").cloned() else {
            if fields.contains_key("nofail") || fields.contains_key("mlfgained") {
                return None;
            }
            return Fail2banFilter::failure(fields, time, index);
        };
        // fail2ban fills an empty `name` from `alt_name` (`<F-ALT_USER>`)
        // before the session sees it.
        let alts: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, v)| k.starts_with("alt_") && !v.is_empty())
            .map(|(k, v)| (k["alt_".len()..].to_owned(), v.clone()))
            .collect();
        for (name, value) in alts {
            if fields.get(&name).is_none_or(String::is_empty) {
                fields.insert(name, value);
            }
        }
        let fields = self.merge(&mlfid, fields, now);

        if fields.contains_key("nofail") {
            return None;
        }
        let found = Fail2banFilter::failure(fields, time, index);
        if found.is_none() {
            self.mark_pending(&mlfid);
        }
        found
    }
}

/// Takes the lines a match used out of the buffer; lines inside a
/// `<SKIPLINES>` group stay for later matches.
fn drop_matched(lines: &mut VecDeque<String>, caps: &super::Caps) {
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
    for l in lines.drain(..) {
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
    *lines = keep;
}

impl MultiLine {
    /// fail2ban's `Filter._mergeFailure`: joins `fail` with what the
    /// session `mlfid` already holds and returns the merged captures.
    fn merge(
        &mut self,
        mlfid: &str,
        mut fail: BTreeMap<String, String>,
        now: NaiveDateTime,
    ) -> BTreeMap<String, String> {
        if let Some(g) = fail.get("mlfgained").cloned()
            && fail.get("nofail").is_none_or(String::is_empty)
        {
            fail.insert("nofail".into(), g);
        }
        let forget = fail.remove("mlfforget").is_some_and(|v| !v.is_empty());
        let user = fail.get("user").filter(|u| !u.is_empty()).cloned();
        if let Some(s) = self.session(mlfid, now) {
            let mut users = 0;
            if let Some(u) = user {
                // Only "more than one" matters: keep a few, not every name
                // an attacker tries in one session.
                if s.users.len() < MAX_SESSION_USERS {
                    s.users.insert(u);
                }
                users = s.users.len();
            }
            // Only the last line decides `nofail` and `mlfgained`.
            s.fields.remove("nofail");
            s.fields.remove("mlfgained");
            s.fields.extend(fail);
            // An earlier line failed without a host (pending), or the
            // session tried more than one user: this line fails whatever
            // it says.
            if s.fields.remove("mlfpending").is_some() || users > 1 {
                s.fields.remove("nofail");
                s.fields.remove("mlfgained");
            }
            let merged = s.fields.clone();
            if forget {
                self.sessions.remove(mlfid);
            }
            merged
        } else {
            if !forget {
                let users: BTreeSet<String> = user.into_iter().collect();
                self.insert(mlfid, fail.clone(), users, now);
            }
            fail
        }
    }

    /// A line of session `mlfid` failed but named no host yet: the next
    /// line of the session with one fails, even a `<F-NOFAIL>` line.
    fn mark_pending(&mut self, mlfid: &str) {
        if let Some(s) = self.sessions.get_mut(mlfid) {
            s.fields.insert("mlfpending".into(), "1".into());
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail2ban::Ini;
    use riposte_model::Problems;

    fn filter(text: &str) -> Fail2banFilter {
        let mut p = Problems::new();
        let ini = Ini::from_text("f.conf", text, &mut p);
        assert!(p.is_empty());
        Fail2banFilter::from_ini("f.conf", &ini, &BTreeMap::new())
            .unwrap()
            .0
    }

    fn now() -> NaiveDateTime {
        "2005-08-14T12:00:00".parse().unwrap()
    }

    fn hosts(f: &Fail2banFilter, lines: &[&str]) -> Vec<Option<String>> {
        lines
            .iter()
            .map(|l| f.process_line_at(l, now()).map(|m| m.host))
            .collect()
    }

    /// sshd-like: the session id is the `sshd[pid]` prefix.
    const SESSIONS: &str = "[Definition]\n\
        prefregex = ^\\s*<F-MLFID>\\S+ sshd\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$\n\
        failregex = ^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>\n\
        \x20           ^User <F-USER>\\S+</F-USER> not allowed because account is locked\n\
        \x20           ^<F-NOFAIL><F-MLFFORGET>Connection closed</F-MLFFORGET></F-NOFAIL> by <ADDR>\n\
        \x20           ^<F-NOFAIL>auth failure;</F-NOFAIL> ruser=<F-ALT_USER>\\S*</F-ALT_USER> rhost=<HOST>\n\
        \x20           ^<F-MLFFORGET><F-MLFGAINED>Accepted \\w+</F-MLFGAINED></F-MLFFORGET> for <F-USER>\\S+</F-USER> from <HOST>\n\
        \x20           ^<F-MLFFORGET>Disconnecting</F-MLFFORGET>: Too many authentication failures\n";

    #[test]
    fn a_session_line_without_host_fails_with_the_host_of_an_earlier_line() {
        let f = filter(SESSIONS);
        assert!(f.is_multiline());
        let got = hosts(
            &f,
            &[
                "Aug 14 11:00:00 h sshd[1]: Connection from 192.0.2.1 port 5",
                "Aug 14 11:00:01 h sshd[2]: Connection from 192.0.2.2 port 6",
                "Aug 14 11:00:02 h sshd[1]: Disconnecting: Too many authentication failures",
                // Session 1 was forgotten: the same line again finds no host.
                "Aug 14 11:00:03 h sshd[1]: Disconnecting: Too many authentication failures",
                "Aug 14 11:00:04 h sshd[2]: Connection closed by 192.0.2.2",
            ],
        );
        assert_eq!(got, [None, None, Some("192.0.2.1".into()), None, None]);
        // Both sessions ended (a forgetting line opens none).
        assert_eq!(f.multiline_stats().sessions, 0);
        // The stateless path knows nothing of sessions.
        assert_eq!(
            f.match_line_at(
                "Aug 14 11:00:02 h sshd[7]: Disconnecting: Too many authentication failures",
                now()
            ),
            None
        );
    }

    #[test]
    fn a_pending_failure_makes_the_next_nofail_line_fail() {
        let f = filter(SESSIONS);
        let got = hosts(
            &f,
            &[
                "Aug 14 11:00:00 h sshd[3]: User root not allowed because account is locked",
                "Aug 14 11:00:01 h sshd[3]: Connection closed by 192.0.2.3",
                "Aug 14 11:00:02 h sshd[4]: Connection closed by 192.0.2.4",
            ],
        );
        assert_eq!(got, [None, Some("192.0.2.3".into()), None]);
        assert_eq!(f.multiline_stats().sessions, 0);
    }

    #[test]
    fn a_login_after_failures_of_other_users_is_a_failure() {
        let f = filter(SESSIONS);
        let got = hosts(
            &f,
            &[
                // One user tries and then logs in: no failure.
                "Aug 14 11:00:00 h sshd[5]: auth failure; ruser=rda rhost=192.0.2.5",
                "Aug 14 11:00:01 h sshd[5]: Accepted password for rda from 192.0.2.5 port 1",
                // Another user than the one that failed: failures.
                "Aug 14 11:00:02 h sshd[6]: auth failure; ruser=root rhost=192.0.2.6",
                "Aug 14 11:00:03 h sshd[6]: auth failure; ruser=root rhost=192.0.2.6",
                "Aug 14 11:00:04 h sshd[6]: Accepted password for known from 192.0.2.6 port 1",
            ],
        );
        assert_eq!(got, [None, None, None, None, Some("192.0.2.6".into())]);
        // A session trying many users keeps only a few of the names.
        for i in 0..100 {
            let l = format!("Aug 14 11:00:06 h sshd[9]: auth failure; ruser=u{i} rhost=192.0.2.9");
            f.process_line_at(&l, now());
        }
        let st = f.multiline.as_ref().unwrap().lock().unwrap();
        assert_eq!(st.sessions["h sshd[9]:"].users.len(), MAX_SESSION_USERS);
        drop(st);
        let m = f
            .process_line_at(
                "Aug 14 11:00:05 h sshd[8]: User bob not allowed because account is locked",
                now(),
            )
            .map(|m| m.host);
        assert_eq!(m, None);
    }

    #[test]
    fn maxlines_joins_lines_and_skiplines_steps_over_others() {
        let f = filter(
            "[Definition]\n\
             failregex = ^\\s+\\[conn(?P<__id>\\d+)\\] auth failed<SKIPLINES>\\s+\\[conn(?P=__id)\\] end <HOST>\n\
             maxlines = 4\n",
        );
        assert_eq!(f.maxlines, 4);
        let got = hosts(
            &f,
            &[
                " [conn1] auth failed",
                " [conn2] something else",
                " [conn1] end 192.0.2.10",
                // conn2's line stayed in the buffer; conn1's were used up.
                " [conn1] end 192.0.2.10",
            ],
        );
        assert_eq!(got, [None, None, Some("192.0.2.10".into()), None]);
        // The window holds 4 lines: a failure 4 lines later is out of reach.
        let got = hosts(
            &f,
            &[
                " [conn3] auth failed",
                " [conn9] a",
                " [conn9] b",
                " [conn9] c",
                " [conn3] end 192.0.2.11",
            ],
        );
        assert_eq!(got, [None, None, None, None, None]);
        // Lines of another stream never join this one's.
        let at = |s: &str, l: &str| f.process_stream_line_at(s, l, now()).map(|m| m.host);
        assert_eq!(at("a", " [conn5] auth failed"), None);
        assert_eq!(at("b", " [conn5] end 192.0.2.13"), None);
        assert_eq!(
            at("a", " [conn5] end 192.0.2.13").as_deref(),
            Some("192.0.2.13")
        );
    }

    #[test]
    fn a_dateless_line_takes_the_date_of_the_line_before() {
        let f = filter(
            "[Definition]\n\
             failregex = ^.*\\nWARNING: attempt from <HOST> failed\\.$\n\
             maxlines = 2\n\
             datepattern = ^%%b %%d, %%ExY %%I:%%M:%%S %%p\n\
             \x20             ^WARNING:()**\n\
             \x20             {^LN-BEG}\n",
        );
        assert_eq!(
            f.process_line_at("Apr 16, 2013 8:32:13 AM org.Foo bar", now()),
            None
        );
        let m = f
            .process_line_at("WARNING: attempt from 192.0.2.12 failed.", now())
            .unwrap();
        assert_eq!(m.host, "192.0.2.12");
        assert_eq!(
            m.time,
            Some(Fail2banTime::Local("2013-04-16T08:32:13".parse().unwrap()))
        );
    }

    #[test]
    fn sessions_are_bounded_evictions_and_expiry_counted() {
        let f = filter(SESSIONS);
        let mut state = MultiLine::with_limits(1, 3, 60);
        for pid in 0..5 {
            let line = format!("Aug 14 11:00:00 h sshd[{pid}]: Connection from 192.0.2.{pid}");
            assert!(state.process(&f, "s", &line, now()).is_none());
        }
        assert_eq!(
            state.stats(),
            MultiLineStats {
                sessions: 3,
                evicted: 2,
                expired: 0,
                streams_evicted: 0,
            }
        );
        // The oldest sessions went first: 0 and 1 are gone, 4 is there.
        let close = |pid: u32| {
            format!(
                "Aug 14 11:00:09 h sshd[{pid}]: Disconnecting: Too many authentication failures"
            )
        };
        assert!(state.process(&f, "s", &close(0), now()).is_none());
        assert_eq!(
            state
                .process(&f, "s", &close(4), now())
                .map(|m| m.host)
                .as_deref(),
            Some("192.0.2.4")
        );
        // A session older than the maximum age is forgotten on its next line.
        let later = now() + TimeDelta::seconds(61);
        assert!(state.process(&f, "s", &close(3), later).is_none());
        let s = state.stats();
        assert_eq!((s.evicted, s.expired), (2, 1));
        // Many sessions opened and closed leave no stale queue behind.
        for pid in 100..10_000 {
            let line = format!("Aug 14 11:00:00 h sshd[{pid}]: Connection from 192.0.2.1");
            state.process(&f, "s", &line, later);
            state.process(&f, "s", &close(pid), later);
        }
        assert!(state.order.len() <= 2 * state.capacity);
        assert!(state.sessions.len() <= state.capacity);
    }

    #[test]
    fn maxlines_out_of_range_is_an_error() {
        let mut p = Problems::new();
        let ini = Ini::from_text(
            "f.conf",
            "[Definition]\nfailregex = ^x <HOST>\nmaxlines = 5000\n",
            &mut p,
        );
        let err = Fail2banFilter::from_ini("f.conf", &ini, &BTreeMap::new()).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].location, "maxlines");
        assert_eq!(err.0[0].message, "5000 is out of range: expected 1 to 1000");
    }
}

//! The read-only enrichment actions: `enrich.geoip` (country, city and
//! autonomous system from MaxMind `.mmdb` files) and `enrich.rdns`
//! (reverse DNS, forward-confirmed).
//!
//! They run in every mode, simulate included, and change nothing; an
//! address the databases do not know gives nulls, not a failure.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use maxminddb::{Reader, geoip2};
use riposte_playbooks::{ActionResult, StepCall};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::http::show_duration;
use crate::{ActionsError, Input};

/// At most this many reverse lookups wait on the resolver at once (each
/// holds a blocking thread): a burst of alerts cannot exhaust the pool.
const RDNS_SLOTS: usize = 16;

fn parse_ip(input: &Input<'_>) -> Result<IpAddr, String> {
    let text = input.req("ip")?;
    let ip: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| format!("input ip: {text:?} is not an IP address"))?;
    // `::ffff:1.2.3.4` is the IPv4 address, for lookups as for people.
    Ok(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// One opened database.
struct Db {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .field("type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl Db {
    /// Opens `path`; `accepts` checks the database type, so that an ASN
    /// file given as the city database (or the reverse) is caught at start.
    fn open(path: &Path, key: &str, accepts: fn(&str) -> bool) -> Result<Self, ActionsError> {
        let shown = path.display().to_string();
        let reader = Reader::open_readfile(path).map_err(|e| ActionsError::Database {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let kind = reader.metadata().database_type.clone();
        if !accepts(&kind) {
            return Err(ActionsError::WrongDatabase {
                path: shown,
                message: format!("is a {kind:?} database, which {key} cannot use"),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            reader,
        })
    }

    fn decode<'a, T: serde::Deserialize<'a>>(&'a self, ip: IpAddr) -> Result<Option<T>, String> {
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let read = |e: maxminddb::MaxMindDbError| format!("reading {}: {e}", self.path.display());
        self.reader.lookup(ip).map_err(read)?.decode().map_err(read)
    }
}

/// The GeoIP and ASN databases, either or both.
#[derive(Debug)]
pub(crate) struct Geo {
    city: Option<Db>,
    asn: Option<Db>,
}

impl Geo {
    pub(crate) fn open(geoip: Option<&Path>, asn: Option<&Path>) -> Result<Self, ActionsError> {
        Ok(Self {
            city: geoip
                .map(|p| Db::open(p, "actions.geoip", |t| !t.contains("ASN")))
                .transpose()?,
            asn: asn
                .map(|p| Db::open(p, "actions.asn", |t| t.contains("ASN") || t.contains("ISP")))
                .transpose()?,
        })
    }

    pub(crate) fn lookup(&self, call: &StepCall<'_>) -> Result<ActionResult, String> {
        if self.city.is_none() && self.asn.is_none() {
            return Err("no geoip database configured (actions.geoip, actions.asn)".into());
        }
        let ip = parse_ip(&Input::of(call))?;
        let mut out = json!({
            "ip": ip.to_string(), "country_code": null, "country": null, "city": null,
            "asn": null, "as_org": null,
        });
        if let Some(db) = &self.city
            && let Some(rec) = db.decode::<geoip2::City>(ip)?
        {
            out["country_code"] = opt(rec.country.iso_code);
            out["country"] = opt(rec.country.names.english);
            out["city"] = opt(rec.city.names.english);
        }
        if let Some(db) = &self.asn
            && let Some(rec) = db.decode::<geoip2::Asn>(ip)?
        {
            out["asn"] = rec
                .autonomous_system_number
                .map_or(Value::Null, |n| json!(n));
            out["as_org"] = opt(rec.autonomous_system_organization);
        }
        Ok(ActionResult::done(out))
    }
}

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// Reverse DNS through the system resolver (getnameinfo), off the async
/// executor, bounded in time and in concurrency.
#[derive(Debug)]
pub(crate) struct Rdns {
    timeout: Duration,
    slots: Arc<Semaphore>,
}

impl Rdns {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            slots: Arc::new(Semaphore::new(RDNS_SLOTS)),
        }
    }

    /// `{ip, hostname, hostnames, confirmed}`: `hostname` is null when the
    /// address has no name. The name comes from whoever controls the
    /// address's reverse zone (an attacker can name their address
    /// `mail.example.org`), so `confirmed` says whether that name resolves
    /// back to the address.
    pub(crate) async fn lookup(&self, call: &StepCall<'_>) -> Result<ActionResult, String> {
        let ip = parse_ip(&Input::of(call))?;
        let timeout = call.timeout.map_or(self.timeout, |t| t.min(self.timeout));
        let work = async {
            let permit = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| e.to_string())?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                reverse(ip)
            })
            .await
            .map_err(|e| e.to_string())?
        };
        let (name, confirmed) = tokio::time::timeout(timeout, work).await.map_err(|_| {
            format!(
                "reverse lookup of {ip} timed out after {}",
                show_duration(timeout)
            )
        })??;
        Ok(ActionResult::done(json!({
            "ip": ip.to_string(),
            "hostname": name,
            "hostnames": name.iter().collect::<Vec<_>>(),
            "confirmed": confirmed,
        })))
    }
}

/// Blocking: the PTR name of `ip` (None if it has none) and whether the
/// name resolves back to `ip`.
fn reverse(ip: IpAddr) -> Result<(Option<String>, bool), String> {
    use dns_lookup::LookupErrorKind as K;
    let name = match dns_lookup::lookup_addr(&ip) {
        Ok(n) => n,
        Err(e) if matches!(e.kind(), K::NoName | K::NoData) => return Ok((None, false)),
        Err(e) => {
            return Err(format!(
                "reverse lookup of {ip} failed: {}",
                std::io::Error::from(e)
            ));
        }
    };
    let confirmed = dns_lookup::lookup_host(&name)
        .map(|mut addrs| addrs.any(|a| a == ip))
        .unwrap_or(false);
    Ok((Some(name), confirmed))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;
    use crate::testutil::mmdb::{MmdbWriter, Val};
    use crate::testutil::{Call, done, failed};

    fn names(en: &str) -> Val {
        Val::map([
            ("en", Val::str(en)),
            ("de", Val::str(&format!("{en} (de)"))),
        ])
    }

    /// A City database as MaxMind lays it out, made here: two networks.
    fn city_db(dir: &Path) -> PathBuf {
        let mut w = MmdbWriter::new("GeoLite2-City");
        w.insert(
            "81.2.69.0/24",
            Val::map([
                (
                    "city",
                    Val::map([
                        ("geoname_id", Val::U32(2643743)),
                        ("names", names("London")),
                    ]),
                ),
                (
                    "country",
                    Val::map([
                        ("geoname_id", Val::U32(2635167)),
                        ("iso_code", Val::str("GB")),
                        ("names", names("United Kingdom")),
                    ]),
                ),
                (
                    "location",
                    Val::map([
                        ("latitude", Val::F64(51.5142)),
                        ("longitude", Val::F64(-0.0931)),
                    ]),
                ),
            ]),
        );
        w.insert(
            "2001:db8:1::/48",
            Val::map([(
                "country",
                Val::map([("iso_code", Val::str("SE")), ("names", names("Sweden"))]),
            )]),
        );
        let p = dir.join("city.mmdb");
        std::fs::write(&p, w.finish()).unwrap();
        p
    }

    fn asn_db(dir: &Path) -> PathBuf {
        let mut w = MmdbWriter::new("GeoLite2-ASN");
        w.insert(
            "81.2.64.0/19",
            Val::map([
                ("autonomous_system_number", Val::U32(20712)),
                (
                    "autonomous_system_organization",
                    Val::str("Andrews & Arnold Ltd"),
                ),
            ]),
        );
        let p = dir.join("asn.mmdb");
        std::fs::write(&p, w.finish()).unwrap();
        p
    }

    fn geoip(ip: &str) -> Call {
        Call::new("enrich.geoip", json!({"ip": ip}))
    }

    #[test]
    fn the_fixture_is_a_valid_database() {
        let dir = tempfile::tempdir().unwrap();
        let reader = Reader::open_readfile(city_db(dir.path())).unwrap();
        reader.verify().unwrap();
        assert_eq!(reader.metadata().database_type, "GeoLite2-City");
    }

    #[test]
    fn country_city_and_asn() {
        let dir = tempfile::tempdir().unwrap();
        let geo = Geo::open(Some(&city_db(dir.path())), Some(&asn_db(dir.path()))).unwrap();
        assert_eq!(
            done(geo.lookup(&geoip("81.2.69.160").step())),
            json!({"ip": "81.2.69.160", "country_code": "GB", "country": "United Kingdom",
                   "city": "London", "asn": 20712, "as_org": "Andrews & Arnold Ltd"})
        );
        // In the ASN database only.
        assert_eq!(
            done(geo.lookup(&geoip("81.2.70.1").step())),
            json!({"ip": "81.2.70.1", "country_code": null, "country": null,
                   "city": null, "asn": 20712, "as_org": "Andrews & Arnold Ltd"})
        );
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(
            done(geo.lookup(&geoip("::ffff:81.2.69.1").step()))["country_code"],
            "GB"
        );
        assert_eq!(
            done(geo.lookup(&geoip("2001:db8:1::5").step())),
            json!({"ip": "2001:db8:1::5", "country_code": "SE", "country": "Sweden",
                   "city": null, "asn": null, "as_org": null})
        );
        // Unknown: nulls, not a failure.
        assert_eq!(
            done(geo.lookup(&geoip("10.0.0.1").step())),
            json!({"ip": "10.0.0.1", "country_code": null, "country": null,
                   "city": null, "asn": null, "as_org": null})
        );
        assert_eq!(
            failed(geo.lookup(&geoip("81.2.69.300").step())),
            "input ip: \"81.2.69.300\" is not an IP address"
        );
    }

    #[test]
    fn databases_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let city = city_db(dir.path());
        let asn = asn_db(dir.path());
        let err = Geo::open(Some(&asn), None).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: is a \"GeoLite2-ASN\" database, which actions.geoip cannot use",
                asn.display()
            )
        );
        let err = Geo::open(None, Some(&city)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: is a \"GeoLite2-City\" database, which actions.asn cannot use",
                city.display()
            )
        );
        let bogus = dir.path().join("bogus.mmdb");
        std::fs::write(&bogus, b"not a database").unwrap();
        let err = Geo::open(Some(&bogus), None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: cannot open MaxMind database: ",
                bogus.display()
            )),
            "{err}"
        );
        assert_eq!(
            failed(
                Geo::open(None, None)
                    .unwrap()
                    .lookup(&geoip("81.2.69.160").step())
            ),
            "no geoip database configured (actions.geoip, actions.asn)"
        );
    }

    #[tokio::test]
    async fn reverse_dns_of_loopback_is_localhost_and_confirmed() {
        let rdns = Rdns::new(Duration::from_secs(5));
        let out = done(
            rdns.lookup(&Call::new("enrich.rdns", json!({"ip": "127.0.0.1"})).step())
                .await,
        );
        assert_eq!(
            out,
            json!({"ip": "127.0.0.1", "hostname": "localhost", "hostnames": ["localhost"],
                   "confirmed": true})
        );
        assert_eq!(
            failed(
                rdns.lookup(&Call::new("enrich.rdns", json!({"ip": "localhost; id"})).step())
                    .await
            ),
            "input ip: \"localhost; id\" is not an IP address"
        );
    }
}

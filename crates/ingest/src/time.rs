//! One hand-written parser for the ISO 8601 / RFC 3339 timestamps the
//! decoders meet: Suricata's `2026-03-14T09:26:53.123456+0000` (offset
//! without a colon, which RFC 3339 parsers refuse), RFC 5424's
//! `2026-03-14T09:26:53.003Z`, rsyslog's high-precision
//! `2026-03-14T09:26:53.003000+01:00`. Hand-written so that one pass over
//! the bytes handles every variant, because it runs for every EVE record,
//! instead of trying chrono's parsers one after the other.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use riposte_model::Timestamp;

/// What [`parse`] accepts, for error messages.
pub(crate) const EXPECTED: &str = "YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM]";

/// Parses `YYYY-MM-DD(T| )HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]`.
///
/// A timestamp without an offset is taken as UTC (old Suricata versions wrote
/// none). Digits of the fraction beyond nanoseconds are ignored.
pub(crate) fn parse(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let min = digits(b, 14, 2)?;
    let sec = digits(b, 17, 2)?;

    let mut i = 19;
    let mut nanos = 0u32;
    if matches!(b.get(i), Some(b'.' | b',')) {
        (nanos, i) = parse_fraction(b, i + 1)?;
    }

    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hh = digits(b, i + 1, 2)?;
            let mut j = i + 3;
            let mm = if j == b.len() {
                0
            } else {
                if b[j] == b':' {
                    j += 1;
                }
                let mm = digits(b, j, 2)?;
                j += 2;
                mm
            };
            i = j;
            if hh > 23 || mm > 59 {
                return None;
            }
            let secs = i64::from(hh * 3600 + mm * 60);
            if sign == b'-' { -secs } else { secs }
        }
        Some(_) => return None,
    };
    if i != b.len() {
        return None;
    }

    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = if sec == 60 {
        // A leap second, as chrono represents it.
        NaiveTime::from_hms_nano_opt(hour, min, 59, 1_000_000_000 + nanos)?
    } else {
        NaiveTime::from_hms_nano_opt(hour, min, sec, nanos)?
    };
    let utc = NaiveDateTime::new(date, time).checked_sub_signed(TimeDelta::seconds(offset_secs))?;
    Some(Utc.from_utc_datetime(&utc))
}

/// The digits of a fraction of a second starting at `start` (just after its
/// `.`): the nanoseconds they stand for and the index after the last digit.
/// Digits beyond nanoseconds are consumed and ignored. `None` when there is
/// no digit at `start`.
pub(crate) fn parse_fraction(b: &[u8], start: usize) -> Option<(u32, usize)> {
    let mut i = start;
    let mut nanos = 0u32;
    let mut scale = 100_000_000u32;
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        nanos += u32::from(c - b'0') * scale;
        scale /= 10;
        i += 1;
    }
    (i > start).then_some((nanos, i))
}

/// `len` ASCII digits at `at`, as a number.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let slice = b.get(at..at + len)?;
    slice.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn parses_the_variants_decoders_meet() {
        let cases = [
            (
                "2026-03-14T09:26:53.123456+0000",
                "2026-03-14T09:26:53.123456Z",
            ),
            (
                "2026-03-14T10:26:53.123456+0100",
                "2026-03-14T09:26:53.123456Z",
            ),
            ("2026-03-14T09:26:53.003Z", "2026-03-14T09:26:53.003Z"),
            ("2026-03-14T04:26:53-05:00", "2026-03-14T09:26:53Z"),
            ("2026-03-14T09:26:53", "2026-03-14T09:26:53Z"),
            ("2026-03-14 09:26:53+00", "2026-03-14T09:26:53Z"),
            (
                "2026-03-14T09:26:53.1234567891+00:00",
                "2026-03-14T09:26:53.123456789Z",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Some(utc(want)), "{input}");
        }
    }

    #[test]
    fn parse_fraction_reads_digits_up_to_nanoseconds() {
        assert_eq!(parse_fraction(b"12.5x", 3), Some((500_000_000, 4)));
        assert_eq!(parse_fraction(b"003", 0), Some((3_000_000, 3)));
        assert_eq!(parse_fraction(b"1234567891", 0), Some((123_456_789, 10)));
        assert_eq!(parse_fraction(b"x", 0), None);
        assert_eq!(parse_fraction(b"1.", 2), None);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-03-14",
            "2026-13-14T09:26:53Z",
            "2026-02-30T09:26:53Z",
            "2026-03-14T25:26:53Z",
            "2026-03-14T09:26:53.Z",
            "2026-03-14T09:26:53+2500",
            "2026-03-14T09:26:53Zjunk",
            "2026-03-14T09:26:53 +0000",
            "２０２６-03-14T09:26:53Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}

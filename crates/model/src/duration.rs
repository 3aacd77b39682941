//! Durations as people write them in rules, playbooks and configs: `60s`,
//! `4h`, `1h30m`, `7d`.

use chrono::TimeDelta;

/// The longest duration accepted anywhere: 100 years.
pub const MAX_DURATION_DAYS: i64 = 36_500;

/// Parses `<number><unit>` groups (units `ms`, `s`, `m`, `h`, `d`, `w`), e.g.
/// `90s`, `1h30m`. Zero and negative durations are refused because every
/// place that takes a duration (windows, TTLs, intervals) needs a positive one.
/// Durations longer than [`MAX_DURATION_DAYS`] are refused too: nothing
/// needs one, and a timestamp plus such a span could overflow.
pub fn parse_duration(text: &str) -> Result<TimeDelta, String> {
    let err = || format!("invalid duration {text:?} (expected e.g. 60s, 15m, 4h, 1h30m, 7d)");
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    let mut total = TimeDelta::zero();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => TimeDelta::try_milliseconds(n),
            "s" => TimeDelta::try_seconds(n),
            "m" => TimeDelta::try_minutes(n),
            "h" => TimeDelta::try_hours(n),
            "d" => TimeDelta::try_days(n),
            "w" => TimeDelta::try_weeks(n),
            _ => None,
        }
        .ok_or_else(err)?;
        total = total.checked_add(&part).ok_or_else(err)?;
    }
    if total <= TimeDelta::zero() {
        return Err(format!("duration {text:?} must be positive"));
    }
    if total > TimeDelta::days(MAX_DURATION_DAYS) {
        return Err(format!(
            "duration {text:?} is longer than {MAX_DURATION_DAYS}d"
        ));
    }
    Ok(total)
}

/// The inverse of [`parse_duration`], using the largest units that divide the
/// duration exactly: 14400 s → `4h`, 5400 s → `1h30m`.
pub fn format_duration(d: TimeDelta) -> String {
    if d <= TimeDelta::zero() {
        return "0s".to_owned();
    }
    let mut ms = d.num_milliseconds();
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Serde for `Option<TimeDelta>` as the text [`format_duration`] writes
/// (`"4h"`), read back with [`parse_duration`].
pub(crate) mod serde_opt {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeDelta>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| super::parse_duration(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_duration("60s").unwrap(), TimeDelta::seconds(60));
        assert_eq!(parse_duration("1h30m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse_duration("7d").unwrap(), TimeDelta::days(7));
        assert_eq!(format_duration(TimeDelta::hours(4)), "4h");
        assert_eq!(format_duration(TimeDelta::seconds(5400)), "1h30m");
        assert_eq!(format_duration(TimeDelta::seconds(60)), "1m");
    }

    #[test]
    fn refuses_bad_durations() {
        for bad in ["", "4", "h", "4y", "0s", "-5m", "1h x"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_duration("4y").unwrap_err(),
            "invalid duration \"4y\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)"
        );
        assert_eq!(parse_duration("36500d").unwrap(), TimeDelta::days(36_500));
        assert_eq!(
            parse_duration("99999999d").unwrap_err(),
            "duration \"99999999d\" is longer than 36500d"
        );
        assert_eq!(
            parse_duration("36500d1s").unwrap_err(),
            "duration \"36500d1s\" is longer than 36500d"
        );
    }
}

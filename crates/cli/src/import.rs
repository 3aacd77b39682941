//! `riposte import fail2ban`: turns a fail2ban filter (and optionally its
//! jail) into a native rule file that references the filter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use riposte_detect::fail2ban::{Fail2banFilter, Ini};
use riposte_model::{Problems, parse_duration};

/// fail2ban's defaults (jail.conf `[DEFAULT]`).
const DEFAULT_MAXRETRY: u32 = 5;
const DEFAULT_FINDTIME: &str = "10m";

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Print a rule file (version 1) with a threshold rule that uses a
    /// fail2ban filter; warnings go to stderr. A filter that cannot be
    /// translated is refused with every problem listed.
    Fail2ban {
        /// The filter, e.g. /etc/fail2ban/filter.d/sshd.conf.
        filter: PathBuf,
        /// A jail file to take maxretry, findtime and the filter's options
        /// from (jail.conf, jail.local or a jail.d/*.conf file).
        #[arg(long, requires = "name")]
        jail: Option<PathBuf>,
        /// The jail's section name in --jail, e.g. sshd.
        #[arg(long)]
        name: Option<String>,
        /// Filter options as NAME=VALUE, like fail2ban's
        /// `filter = sshd[mode=aggressive]`; repeat or separate with commas.
        #[arg(long = "options", value_delimiter = ',')]
        options: Vec<String>,
    },
}

pub fn run(cmd: ImportCommand) -> anyhow::Result<()> {
    match cmd {
        ImportCommand::Fail2ban {
            filter,
            jail,
            name,
            options,
        } => {
            let (text, warnings) = fail2ban(&filter, jail.as_deref(), name.as_deref(), &options)?;
            for w in warnings {
                eprintln!("warning: {}", crate::commands::terminal_safe(&w));
            }
            print!("{text}");
            Ok(())
        }
    }
}

struct Jail {
    maxretry: u32,
    findtime: String,
    options: BTreeMap<String, String>,
}

fn read_jail(path: &Path, name: &str) -> anyhow::Result<Jail> {
    let mut problems = Problems::new();
    let ini = Ini::load(path, &mut problems);
    if !problems.is_empty() {
        bail!("{problems}");
    }
    if !ini.has_section(name) {
        bail!("{}: no jail [{name}]", path.display());
    }
    let mut vars = BTreeMap::new();
    vars.insert("__name__".to_owned(), name.to_owned());
    let get = |key: &str| -> anyhow::Result<Option<String>> {
        ini.get(name, key, &vars)
            .map_err(|e| anyhow!("{}: [{name}] {key}: {e}", path.display()))
    };
    let maxretry = match get("maxretry")? {
        Some(m) => m.trim().parse().map_err(|_| {
            anyhow!(
                "{}: [{name}] maxretry: expected a number, found {m:?}",
                path.display()
            )
        })?,
        None => DEFAULT_MAXRETRY,
    };
    let findtime = match get("findtime")? {
        Some(f) => window(&f).map_err(|e| anyhow!("{}: [{name}] findtime: {e}", path.display()))?,
        None => DEFAULT_FINDTIME.to_owned(),
    };
    let options = match get("filter")? {
        Some(spec) => filter_spec_options(&spec)
            .map_err(|e| anyhow!("{}: [{name}] filter: {e}", path.display()))?,
        None => BTreeMap::new(),
    };
    Ok(Jail {
        maxretry,
        findtime,
        options,
    })
}

/// fail2ban time: seconds, or `10m`, `1h 30m`, … as riposte writes them.
fn window(text: &str) -> Result<String, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = t.parse().map_err(|_| format!("{t:?} is too large"))?;
        if secs == 0 {
            return Err("must be positive".into());
        }
        return Ok(format!("{secs}s"));
    }
    let compact: String = t.split_whitespace().collect();
    parse_duration(&compact)?;
    Ok(compact)
}

/// `sshd[mode=aggressive, port="22"]` → `{mode: aggressive, port: 22}`.
fn filter_spec_options(spec: &str) -> Result<BTreeMap<String, String>, String> {
    let spec = spec.trim();
    let Some(open) = spec.find('[') else {
        return Ok(BTreeMap::new());
    };
    let inner = spec[open + 1..]
        .strip_suffix(']')
        .ok_or_else(|| format!("{spec:?}: '[' without a closing ']'"))?;
    let mut out = BTreeMap::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not name=value"))?;
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}

fn fail2ban(
    filter: &Path,
    jail: Option<&Path>,
    name: Option<&str>,
    options: &[String],
) -> anyhow::Result<(String, Vec<String>)> {
    let jail = match (jail, name) {
        (Some(j), Some(n)) => Some(read_jail(j, n)?),
        _ => None,
    };
    let mut opts = jail.as_ref().map(|j| j.options.clone()).unwrap_or_default();
    for o in options.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow!("--options {o:?}: expected NAME=VALUE"))?;
        opts.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    let (_compiled, warnings) = Fail2banFilter::load(filter, &opts)
        .map_err(|p| anyhow!("cannot translate the filter: {p}"))?;
    let path = std::fs::canonicalize(filter)
        .with_context(|| format!("cannot resolve {}", filter.display()))?;
    let stem = filter
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "filter".into());
    let rule_name = name.map(str::to_owned).unwrap_or(stem);
    let id: String = format!("fail2ban-{rule_name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let (count, window) = jail
        .as_ref()
        .map_or((DEFAULT_MAXRETRY, DEFAULT_FINDTIME.to_owned()), |j| {
            (j.maxretry, j.findtime.clone())
        });
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!(
        "# Imported by `riposte import fail2ban` from {}.\n",
        path.display()
    ));
    out.push_str("version: 1\nrules:\n");
    out.push_str(&format!("  - id: {id}\n"));
    out.push_str(&format!(
        "    title: {}\n",
        q(&format!("{rule_name} (fail2ban filter)"))
    ));
    out.push_str("    kind: threshold\n");
    out.push_str("    fail2ban:\n");
    out.push_str(&format!(
        "      filter: {}\n",
        q(&path.display().to_string())
    ));
    if !opts.is_empty() {
        out.push_str("      options:\n");
        for (k, v) in &opts {
            out.push_str(&format!("        {}: {}\n", q(k), q(v)));
        }
    }
    out.push_str("    group_by: [source.ip]\n");
    out.push_str(&format!("    count: {count}\n"));
    out.push_str(&format!("    window: {window}\n"));
    out.push_str("    severity: medium\n");
    out.push_str("    tags: [fail2ban]\n");
    // The output must load as it is.
    riposte_detect::parse_rules("<import>", &out)
        .map_err(|p| anyhow!("internal error: the generated rule does not load:\n{p}"))?;
    Ok((out, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jail_values_translate() {
        assert_eq!(window("600").unwrap(), "600s");
        assert_eq!(window("1h 30m").unwrap(), "1h30m");
        assert!(window("0").is_err());
        assert!(window("soon").is_err());
        let o = filter_spec_options("sshd[mode=aggressive, port=\"22\"]").unwrap();
        assert_eq!(o.get("mode").map(String::as_str), Some("aggressive"));
        assert_eq!(o.get("port").map(String::as_str), Some("22"));
        assert!(filter_spec_options("sshd[mode").is_err());
    }
}

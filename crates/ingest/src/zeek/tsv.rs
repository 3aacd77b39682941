//! Zeek's TSV writer: `#` header lines that say how to read the rows after
//! them (separators, field names, types), then one row per record.
//!
//! The header is per stream state. Values are converted by their `#types`
//! type to the representation in [`super::value`], so that the row decodes
//! to the same fields as the JSON writer's line for the same record.

use riposte_model::{CompactString, FieldValue, Timestamp};

use super::{Native, malformed, path_from, valid_path, value};
use crate::DecodeError;
use crate::error::clip;

/// The header of the TSV stream read so far.
#[derive(Debug)]
pub(super) struct TsvState {
    separator: String,
    set_separator: String,
    empty_field: String,
    unset_field: String,
    path: Option<String>,
    fields: Option<Vec<String>>,
    types: Option<Vec<String>>,
    /// Built from the above at the first row after they change.
    columns: Option<Columns>,
}

impl Default for TsvState {
    fn default() -> Self {
        Self {
            separator: "\t".to_owned(),
            set_separator: ",".to_owned(),
            empty_field: "(empty)".to_owned(),
            unset_field: "-".to_owned(),
            path: None,
            fields: None,
            types: None,
            columns: None,
        }
    }
}

/// What a `#` line turned out to be.
pub(super) enum HeaderLine {
    /// A header; the state is updated.
    Header,
    /// Not one of Zeek's header keywords.
    Other,
}

/// The columns of the current header, ready for rows.
#[derive(Debug)]
struct Columns {
    path: String,
    cols: Vec<Column>,
}

#[derive(Debug)]
struct Column {
    /// `zeek.<path>.<name>`.
    full: CompactString,
    name_at: usize,
    ty: ColType,
}

impl Column {
    fn name(&self) -> &str {
        self.full.get(self.name_at..).unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ColType {
    Scalar(Ty),
    /// `set[T]`, `vector[T]`, `table[T]`.
    List(Ty),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ty {
    Time,
    Interval,
    Double,
    Count,
    Int,
    Port,
    Bool,
    /// `string`, `enum`, `addr`, `subnet`, `pattern`, … and any type not
    /// known here: kept as text.
    Text,
    /// No `#types` line: text, except `ts`.
    Untyped,
}

impl Ty {
    fn parse(s: &str) -> Self {
        match s {
            "time" => Ty::Time,
            "interval" => Ty::Interval,
            "double" => Ty::Double,
            "count" | "counter" => Ty::Count,
            "int" => Ty::Int,
            "port" => Ty::Port,
            "bool" => Ty::Bool,
            _ => Ty::Text,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Time => "time",
            Ty::Interval => "interval",
            Ty::Double => "double",
            Ty::Count => "count",
            Ty::Int => "int",
            Ty::Port => "port",
            Ty::Bool => "bool",
            Ty::Text | Ty::Untyped => "string",
        }
    }
}

impl ColType {
    fn parse(s: &str) -> Self {
        let inner = ["set[", "vector[", "table["]
            .iter()
            .find_map(|open| s.strip_prefix(open)?.strip_suffix(']'));
        match inner {
            Some(inner) => ColType::List(Ty::parse(inner)),
            None => ColType::Scalar(Ty::parse(s)),
        }
    }
}

/// One decoded row.
pub(super) struct Row<'s> {
    pub path: &'s str,
    pub ts: Option<Timestamp>,
    pub fields: Vec<Native>,
}

impl TsvState {
    /// Reads a line starting with `#`.
    pub(super) fn header(&mut self, line: &str) -> Result<HeaderLine, DecodeError> {
        if let Some(rest) = line.strip_prefix("#separator")
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            // `#separator \x09`: the one header whose value follows a space,
            // since the separator is not known yet.
            let raw = rest.get(1..).unwrap_or_default();
            let separator = unescape_header(raw);
            if separator.is_empty() {
                return Err(malformed(format!(
                    "empty #separator in header {:?}",
                    clip(line)
                )));
            }
            // A new header block: a new file, or a file appended to another.
            *self = TsvState {
                separator,
                ..TsvState::default()
            };
            return Ok(HeaderLine::Header);
        }
        let body = line.get(1..).unwrap_or_default();
        let (key, value) = body
            .split_once(self.separator.as_str())
            .unwrap_or((body, ""));
        match key {
            "set_separator" => {
                let sep = unescape_header(value);
                if sep.is_empty() {
                    return Err(malformed("empty #set_separator".to_owned()));
                }
                self.set_separator = sep;
            }
            "empty_field" => self.empty_field = unescape_header(value),
            "unset_field" => self.unset_field = unescape_header(value),
            "path" => {
                if !valid_path(value) {
                    return Err(malformed(format!("invalid #path {:?}", clip(value))));
                }
                self.path = Some(value.to_owned());
            }
            "fields" => {
                let fields = self.split(value);
                if fields.iter().any(String::is_empty) {
                    return Err(malformed(format!(
                        "empty field name in #fields {:?}",
                        clip(value)
                    )));
                }
                self.fields = Some(fields);
                self.types = None;
            }
            "types" => self.types = Some(self.split(value)),
            "open" | "close" => return Ok(HeaderLine::Header),
            _ => return Ok(HeaderLine::Other),
        }
        self.columns = None;
        Ok(HeaderLine::Header)
    }

    fn split(&self, value: &str) -> Vec<String> {
        value
            .split(self.separator.as_str())
            .map(str::to_owned)
            .collect()
    }

    /// Whether `line` has exactly as many columns as the current `#fields`;
    /// used for `#` lines that are no header keyword.
    pub(super) fn fits(&self, line: &str) -> bool {
        self.fields
            .as_ref()
            .is_some_and(|f| line.split(self.separator.as_str()).count() == f.len())
    }

    /// Decodes a data row with the current header.
    pub(super) fn row(&mut self, line: &str, source: &str) -> Result<Row<'_>, DecodeError> {
        if self.columns.is_none() {
            self.columns = Some(self.build_columns(source)?);
        }
        let Some(columns) = &self.columns else {
            return Err(malformed("no TSV header".to_owned()));
        };
        let values: Vec<&str> = line.split(self.separator.as_str()).collect();
        if values.len() != columns.cols.len() {
            return Err(malformed(format!(
                "TSV row has {} columns but #fields names {}: {:?}",
                values.len(),
                columns.cols.len(),
                clip(line)
            )));
        }
        let mut ts = None;
        let mut fields = Vec::with_capacity(values.len());
        for (col, raw) in columns.cols.iter().zip(values) {
            if raw == self.unset_field {
                continue;
            }
            if col.name() == "ts" {
                let x = parse_float(raw, col, Ty::Time)?;
                ts = Some(
                    value::timestamp(x).ok_or_else(|| DecodeError::InvalidTimestamp {
                        value: clip(raw),
                        expected: "epoch seconds",
                    })?,
                );
                continue;
            }
            let v = match col.ty {
                ColType::Scalar(Ty::Text | Ty::Untyped) if raw == self.empty_field => {
                    FieldValue::from("")
                }
                ColType::Scalar(ty) => scalar(raw, col, ty)?,
                ColType::List(_) if raw == self.empty_field => FieldValue::List(Vec::new()),
                ColType::List(ty) => {
                    let mut items = Vec::new();
                    for item in raw.split(self.set_separator.as_str()) {
                        if item == self.unset_field {
                            continue;
                        }
                        if item == self.empty_field && matches!(ty, Ty::Text | Ty::Untyped) {
                            items.push(FieldValue::from(""));
                            continue;
                        }
                        items.push(scalar(item, col, ty)?);
                    }
                    FieldValue::List(items)
                }
            };
            fields.push(Native {
                full: col.full.clone(),
                value: v,
            });
        }
        Ok(Row {
            path: &columns.path,
            ts,
            fields,
        })
    }

    fn build_columns(&self, source: &str) -> Result<Columns, DecodeError> {
        let Some(fields) = &self.fields else {
            return Err(malformed(
                "TSV data row before any #fields header".to_owned(),
            ));
        };
        if let Some(types) = &self.types
            && types.len() != fields.len()
        {
            return Err(malformed(format!(
                "#types lists {} types but #fields names {} fields",
                types.len(),
                fields.len()
            )));
        }
        let path = match &self.path {
            Some(p) => p.clone(),
            None => path_from(source, fields.iter().map(String::as_str)),
        };
        let prefix = format!("zeek.{path}.");
        let cols = fields
            .iter()
            .enumerate()
            .map(|(i, name)| Column {
                full: super::concat(&prefix, name),
                name_at: prefix.len(),
                ty: match &self.types {
                    Some(types) => types
                        .get(i)
                        .map_or(ColType::Scalar(Ty::Untyped), |t| ColType::parse(t)),
                    None => ColType::Scalar(Ty::Untyped),
                },
            })
            .collect();
        Ok(Columns { path, cols })
    }
}

/// A header value with its escapes undone (`\x09` → tab).
fn unescape_header(s: &str) -> String {
    value::tsv_string(s).into_owned()
}

fn scalar(raw: &str, col: &Column, ty: Ty) -> Result<FieldValue, DecodeError> {
    Ok(match ty {
        Ty::Time => value::time_field(parse_float(raw, col, ty)?),
        Ty::Interval | Ty::Double => value::float_field(parse_float(raw, col, ty)?),
        Ty::Count => {
            let n: u64 = raw.parse().map_err(|_| invalid(raw, col, ty))?;
            // Like the JSON side: a count beyond i64 stays exact, as text.
            match i64::try_from(n) {
                Ok(i) => FieldValue::Int(i),
                Err(_) => FieldValue::from(n.to_string()),
            }
        }
        Ty::Int => FieldValue::Int(raw.parse().map_err(|_| invalid(raw, col, ty))?),
        Ty::Port => FieldValue::Int(
            raw.parse::<u16>()
                .map(i64::from)
                .map_err(|_| invalid(raw, col, ty))?,
        ),
        Ty::Bool => match raw {
            "T" => FieldValue::Bool(true),
            "F" => FieldValue::Bool(false),
            _ => return Err(invalid(raw, col, ty)),
        },
        Ty::Text | Ty::Untyped => FieldValue::from(&*value::tsv_string(raw)),
    })
}

fn parse_float(raw: &str, col: &Column, ty: Ty) -> Result<f64, DecodeError> {
    raw.parse::<f64>().map_err(|_| invalid(raw, col, ty))
}

fn invalid(raw: &str, col: &Column, ty: Ty) -> DecodeError {
    malformed(format!(
        "field {:?} is not a valid {}: {:?}",
        clip(col.name()),
        ty.name(),
        clip(raw)
    ))
}

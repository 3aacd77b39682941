#![allow(dead_code)] // a writer for tests: not every value type is used yet

//! A minimal MaxMind DB writer, from the format's specification
//! (version 2.0): an IPv6 search tree with 24-bit records (IPv4 networks
//! under `::/96`, where readers look for them), a data section and the
//! metadata map. Enough to make test databases here instead of shipping
//! MaxMind's data.

use std::net::IpAddr;

/// A value in the data section.
#[derive(Clone, Debug)]
pub enum Val {
    Str(String),
    F64(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Bool(bool),
    Map(Vec<(String, Val)>),
    Array(Vec<Val>),
}

impl Val {
    pub fn str(s: &str) -> Self {
        Self::Str(s.to_owned())
    }

    pub fn map<const N: usize>(pairs: [(&str, Val); N]) -> Self {
        Self::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Val::Str(s) => {
                control(out, 2, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Val::F64(f) => {
                control(out, 3, 8);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Val::U16(n) => uint(out, 5, u64::from(*n)),
            Val::U32(n) => uint(out, 6, u64::from(*n)),
            Val::U64(n) => uint(out, 9, *n),
            Val::Bool(b) => control(out, 14, usize::from(*b)),
            Val::Map(pairs) => {
                control(out, 7, pairs.len());
                for (k, v) in pairs {
                    Val::Str(k.clone()).encode(out);
                    v.encode(out);
                }
            }
            Val::Array(items) => {
                control(out, 11, items.len());
                for i in items {
                    i.encode(out);
                }
            }
        }
    }
}

/// An unsigned integer: big-endian, without leading zero bytes.
fn uint(out: &mut Vec<u8>, ty: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    control(out, ty, bytes.len() - start);
    out.extend_from_slice(&bytes[start..]);
}

/// The control byte(s): type (extended types after it), then the size.
fn control(out: &mut Vec<u8>, ty: u8, size: usize) {
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 285 {
        (29, vec![(size - 29) as u8])
    } else if size < 65_821 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    };
    if ty <= 7 {
        out.push((ty << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(ty - 7);
    }
    out.extend(extra);
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

pub struct MmdbWriter {
    database_type: String,
    nodes: Vec<[Rec; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    pub fn new(database_type: &str) -> Self {
        Self {
            database_type: database_type.to_owned(),
            nodes: vec![[Rec::Empty; 2]],
            data: Vec::new(),
        }
    }

    /// Adds a network (`81.2.69.0/24`, `2001:db8::/32`); networks must
    /// not nest.
    pub fn insert(&mut self, network: &str, value: Val) {
        let (addr, len) = network.split_once('/').unwrap();
        let (bits, len): (u128, u32) = match addr.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), len.parse::<u32>().unwrap() + 96),
            IpAddr::V6(v6) => (u128::from(v6), len.parse().unwrap()),
        };
        let offset = self.data.len();
        value.encode(&mut self.data);
        let mut node = 0;
        for i in 0..len {
            let bit = ((bits >> (127 - i)) & 1) as usize;
            if i == len - 1 {
                self.nodes[node][bit] = Rec::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Rec::Node(n) => n,
                Rec::Empty => {
                    self.nodes.push([Rec::Empty; 2]);
                    let n = self.nodes.len() - 1;
                    self.nodes[node][bit] = Rec::Node(n);
                    n
                }
                Rec::Data(_) => panic!("{network} nests in another network"),
            };
        }
    }

    pub fn finish(self) -> Vec<u8> {
        let count = self.nodes.len();
        let mut out = Vec::new();
        for node in &self.nodes {
            for rec in node {
                let v = match *rec {
                    Rec::Empty => count,
                    Rec::Node(n) => n,
                    Rec::Data(off) => count + 16 + off,
                };
                out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        Val::map([
            ("binary_format_major_version", Val::U16(2)),
            ("binary_format_minor_version", Val::U16(0)),
            ("build_epoch", Val::U64(1_700_000_000)),
            ("database_type", Val::Str(self.database_type)),
            (
                "description",
                Val::map([("en", Val::str("Riposte test database"))]),
            ),
            ("ip_version", Val::U16(6)),
            ("languages", Val::Array(vec![Val::str("en")])),
            ("node_count", Val::U32(count as u32)),
            ("record_size", Val::U16(24)),
        ])
        .encode(&mut out);
        out
    }
}

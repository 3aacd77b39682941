//! `windows-xml`: one `<Event>` element per record, as Windows' XML view,
//! `wevtutil qe /f:xml` and forwarded-event collectors write it.
//!
//! The XML is turned into the tree the `evtx` crate gives for the same
//! record — attributes under `#attributes`, a leaf element as its text, an
//! empty one as `null`, named `<Data Name="X">` of EventData as keys and the
//! unnamed ones in `Data.#text` — and that tree goes through the same
//! [`super::normalize`] as every Windows event. Text between elements that
//! have child elements is ignored: Windows' XML view copied from a browser
//! carries `- ` fold markers there.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event as XmlEvent};
use riposte_model::Event;
use serde_json::{Map, Value};

use crate::error::clip;
use crate::{DecodeCtx, DecodeError, RecordDecoder};

const FORMAT: &str = "windows-xml";

/// Elements nested deeper than this are refused; Windows events are about
/// six deep.
const MAX_DEPTH: usize = 64;

/// The `windows-xml` format's decoder; stateless.
#[derive(Debug)]
pub(crate) struct WindowsXmlDecoder;

impl RecordDecoder for WindowsXmlDecoder {
    fn decode(&mut self, text: &str, _ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        let tree = xml_to_tree(text)?;
        super::normalize(tree, FORMAT).map(Some)
    }
}

fn malformed(reason: String) -> DecodeError {
    DecodeError::Malformed {
        format: FORMAT,
        reason,
    }
}

/// An element being read.
#[derive(Default)]
struct Frame {
    name: String,
    attributes: Map<String, Value>,
    children: Map<String, Value>,
    /// The unnamed `<Data>` of an EventData element.
    unnamed_data: Vec<Value>,
    text: String,
}

impl Frame {
    fn open(start: &BytesStart<'_>) -> Result<Self, DecodeError> {
        let mut attributes = Map::new();
        for attr in start.attributes() {
            let attr =
                attr.map_err(|e| malformed(format!("bad attribute: {}", clip(&e.to_string()))))?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| malformed(format!("bad attribute value: {}", clip(&e.to_string()))))?;
            attributes.insert(
                attr.key.as_ref().to_owned(),
                Value::String(value.into_owned()),
            );
        }
        Ok(Self {
            name: start.local_name().as_ref().to_owned(),
            attributes,
            ..Self::default()
        })
    }

    /// The element's value in the `evtx` JSON shape.
    fn close(mut self) -> Value {
        if !self.unnamed_data.is_empty() {
            let mut data = Map::new();
            data.insert("#text".to_owned(), Value::Array(self.unnamed_data));
            self.children.insert("Data".to_owned(), Value::Object(data));
        }
        let text = if self.text.is_empty() {
            Value::Null
        } else {
            Value::String(self.text)
        };
        match (self.attributes.is_empty(), self.children.is_empty()) {
            (true, true) => text,
            (false, true) => {
                let mut o = Map::new();
                o.insert("#attributes".to_owned(), Value::Object(self.attributes));
                if !text.is_null() {
                    o.insert("#text".to_owned(), text);
                }
                Value::Object(o)
            }
            (attributes_empty, false) => {
                let mut o = Map::new();
                if !attributes_empty {
                    o.insert("#attributes".to_owned(), Value::Object(self.attributes));
                }
                o.extend(self.children);
                Value::Object(o)
            }
        }
    }

    /// Adds a closed child element.
    fn adopt(&mut self, mut child: Frame) {
        if self.name == "EventData" && child.name == "Data" {
            let text = if child.text.is_empty() {
                Value::Null
            } else {
                Value::String(std::mem::take(&mut child.text))
            };
            match child.attributes.remove("Name") {
                Some(Value::String(name)) => {
                    self.children.insert(name, text);
                }
                _ => self.unnamed_data.push(text),
            }
            return;
        }
        let name = std::mem::take(&mut child.name);
        let value = child.close();
        // A repeated element becomes an array, as in the evtx crate's JSON.
        match self.children.get_mut(&name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                self.children.insert(name, value);
            }
        }
    }
}

/// Parses one `<Event>` element into the `evtx` crate's JSON shape,
/// `{"Event":{…}}`. Anything after the element's end is ignored.
pub(crate) fn xml_to_tree(text: &str) -> Result<Value, DecodeError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            malformed(format!(
                "invalid XML at byte {}: {}",
                reader.error_position(),
                clip(&e.to_string())
            ))
        })?;
        let closed = match event {
            XmlEvent::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed(format!(
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                stack.push(Frame::open(&start)?);
                continue;
            }
            XmlEvent::Empty(start) => Frame::open(&start)?,
            XmlEvent::End(_) => match stack.pop() {
                Some(frame) => frame,
                None => return Err(malformed("closing tag without an element".to_owned())),
            },
            XmlEvent::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.into_inner());
                }
                continue;
            }
            XmlEvent::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.into_inner());
                }
                continue;
            }
            XmlEvent::GeneralRef(r) => {
                let resolved = resolve_reference(&r)?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(resolved);
                }
                continue;
            }
            XmlEvent::Comment(_) | XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::DocType(_) => {
                continue;
            }
            XmlEvent::Eof => {
                return Err(match stack.last() {
                    Some(open) => {
                        malformed(format!("truncated: <{}> is not closed", clip(&open.name)))
                    }
                    None => malformed("no <Event> element".to_owned()),
                });
            }
        };
        match stack.last_mut() {
            // Text beside child elements is layout, not content: `close`
            // ignores the text of an element that has children.
            Some(parent) => parent.adopt(closed),
            None => {
                if closed.name != "Event" {
                    return Err(malformed(format!(
                        "the root element is <{}>, expected <Event>",
                        clip(&closed.name)
                    )));
                }
                let mut root = Map::new();
                root.insert("Event".to_owned(), closed.close());
                return Ok(Value::Object(root));
            }
        }
    }
}

/// The character an entity or character reference stands for; XML's five
/// predefined entities only, since an event record has no DTD.
fn resolve_reference(r: &BytesRef<'_>) -> Result<char, DecodeError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c),
        Ok(None) => {}
        Err(e) => {
            return Err(malformed(format!(
                "bad character reference: {}",
                clip(&e.to_string())
            )));
        }
    }
    match &*r.borrow().into_inner() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(malformed(format!("unknown entity &{};", clip(other)))),
    }
}

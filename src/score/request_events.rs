//! A customer's `events: [{timestamp, event, product?, category?}]` in a JSON request: read
//! by the interaction log's rules ([`crate::data::events::read_stamp`],
//! [`EventKind::of`], [`rows::product_key`]) so the event features over HTTP are the
//! trainer's. A timestamp is an ISO 8601 date-time (`2024-03-01T10:00:00Z`, a space for
//! the `T`) or Unix seconds as a number; a date alone cannot place a session and is an error.

use serde_json::Value;

use super::request::{err, kind, InputError};
use crate::data::events::{read_stamp, Event, EventKind, Stamp};
use crate::data::rows::{self, Cell};

/// A customer's events (sorted by time) and the names of their categories.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Events {
    pub events: Vec<Event>,
    pub categories: Vec<String>,
}

/// Reads `events` (an array of at most `max` objects); errors name `events[i].FIELD`.
pub fn parse_events(v: &Value, max: usize) -> Result<Events, InputError> {
    let Value::Array(items) = v else {
        return Err(err(
            "events",
            "invalid_type",
            format!("expected an array of events, got {}", kind(v)),
        ));
    };
    if items.len() > max {
        return Err(err(
            "events",
            "too_many_events",
            format!("{} events, more than the limit of {max}", items.len()),
        ));
    }
    let mut out = Events::default();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("events[{i}].{f}");
        let Value::Object(o) = item else {
            return Err(err(
                format!("events[{i}]"),
                "invalid_type",
                format!("expected an object, got {}", kind(item)),
            ));
        };
        let stamp = match o.get("timestamp") {
            Some(Value::String(s)) => read_stamp(Cell::Text(s)),
            Some(Value::Number(n)) => n.as_f64().and_then(|x| read_stamp(Cell::Number(x))),
            None | Some(Value::Null) => {
                return Err(err(
                    at("timestamp"),
                    "missing_field",
                    "every event needs a timestamp",
                ))
            }
            Some(other) => {
                return Err(err(
                    at("timestamp"),
                    "invalid_type",
                    format!(
                        "expected a date-time string or Unix seconds, got {}",
                        kind(other)
                    ),
                ))
            }
        };
        let seconds = stamp
            .filter(|s| s.has_clock() && iso_or_epoch(s))
            .and_then(|s| s.seconds(None))
            .ok_or_else(|| {
                err(
                    at("timestamp"),
                    "invalid_value",
                    "expected an ISO 8601 date-time (2024-03-01T10:00:00Z) or Unix seconds",
                )
            })?;
        let kind_of = match o.get("event") {
            Some(Value::String(s)) if !crate::data::is_missing(s.trim()) => EventKind::of(s),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(err(
                    at("event"),
                    "missing_field",
                    "every event needs an event name",
                ))
            }
            Some(other) => {
                return Err(err(
                    at("event"),
                    "invalid_type",
                    format!("expected a string such as \"view\", got {}", kind(other)),
                ))
            }
        };
        let product = match o.get("product") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) => rows::product_key(Some(Cell::Text(s))),
            Some(Value::Number(n)) => rows::product_key(n.as_f64().map(Cell::Number)),
            Some(other) => return Err(text_error(at("product"), other)),
        };
        let category = match o.get("category") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) if crate::data::is_missing(s.trim()) => 0,
            Some(Value::String(s)) => out.intern(s.trim()),
            Some(Value::Number(n)) => out.intern(&n.to_string()),
            Some(other) => return Err(text_error(at("category"), other)),
        };
        out.events.push(Event {
            at: seconds,
            kind: kind_of,
            product,
            category,
        });
    }
    out.events.sort_by_key(|e| e.at);
    Ok(out)
}

/// Over HTTP a date-time must read one way: ISO, or Unix seconds.
fn iso_or_epoch(s: &Stamp) -> bool {
    match s {
        Stamp::Epoch(_) => true,
        Stamp::Dated { reading, .. } => matches!(reading, crate::data::dates::Reading::Same(_)),
    }
}

fn text_error(field: String, v: &Value) -> InputError {
    err(
        field,
        "invalid_type",
        format!("expected a string or number, got {}", kind(v)),
    )
}

impl Events {
    fn intern(&mut self, name: &str) -> u32 {
        match self.categories.iter().position(|c| c == name) {
            Some(i) => i as u32 + 1,
            None => {
                self.categories.push(name.to_string());
                self.categories.len() as u32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_read_with_iso_or_epoch_timestamps_and_sort() {
        let e = parse_events(
            &json!([
                {"timestamp": "2024-03-01T10:30:00Z", "event": "cart", "category": "shoes"},
                {"timestamp": 1_709_287_200, "event": "view", "product": 7, "category": "shoes"},
            ]),
            10,
        )
        .unwrap();
        assert_eq!(e.events[0].kind, EventKind::View, "10:00 before 10:30");
        assert_eq!(e.events[1].at - e.events[0].at, 1800);
        assert_eq!(e.categories, ["shoes"]);
        assert_eq!((e.events[0].category, e.events[1].category), (1, 1));
        assert_ne!(e.events[0].product, 0);
    }

    #[test]
    fn a_bad_event_names_its_field() {
        let field = |v: Value| parse_events(&v, 10).unwrap_err().field;
        assert_eq!(field(json!([{"event": "view"}])), "events[0].timestamp");
        assert_eq!(
            field(json!([{"timestamp": "2024-03-01", "event": "view"}])),
            "events[0].timestamp",
            "a date alone places no session"
        );
        assert_eq!(
            field(json!([{"timestamp": "03/04/2024 10:00", "event": "view"}])),
            "events[0].timestamp"
        );
        assert_eq!(
            field(json!([{"timestamp": "2024-03-01T10:00:00Z"}])),
            "events[0].event"
        );
        assert_eq!(
            field(json!([{"timestamp": "2024-03-01T10:00:00Z", "event": "view", "category": []}])),
            "events[0].category"
        );
        assert_eq!(field(json!({"event": "view"})), "events");
        let many = Value::Array(vec![json!({"timestamp": 1, "event": "view"}); 3]);
        assert_eq!(parse_events(&many, 2).unwrap_err().code, "too_many_events");
    }
}

//! The audit log: one JSON line per authentication event, with the time, the
//! user id when known and the client address. Never a password, a hash, a
//! token or a secret.

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::clock::{rfc3339, Clock};

type Sink = dyn Fn(&str) + Send + Sync;

/// Where audit lines go: standard output by default (whatever Rocket's log
/// level), or any sink a test or an embedder gives.
#[derive(Clone)]
pub struct Audit {
    sink: Arc<Sink>,
}

impl Default for Audit {
    fn default() -> Self {
        Self::stdout()
    }
}

impl Audit {
    /// Writes each line to standard output.
    pub fn stdout() -> Self {
        Self::to(|line| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        })
    }

    /// Sends each line to `sink`.
    pub fn to(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self {
            sink: Arc::new(sink),
        }
    }

    /// Records one event. `fields` must be an object (extra keys).
    pub fn event(
        &self,
        clock: &Clock,
        event: &str,
        user_id: Option<i64>,
        client: Option<IpAddr>,
        fields: Value,
    ) {
        let mut line = Map::new();
        line.insert("time".into(), json!(rfc3339(clock.now())));
        line.insert("audit".into(), json!(event));
        line.insert("user_id".into(), json!(user_id));
        line.insert("client".into(), json!(client.map(|ip| ip.to_string())));
        if let Value::Object(extra) = fields {
            line.extend(extra);
        }
        (self.sink)(&Value::Object(line).to_string());
    }
}

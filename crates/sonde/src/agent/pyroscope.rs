//! The fleet sink: profiles pushed to Grafana Pyroscope's ingestion API, as
//! pyroscope-rs and Grafana Alloy push them.
//!
//! The request is Connect's unary call `POST {base}/push.v1.PusherService/Push`
//! with `Content-Type: application/proto` and the whole body gzipped
//! (`Content-Encoding: gzip`), as pyroscope-rs sends it (`src/session.rs`).
//! The message types below are those of grafana/pyroscope's
//! `api/push/v1/push.proto` and `api/types/v1/types.proto` (at 3fe6a45),
//! derived with prost, field numbers as there:
//!
//! ```text
//! message PushRequest      { repeated RawProfileSeries series = 1; }
//! message RawProfileSeries { repeated types.v1.LabelPair labels = 1; repeated RawSample samples = 2; }
//! message RawSample        { bytes raw_profile = 1; string ID = 2; }
//! message LabelPair        { string name = 1; string value = 2; }   // types.v1
//! ```
//!
//! Labels: `__name__` is Pyroscope's profile-type name (`process_cpu`,
//! `memory`, `goroutine`, `mutex`, `block`, and sonde's `tasks`, `wall`),
//! `service_name` is required (the server rejects a push without it: "service
//! name is not provided"), then the agent's labels, and `__delta__="false"`:
//! the agent pushes deltas already, so that no storage version subtracts them
//! again (v1 would for `memory`'s `alloc_*`; v2 ignores the label).

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use prost::Message;
use sonde_profile::Profile;

use super::sink::{Collected, Sink, SinkError};

/// `push.v1.PushRequest`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct PushRequest {
    /// Field 1: the series pushed.
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

/// `push.v1.RawProfileSeries`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawProfileSeries {
    /// Field 1: the series' labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    /// Field 2: its profiles.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

/// `types.v1.LabelPair`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct LabelPair {
    /// Field 1.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Field 2.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `push.v1.RawSample`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawSample {
    /// Field 1: the pprof profile's bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    /// Field 2 (`ID`): a unique id of the profile (a UUID).
    #[prost(string, tag = "2")]
    pub id: String,
}

/// Pushes profiles to a Grafana Pyroscope server (or Grafana Cloud Profiles):
/// the step from one machine's [`LocalStore`](super::LocalStore) to a fleet.
/// Add it as one more sink; both can run side by side.
///
/// ```no_run
/// use sonde::agent::{self, LocalStore, Pyroscope};
///
/// # fn main() -> Result<(), sonde::Error> {
/// let agent = agent::builder("checkout")
///     .sink(LocalStore::new("./profiles"))
///     .sink(Pyroscope::new("http://pyroscope:4040").tenant("team-a"))
///     .start()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pyroscope {
    base: String,
    auth: Option<String>,
    tenant: Option<String>,
    timeout: Duration,
    headers: Vec<(String, String)>,
    /// The previous `heap` profile, whose `alloc_*` this one's are pushed net of.
    last_heap: Option<Profile>,
    ids: u64,
    /// The HTTP client, made at the first push and kept (its connections and
    /// TLS configuration are reused).
    client: Option<ureq::Agent>,
    /// When sends must end (the agent's stop), if set.
    deadline: Option<std::time::Instant>,
}

impl std::fmt::Debug for Pyroscope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Pyroscope")
            .field("base", &self.base)
            .field("tenant", &self.tenant)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pyroscope {
    /// Pushes to the server at `base` (`http://pyroscope:4040`; Pyroscope's
    /// own port is 4040). The push URL is `{base}/push.v1.PusherService/Push`.
    /// Each push times out after 10 s (pyroscope-rs's timeout).
    pub fn new(base: impl Into<String>) -> Pyroscope {
        Pyroscope {
            base: base.into().trim_end_matches('/').to_string(),
            auth: None,
            tenant: None,
            timeout: Duration::from_secs(10),
            headers: Vec::new(),
            last_heap: None,
            ids: 0,
            client: None,
            deadline: None,
        }
    }

    /// HTTP basic authentication (Grafana Cloud: the stack's user id and an
    /// access token).
    pub fn basic_auth(mut self, user: &str, password: &str) -> Pyroscope {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.auth = Some(format!("Basic {token}"));
        self
    }

    /// The tenant of a multi-tenant server (header `X-Scope-OrgID`).
    pub fn tenant(mut self, tenant: &str) -> Pyroscope {
        self.tenant = Some(tenant.to_string());
        self
    }

    /// Each push's timeout, connection to answer (default 10 s; 100 ms to
    /// 10 min, else [`Builder::start`](super::Builder::start) refuses it).
    pub fn timeout(mut self, timeout: Duration) -> Pyroscope {
        self.timeout = timeout;
        self
    }

    /// One more header on every push (a proxy's key).
    pub fn header(mut self, name: &str, value: &str) -> Pyroscope {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The push URL.
    pub fn url(&self) -> String {
        format!("{}/push.v1.PusherService/Push", self.base)
    }

    /// A UUID (version 4 layout) from the process's random hasher keys, the
    /// time and a counter: unique, which is all Pyroscope asks of the `ID`.
    fn next_id(&mut self) -> String {
        use std::hash::BuildHasher;
        self.ids += 1;
        let state = std::collections::hash_map::RandomState::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let hi = state.hash_one((now, self.ids, 1u8));
        let lo = state.hash_one((now, self.ids, 2u8));
        let b = ((u128::from(hi) << 64) | u128::from(lo)) & !(0xf000u128 << 64) & !(0xc0u128 << 56);
        let b = b | (0x4000u128 << 64) | (0x80u128 << 56);
        let h = format!("{b:032x}");
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }
}

/// Pyroscope's profile-type name for a registry kind.
fn pyroscope_name(kind: &str) -> &str {
    match kind {
        "profile" => "process_cpu",
        "heap" | "allocs" => "memory",
        other => other,
    }
}

/// `p` with only the sample types at `keep`, samples left without value dropped.
fn keep_columns(mut p: Profile, keep: &[usize]) -> Profile {
    p.sample_types = keep.iter().map(|&i| p.sample_types[i].clone()).collect();
    for s in &mut p.samples {
        s.values = keep.iter().map(|&i| s.values[i]).collect();
    }
    p.samples.retain(|s| s.values.iter().any(|&v| v != 0));
    p
}

impl Sink for Pyroscope {
    type Payload = Vec<u8>;

    fn name(&self) -> String {
        format!("pyroscope {}", self.base)
    }

    fn prepare(&mut self, c: &Collected) -> Result<Option<Vec<u8>>, SinkError> {
        let profile: Profile = match c.kind {
            // Alloy's `memory`: `alloc_*` as a delta since the previous
            // push, `inuse_*` as they are. The first push has no allocations.
            "heap" => {
                let now = (*c.profile).clone();
                let mut before = self.last_heap.replace(now.clone()).unwrap_or_else(|| now.clone());
                before.scale_each(&[1.0, 1.0, 0.0, 0.0]);
                let (time, duration) = (now.time_nanos, now.duration_nanos);
                let mut d = now
                    .subtract(before)
                    .map_err(|e| SinkError::fatal(format!("heap delta: {e}")))?;
                // Timed as the snapshot (a merge keeps the earlier time).
                (d.time_nanos, d.duration_nanos) = (time, duration);
                d
            }
            // A delta of all four: the in-use columns of a delta mean nothing.
            "allocs" => keep_columns((*c.profile).clone(), &[0, 1]),
            _ => (*c.profile).clone(),
        };
        let mut labels: Vec<LabelPair> = vec![
            LabelPair {
                name: "__name__".into(),
                value: pyroscope_name(c.kind).into(),
            },
            LabelPair {
                name: "__delta__".into(),
                value: "false".into(),
            },
        ];
        labels.extend(c.labels.iter().map(|(k, v)| LabelPair {
            name: k.clone(),
            value: v.clone(),
        }));
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let request = PushRequest {
            series: vec![RawProfileSeries {
                labels,
                samples: vec![RawSample {
                    raw_profile: profile.encode_uncompressed(),
                    id: self.next_id(),
                }],
            }],
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&request.encode_to_vec())
            .and_then(|_| gz.finish())
            .map(Some)
            .map_err(|e| SinkError::fatal(format!("compressing the push: {e}")))
    }

    fn check(&self) -> Result<(), String> {
        let rest = self
            .base
            .strip_prefix("http://")
            .or_else(|| self.base.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/') || r.contains(char::is_whitespace)) {
            return Err(format!(
                "{:?} is not a server's base URL; give one like http://pyroscope:4040 or https://profiles-prod-001.grafana.net",
                self.base
            ));
        }
        if self.timeout < Duration::from_millis(100) || self.timeout > Duration::from_secs(600) {
            return Err(format!(
                "the push timeout ({:?}) must be between 100 ms and 10 min",
                self.timeout
            ));
        }
        for (k, v) in &self.headers {
            let token = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token || v.chars().any(|c| c.is_control() && c != '\t') {
                return Err(format!(
                    "the header {k:?}: {v:?} is not a valid HTTP header (a name of token characters, a value without control characters)"
                ));
            }
        }
        Ok(())
    }

    fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
    }

    fn send(&mut self, body: &Vec<u8>) -> Result<(), SinkError> {
        // Within the stop's deadline, if the agent is stopping.
        let timeout = match self.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left < Duration::from_millis(10) {
                    return Err(SinkError::fatal(
                        "the agent stopped before this profile could be pushed",
                    ));
                }
                left.min(self.timeout)
            }
            None => self.timeout,
        };
        let agent_timeout = self.timeout;
        let agent = self.client.get_or_insert_with(|| {
            ureq::Agent::config_builder()
                .timeout_global(Some(agent_timeout))
                .http_status_as_error(false)
                .user_agent(concat!("sonde-agent/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        });
        let url = format!("{}/push.v1.PusherService/Push", self.base);
        let mut req = agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Content-Type", "application/proto")
            .header("Content-Encoding", "gzip")
            .header("Connect-Protocol-Version", "1");
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        if let Some(tenant) = &self.tenant {
            req = req.header("X-Scope-OrgID", tenant);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut resp = req.send(&body[..]).map_err(|e| match e {
            ureq::Error::Timeout(_) => SinkError::retry(format!("pushing to {url}: no answer within {timeout:?}")),
            e => SinkError::retry(format!("pushing to {url}: {e}")),
        })?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        // Connect's error body: {"code": "...", "message": "..."}.
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
            .unwrap_or_else(|| text.trim().chars().take(300).collect());
        let what = format!("pushing to {url}: HTTP {status}: {message}");
        let hint = match status {
            401 | 403 => "; check the credentials (basic_auth) and the tenant (X-Scope-OrgID)",
            404 => "; is this Pyroscope's base URL (without a path)?",
            _ => "",
        };
        if status == 408 || status == 429 || status >= 500 {
            Err(SinkError::retry(what))
        } else {
            Err(SinkError::fatal(format!("{what}{hint}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_v4_and_unique() {
        let mut p = Pyroscope::new("http://x:4040/");
        assert_eq!(p.url(), "http://x:4040/push.v1.PusherService/Push");
        let (a, b) = (p.next_id(), p.next_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }

    #[test]
    fn bad_settings_are_refused_at_start() {
        for bad in ["not a url", "ftp://x", "", "http://", "http:///x"] {
            let e = Pyroscope::new(bad).check().expect_err(bad);
            assert!(e.contains("http://pyroscope:4040"), "{e}");
        }
        assert!(Pyroscope::new("http://x").timeout(Duration::MAX).check().is_err());
        assert!(Pyroscope::new("http://x").timeout(Duration::ZERO).check().is_err());
        assert!(
            Pyroscope::new("http://x")
                .header("X-Key", "a\nb")
                .check()
                .expect_err("newline")
                .contains("X-Key")
        );
        assert!(Pyroscope::new("https://x:4040/").header("X-Key", "v").check().is_ok());
    }

    #[test]
    fn credentials_stay_out_of_debug() {
        let p = Pyroscope::new("http://x").basic_auth("user", "secret");
        assert!(!format!("{p:?}").contains("secret"));
        assert_eq!(p.auth.as_deref(), Some("Basic dXNlcjpzZWNyZXQ="));
    }
}

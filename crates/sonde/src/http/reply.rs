//! Responses as Go's `net/http/pprof` writes them: every one with
//! `X-Content-Type-Options: nosniff`; profiles as `application/octet-stream`
//! attachments; errors as `text/plain; charset=utf-8` with `X-Go-Pprof: 1`
//! (`go tool pprof` shows the server's text only when that header is there)
//! and the text plus a newline (Go's `serveError`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use sonde_profile::Profile;

const NOSNIFF: (&str, &str) = ("x-content-type-options", "nosniff");
const TEXT: &str = "text/plain; charset=utf-8";

fn build(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(NOSNIFF.0, HeaderValue::from_static(NOSNIFF.1));
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    r
}

/// Go's `serveError`: `status` with `text` and a newline.
fn error(status: StatusCode, text: &str) -> Response {
    let mut r = build(status, TEXT, format!("{text}\n"));
    r.headers_mut().insert("x-go-pprof", HeaderValue::from_static("1"));
    r
}

/// A body built in sonde's own memory (quietly, on a profile worker): freed
/// quietly too, on whichever thread the server drops it, so that it counts
/// neither as the program's allocation nor as its free.
struct Quiet(Vec<u8>);

impl AsRef<[u8]> for Quiet {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.0);
        crate::alloc::quietly(|| drop(bytes));
    }
}

/// A body of bytes allocated quietly.
pub(super) fn quiet(bytes: Vec<u8>) -> Body {
    Body::from(axum::body::Bytes::from_owner(Quiet(bytes)))
}

/// A 200 text reply (`debug=N`, `cmdline`, `symbol`) of text allocated
/// quietly.
pub(super) fn text(body: String) -> Response {
    build(StatusCode::OK, TEXT, quiet(body.into_bytes()))
}

/// A 200 reply of `content_type` (the index's HTML, a flame graph's SVG) of
/// bytes allocated quietly.
pub(super) fn typed(content_type: &str, body: Vec<u8>) -> Response {
    build(StatusCode::OK, content_type, quiet(body))
}

/// A profile's bytes as Go sends them: gzipped protobuf (`Err` with the
/// reason when encoding fails). Call quietly (on a profile worker).
pub(super) fn gzip(p: Profile) -> Result<Vec<u8>, String> {
    let mut gz = Vec::new();
    p.write_to(&mut gz)
        .map_err(|e| format!("failed to encode the profile: {e}"))?;
    Ok(gz)
}

/// A profile as Go sends it: [`gzip`]'s bytes, an attachment named `filename`.
pub(super) fn profile(gz: Result<Vec<u8>, String>, filename: &str) -> Response {
    let gz = match gz {
        Ok(gz) => gz,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let mut r = build(StatusCode::OK, "application/octet-stream", quiet(gz));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// A request refused or failed: Go's error reply, made small to pass around.
#[derive(Debug)]
pub(super) struct Reject {
    status: StatusCode,
    text: String,
    /// Whether to ask for a bearer token (`WWW-Authenticate: Bearer`).
    ask_token: bool,
}

impl Reject {
    /// `status` with `text`.
    pub(super) fn new(status: StatusCode, text: impl Into<String>) -> Reject {
        Reject {
            status,
            text: text.into(),
            ask_token: false,
        }
    }

    /// 401, asking for a bearer token.
    pub(super) fn unauthorized(text: &str) -> Reject {
        Reject {
            ask_token: true,
            ..Reject::new(StatusCode::UNAUTHORIZED, text)
        }
    }
}

impl From<Reject> for Response {
    fn from(r: Reject) -> Response {
        let mut resp = error(r.status, &r.text);
        if r.ask_token {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

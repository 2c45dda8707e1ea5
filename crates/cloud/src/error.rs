//! The errors of the cloud room. `ApiError` is one refused API call with every error body format
//! of Huawei's services parsed into one shape; `CloudError` adds transport, decoding, job and wait
//! failures, each naming the service and operation so the user knows what failed.

use std::time::Duration;

use serde_json::Value;

/// One API call that the server answered with an error status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The service's code (`Ecs.0001`, `APIGW.0301`, `404` when the body had none).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub service: String,
    pub operation: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.service, self.operation, self.status)?;
        if !self.code.is_empty() && self.code != self.status.to_string() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, " {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Builds the error of a response from its status, body and request id.
    pub fn from_response(service: &str, operation: &str, status: u16, body: &[u8], request_id: Option<String>) -> ApiError {
        let parsed = parse_error_body(body);
        let (code, message, body_request_id) = match parsed {
            Some(p) => p,
            None => {
                let raw = String::from_utf8_lossy(body);
                let raw = raw.trim();
                // Keep the message readable when a proxy returns a whole HTML page.
                let message: String = raw.chars().take(500).collect();
                (status.to_string(), message, None)
            }
        };
        ApiError {
            status,
            code,
            message,
            request_id: request_id.or(body_request_id),
            service: service.to_string(),
            operation: operation.to_string(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    /// Throttled or a server-side fault: worth retrying when the call is idempotent.
    pub fn is_retryable(&self) -> bool {
        self.status == 429 || self.status >= 500
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses the error formats of §4 in the SDKs' order: `error_code/error_msg`, `errorCode/errorMsg`,
/// `code/message`, then nested objects (`{"error":{...}}`, `{"itemNotFound":{...}}`).
/// Returns (code, message, request id in the body), or `None` for anything else.
pub fn parse_error_body(body: &[u8]) -> Option<(String, String, Option<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    parse_error_value(&v, 0)
}

fn parse_error_value(v: &Value, depth: usize) -> Option<(String, String, Option<String>)> {
    let obj = v.as_object()?;
    let request_id = obj.get("request_id").and_then(as_text);
    for (c, m) in [("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")] {
        let code = obj.get(c).and_then(as_text);
        let msg = obj.get(m).and_then(as_text);
        if code.is_some() || msg.is_some() {
            return Some((code.unwrap_or_default(), msg.unwrap_or_default(), request_id));
        }
    }
    if depth < 3 {
        for inner in obj.values() {
            if let Some((code, msg, rid)) = parse_error_value(inner, depth + 1) {
                return Some((code, msg, rid.or(request_id)));
            }
        }
    }
    None
}

/// Everything that can go wrong in the cloud room.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// Boxed to keep every `Result` small.
    #[error(transparent)]
    Api(Box<ApiError>),
    #[error("{service} {operation}: {kind}: {source}")]
    Transport {
        service: String,
        operation: String,
        /// "connection failed" (never reached the server) or "request failed" (may have).
        kind: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{service} {operation}: unexpected response body{}: {reason}", request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
    Decode { service: String, operation: String, request_id: Option<String>, reason: String },
    #[error(transparent)]
    Endpoint(#[from] crate::endpoints::EndpointError),
    #[error("{0}")]
    Config(String),
    #[error("{service} job {job_id}{} failed with code {code}: {reason}", job_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    JobFailed { service: String, job_id: String, job_type: Option<String>, code: String, reason: String },
    #[error("timed out after {}s waiting for {what}; last status: {last}", waited.as_secs())]
    WaitTimeout { what: String, waited: Duration, last: String },
    #[error("{what} went to status {status} while waiting for {wanted}")]
    WaitFailed { what: String, status: String, wanted: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{service} {operation}: the create may or may not have happened ({cause}); no {kind} named {name:?} was found afterwards, check the console before retrying")]
    CreateUncertain { service: String, operation: String, kind: &'static str, name: String, cause: Box<CloudError> },
}

impl CloudError {
    /// The API error inside, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            CloudError::Api(a) => Some(a.as_ref()),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }

    /// An authentication or permission refusal: waiting or retrying will not help.
    pub fn is_auth(&self) -> bool {
        self.api().is_some_and(|a| a.status == 401 || a.status == 403)
    }

    /// The request may have reached the server and been acted on.
    pub(crate) fn is_ambiguous(&self) -> bool {
        match self {
            CloudError::Api(a) => a.status >= 500,
            CloudError::Transport { kind, .. } => *kind != CONNECT_FAILED,
            _ => false,
        }
    }
}

impl From<ApiError> for CloudError {
    fn from(e: ApiError) -> Self {
        CloudError::Api(Box::new(e))
    }
}

pub(crate) const CONNECT_FAILED: &str = "connection failed";
pub(crate) const REQUEST_FAILED: &str = "request failed";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ApiError {
        ApiError::from_response("ecs", "create server", 400, body.as_bytes(), Some("req-1".into()))
    }

    #[test]
    fn display_names_service_operation_code_and_request_id() {
        let e = parse(r#"{"error":{"code":"Ecs.0001","message":"quota exceeded"}}"#);
        assert_eq!(e.to_string(), "ecs create server: 400 Ecs.0001 quota exceeded (request id req-1)");
    }

    #[test]
    fn every_error_format_is_parsed() {
        let cases = [
            (r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r"}"#, "APIGW.0301", "Incorrect IAM authentication information"),
            (r#"{"errorCode":"IMG.0001","errorMsg":"bad image"}"#, "IMG.0001", "bad image"),
            (r#"{"code":"VPC.0101","message":"vpc not found"}"#, "VPC.0101", "vpc not found"),
            (r#"{"error":{"code":"Ecs.0005","message":"invalid flavor"}}"#, "Ecs.0005", "invalid flavor"),
            (r#"{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}"#, "401", "The request you have made requires authentication."),
            (r#"{"itemNotFound":{"code":404,"message":"Instance could not be found"}}"#, "404", "Instance could not be found"),
            (r#"{"error":{"error_code":"IMS.0010","error_msg":"nested snake"}}"#, "IMS.0010", "nested snake"),
        ];
        for (body, code, msg) in cases {
            let e = parse(body);
            assert_eq!((e.code.as_str(), e.message.as_str()), (code, msg), "{body}");
        }
    }

    #[test]
    fn body_request_id_is_used_when_the_header_is_missing() {
        let e = ApiError::from_response("vpc", "show vpc", 401, br#"{"error_code":"APIGW.0301","error_msg":"x","request_id":"body-rid"}"#, None);
        assert_eq!(e.request_id.as_deref(), Some("body-rid"));
        let e = ApiError::from_response("vpc", "show vpc", 401, br#"{"error_code":"APIGW.0301","error_msg":"x","request_id":"body-rid"}"#, Some("hdr".into()));
        assert_eq!(e.request_id.as_deref(), Some("hdr"));
    }

    #[test]
    fn raw_body_is_the_fallback() {
        let e = ApiError::from_response("ims", "list images", 502, b"<html>Bad Gateway</html>", None);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("502", "<html>Bad Gateway</html>"));
        assert_eq!(e.to_string(), "ims list images: 502 <html>Bad Gateway</html>");
        let e = ApiError::from_response("ims", "list images", 503, br#"{"unrelated":true}"#, None);
        assert_eq!(e.code, "503");
        assert!(e.is_retryable());
        let e = ApiError::from_response("ims", "list images", 404, b"", None);
        assert_eq!(e.to_string(), "ims list images: 404");
        assert!(e.is_not_found() && !e.is_retryable());
    }
}

//! Where each service lives and how we reach it: `https://{service}.{region}.{domain}` by default,
//! the domain derived from an `auth_url` like the plugin v1.x does, or every service overridden
//! (the local cloud's endpoints file). Also the transport options: HTTPS proxy, extra CA bundle,
//! skip-verify. Reads configuration from an injected environment map, never from globals.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::signer::Credentials;

/// Cloud.ru Advanced's domain.
pub const DEFAULT_DOMAIN: &str = "hc.sbercloud.ru";
/// Env var naming a local cloud endpoints file.
pub const ENDPOINTS_FILE_ENV: &str = "CCE_ENDPOINTS_FILE";
/// Env var naming an extra PEM CA bundle.
pub const CA_BUNDLE_ENV: &str = "CCE_CA_BUNDLE";

/// A service with its own host. EIP lives on the VPC host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Iam,
    Ecs,
    Ims,
    Vpc,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Iam, Service::Ecs, Service::Ims, Service::Vpc];

    /// The catalog name, which is also the first label of the host.
    pub fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Ecs => "ecs",
            Service::Ims => "ims",
            Service::Vpc => "vpc",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|svc| svc.name() == s)
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why endpoints or transport options could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("auth_url {url:?} is not a valid url: {reason}")]
    BadAuthUrl { url: String, reason: String },
    #[error("auth_url {url:?} has no domain to derive service hosts from: use a host name like iam.ru-moscow-1.hc.sbercloud.ru or give every endpoint explicitly")]
    NoDomain { url: String },
    #[error("endpoint for {service} {url:?} is not a valid http(s) url: {reason}")]
    BadUrl { service: String, url: String, reason: String },
    #[error("endpoints file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("https proxy {url:?}: {reason}")]
    BadProxy { url: String, reason: String },
    #[error("ca bundle {path}: {reason}")]
    BadCaBundle { path: String, reason: String },
    #[error("cannot set up the http client: {0}")]
    HttpClient(String),
}

/// The base URL of every service for one region. Base URLs have no trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    region: String,
    urls: BTreeMap<Service, String>,
}

impl Endpoints {
    /// `https://{service}.{region}.{domain}` for every service.
    pub fn for_domain(region: &str, domain: &str) -> Endpoints {
        let urls = Service::ALL.into_iter().map(|s| (s, format!("https://{}.{region}.{domain}", s.name()))).collect();
        Endpoints { region: region.to_string(), urls }
    }

    /// Cloud.ru Advanced hosts for a region.
    pub fn cloud_ru(region: &str) -> Endpoints {
        Endpoints::for_domain(region, DEFAULT_DOMAIN)
    }

    /// Hosts derived from an IAM `auth_url`, as the plugin v1.x does.
    pub fn from_auth_url(region: &str, auth_url: &str) -> Result<Endpoints, EndpointError> {
        Ok(Endpoints::for_domain(region, &domain_from_auth_url(auth_url)?))
    }

    /// Replaces one service's base URL.
    pub fn with_url(mut self, service: Service, url: &str) -> Result<Endpoints, EndpointError> {
        let checked = check_url(service.name(), url)?;
        self.urls.insert(service, checked);
        Ok(self)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The base URL of a service.
    pub fn url(&self, service: Service) -> &str {
        // Every constructor fills all four services.
        self.urls.get(&service).map(String::as_str).unwrap_or_default()
    }
}

fn check_url(service: &str, url: &str) -> Result<String, EndpointError> {
    let bad = |reason: String| EndpointError::BadUrl { service: service.to_string(), url: url.to_string(), reason };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https".into()));
    }
    if parsed.host_str().is_none() {
        return Err(bad("it has no host".into()));
    }
    if parsed.query().is_some() {
        return Err(bad("it must not have a query".into()));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The cloud domain of an IAM URL: a host of 3 labels keeps the last 2 (`iam.example.com`), a
/// longer one drops the first 2 (`iam.ru-moscow-1.hc.sbercloud.ru` → `hc.sbercloud.ru`).
pub fn domain_from_auth_url(auth_url: &str) -> Result<String, EndpointError> {
    let parsed = reqwest::Url::parse(auth_url)
        .map_err(|e| EndpointError::BadAuthUrl { url: auth_url.to_string(), reason: e.to_string() })?;
    let no_domain = || EndpointError::NoDomain { url: auth_url.to_string() };
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        _ => return Err(no_domain()),
    };
    let labels: Vec<&str> = host.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(no_domain());
    }
    match labels.len() {
        0..=2 => Err(no_domain()),
        3 => Ok(labels[1..].join(".")),
        _ => Ok(labels[2..].join(".")),
    }
}

/// The local cloud's connection line: every endpoint, the region, project and keys.
#[derive(Clone, Debug, Deserialize)]
pub struct EndpointsFile {
    pub endpoints: HashMap<String, String>,
    pub region: String,
    #[serde(default)]
    pub project_id: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    #[serde(default)]
    pub security_token: Option<String>,
}

impl EndpointsFile {
    /// Parses the file's text: one JSON object (the last non-empty line wins if there are several).
    pub fn parse(text: &str, origin: &str) -> Result<EndpointsFile, EndpointError> {
        let err = |reason: String| EndpointError::File { path: origin.to_string(), reason };
        let line = text.lines().map(str::trim).rfind(|l| !l.is_empty());
        let whole = serde_json::from_str::<EndpointsFile>(text.trim());
        let file = match (whole, line) {
            (Ok(f), _) => f,
            (Err(_), Some(l)) => serde_json::from_str::<EndpointsFile>(l).map_err(|e| err(format!("not the expected JSON line: {e}")))?,
            (Err(e), None) => return Err(err(format!("empty file: {e}"))),
        };
        for svc in Service::ALL {
            if !file.endpoints.contains_key(svc.name()) {
                return Err(err(format!("\"endpoints\" has no {:?} entry", svc.name())));
            }
        }
        if let Some(unknown) = file.endpoints.keys().find(|k| Service::parse(k).is_none() && k.as_str() != "eip") {
            return Err(err(format!("unknown service {unknown:?} in \"endpoints\" (expected iam, ecs, ims, vpc)")));
        }
        Ok(file)
    }

    pub fn load(path: &Path) -> Result<EndpointsFile, EndpointError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EndpointError::File { path: path.display().to_string(), reason: e.to_string() })?;
        EndpointsFile::parse(&text, &path.display().to_string())
    }

    /// Loads the file named by `CCE_ENDPOINTS_FILE` in `env`, if set.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Option<EndpointsFile>, EndpointError> {
        match env.get(ENDPOINTS_FILE_ENV).filter(|p| !p.is_empty()) {
            Some(p) => EndpointsFile::load(Path::new(p)).map(Some),
            None => Ok(None),
        }
    }

    /// The endpoints it names, every one checked.
    pub fn endpoints(&self) -> Result<Endpoints, EndpointError> {
        let mut e = Endpoints::cloud_ru(&self.region);
        for svc in Service::ALL {
            e = e.with_url(svc, &self.endpoints[svc.name()])?;
        }
        Ok(e)
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            security_token: self.security_token.clone(),
        }
    }
}

/// How requests travel: proxy, trust roots, timeouts.
#[derive(Clone, Debug, Default)]
pub struct TransportOptions {
    /// Proxy for https URLs (`HTTPS_PROXY`/`https_proxy`). Plain-http endpoints go direct.
    pub https_proxy: Option<String>,
    /// A PEM bundle added to the default roots (`CCE_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
    /// Skip TLS verification, like the plugin's `insecure`.
    pub insecure: bool,
    /// Whole-request timeout; default 60 s.
    pub request_timeout: Option<std::time::Duration>,
    /// Connect timeout; default 10 s.
    pub connect_timeout: Option<std::time::Duration>,
}

impl TransportOptions {
    /// Reads `HTTPS_PROXY`, `https_proxy` and `CCE_CA_BUNDLE` from `env`.
    pub fn from_env(env: &HashMap<String, String>) -> TransportOptions {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        TransportOptions {
            https_proxy: get("HTTPS_PROXY").or_else(|| get("https_proxy")),
            ca_bundle: get(CA_BUNDLE_ENV).map(PathBuf::from),
            ..TransportOptions::default()
        }
    }

    /// A reqwest client with these options. Ambient proxy variables are ignored: only ours count.
    pub fn build_http(&self, user_agent: &str) -> Result<reqwest::Client, EndpointError> {
        let mut b = reqwest::Client::builder()
            .user_agent(user_agent)
            .no_proxy()
            .timeout(self.request_timeout.unwrap_or(std::time::Duration::from_secs(60)))
            .connect_timeout(self.connect_timeout.unwrap_or(std::time::Duration::from_secs(10)));
        if let Some(p) = &self.https_proxy {
            let proxy = reqwest::Proxy::https(p.as_str())
                .map_err(|e| EndpointError::BadProxy { url: p.clone(), reason: e.to_string() })?;
            b = b.proxy(proxy);
        }
        if let Some(path) = &self.ca_bundle {
            let bad = |reason: String| EndpointError::BadCaBundle { path: path.display().to_string(), reason };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificate in it".into()));
            }
            b = b.tls_certs_merge(certs);
        }
        if self.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        b.build().map_err(|e| EndpointError::HttpClient(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hosts_are_cloud_ru() {
        let e = Endpoints::cloud_ru("ru-moscow-1");
        assert_eq!(e.url(Service::Iam), "https://iam.ru-moscow-1.hc.sbercloud.ru");
        assert_eq!(e.url(Service::Vpc), "https://vpc.ru-moscow-1.hc.sbercloud.ru");
        assert_eq!(e.region(), "ru-moscow-1");
    }

    #[test]
    fn domain_derivation_follows_the_plugin() {
        assert_eq!(domain_from_auth_url("https://iam.ru-moscow-1.hc.sbercloud.ru/v3").unwrap(), "hc.sbercloud.ru");
        assert_eq!(domain_from_auth_url("https://iam.myhuaweicloud.com:443/v3").unwrap(), "myhuaweicloud.com");
        assert_eq!(domain_from_auth_url("https://iam.ap-southeast-1.myhuaweicloud.com").unwrap(), "myhuaweicloud.com");
        let e = Endpoints::from_auth_url("ru-moscow-1", "https://iam.ru-moscow-1.hc.sbercloud.ru/v3").unwrap();
        assert_eq!(e.url(Service::Ecs), "https://ecs.ru-moscow-1.hc.sbercloud.ru");
        assert!(matches!(domain_from_auth_url("https://localhost/v3"), Err(EndpointError::NoDomain { .. })));
        assert!(matches!(domain_from_auth_url("http://127.0.0.1:8080/v3"), Err(EndpointError::NoDomain { .. })));
        assert!(matches!(domain_from_auth_url("not a url"), Err(EndpointError::BadAuthUrl { .. })));
    }

    #[test]
    fn override_checks_urls() {
        let e = Endpoints::cloud_ru("r").with_url(Service::Ims, "http://127.0.0.1:9000/").unwrap();
        assert_eq!(e.url(Service::Ims), "http://127.0.0.1:9000");
        let err = Endpoints::cloud_ru("r").with_url(Service::Ims, "ftp://x").unwrap_err();
        assert!(err.to_string().contains("endpoint for ims"), "{err}");
    }

    const LINE: &str = r#"{"endpoints": {"iam": "http://127.0.0.1:1", "ecs": "http://127.0.0.1:2", "ims": "http://127.0.0.1:3", "vpc": "http://127.0.0.1:4"}, "region": "ru-moscow-1", "project_id": "p1", "access_key": "AK", "secret_key": "SK"}"#;

    #[test]
    fn endpoints_file_from_injected_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ep.json");
        std::fs::write(&path, format!("listening\n{LINE}\n")).unwrap();
        let env = HashMap::from([(ENDPOINTS_FILE_ENV.to_string(), path.display().to_string())]);
        let f = EndpointsFile::from_env(&env).unwrap().unwrap();
        let e = f.endpoints().unwrap();
        assert_eq!(e.url(Service::Vpc), "http://127.0.0.1:4");
        assert_eq!(e.region(), "ru-moscow-1");
        assert_eq!(f.project_id.as_deref(), Some("p1"));
        assert_eq!(f.credentials().access_key, "AK");
        assert!(EndpointsFile::from_env(&HashMap::new()).unwrap().is_none());
    }

    #[test]
    fn endpoints_file_errors_name_the_file_and_field() {
        let err = EndpointsFile::parse(&LINE.replace("\"ims\"", "\"imz\""), "/tmp/x.json").unwrap_err().to_string();
        assert!(err.contains("/tmp/x.json") && err.contains("\"ims\""), "{err}");
        let err = EndpointsFile::parse("{}", "f").unwrap_err().to_string();
        assert!(err.starts_with("endpoints file f: "), "{err}");
        let missing = EndpointsFile::load(Path::new("/nonexistent/ep.json")).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/ep.json"), "{missing}");
    }

    #[test]
    fn transport_options_from_env() {
        let env = HashMap::from([
            ("https_proxy".to_string(), "http://proxy:3128".to_string()),
            (CA_BUNDLE_ENV.to_string(), "/etc/ca.pem".to_string()),
        ]);
        let t = TransportOptions::from_env(&env);
        assert_eq!(t.https_proxy.as_deref(), Some("http://proxy:3128"));
        assert_eq!(t.ca_bundle.as_deref(), Some(Path::new("/etc/ca.pem")));
        let env = HashMap::from([("HTTPS_PROXY".to_string(), "http://a:1".to_string()), ("https_proxy".to_string(), "http://b:1".to_string())]);
        assert_eq!(TransportOptions::from_env(&env).https_proxy.as_deref(), Some("http://a:1"));
        assert!(t.build_http("ua").is_err(), "a missing CA bundle must be an error");
        let bad = TransportOptions { ca_bundle: None, ..t };
        assert!(bad.build_http("ua").is_ok());
    }

    #[test]
    fn ca_bundle_with_no_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a pem").unwrap();
        let t = TransportOptions { ca_bundle: Some(p), ..Default::default() };
        let err = t.build_http("ua").unwrap_err().to_string();
        assert!(err.contains("ca.pem"), "{err}");
    }
}

//! The `preflight` subcommand: loads a template and checks each `huaweicloud-ecs` source against
//! the cloud before a build spends money (credentials, zone, network, SSH rules, source image,
//! flavor, EIP), creating nothing. Exit 0 when no check failed (warnings pass), 1 otherwise.
//!
//! Which cloud: `CCE_ENDPOINTS_FILE` when set (endpoints, keys and project from that file, for
//! a local cloud started with `localcloud`); else the real cloud from the source's fields.
//! A source without credentials builds on the embedded local cloud: it is started the way
//! `build` starts it (same state folder, same function) and checked like the real cloud, so a
//! flavor or image name that will not resolve shows before the build.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cce_cloud::signer::Credentials;
use cce_cloud::{ClientConfig, Endpoints, EndpointsFile, TransportOptions};
use cce_engine::dry_run::{self, DryRun};
use cce_engine::preflight::{self, Options, PreflightReport, Status};
use cce_template::diag::Diagnostics;
use cce_template::schema::huaweicloud::HuaweiEcsConfig;
use cce_template::schema::{SourceConfig, plan_with_env};
use serde::Serialize;

use super::validate::{VarArgs, filter_builds};
use crate::exit;

/// The longest one source's checks may take; a hung endpoint fails the check instead.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(300);

/// Flags of `preflight`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Check only these sources (type.name, `*` matches any text).
    #[arg(long = "only", value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Check all sources but these.
    #[arg(long = "except", value_delimiter = ',', value_name = "NAMES")]
    pub except: Vec<String>,
    /// Print the reports as one JSON document on stdout.
    #[arg(long = "json")]
    pub json: bool,
    /// This host's public IPv4 address, the source of SSH connections: security groups are
    /// checked for it instead of for 0.0.0.0/0.
    #[arg(long = "ssh-source", value_name = "IPV4")]
    pub ssh_source: Option<Ipv4Addr>,
    /// Also print what a build would create, bill and call (the dry-run plan), before the checks.
    #[arg(long = "plan")]
    pub plan: bool,
    /// A .pkr.hcl file or a folder holding them.
    pub path: PathBuf,
}

/// The report of one source.
#[derive(Debug, Serialize)]
struct SourceReport {
    source: String,
    /// `cloud`, `endpoints-file` or `local-cloud`.
    target: String,
    #[serde(flatten)]
    report: PreflightReport,
    /// The dry-run plan, with `--plan`.
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<DryRun>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if !args.only.is_empty() && !args.except.is_empty() {
        eprintln!("error: only one of -only or -except may be given");
        return Ok(exit::FAILED);
    }
    let (opts, loaded) = match args.vars.load(args.path.clone()) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let mut blocks = loaded.blocks.clone();
    filter_builds(&mut blocks, &args.only, &args.except);
    let (plan, plan_diags) = plan_with_env(&blocks, &opts.env);
    let mut all = Diagnostics::default();
    all.extend(loaded.warnings.clone());
    all.extend(plan_diags);
    if !all.is_empty() {
        eprint!("{}", all.render(&loaded.sources));
    }
    let Some(plan) = plan.filter(|_| !all.has_errors()) else {
        eprintln!(
            "error: the template is invalid: fix the errors above before the pre-flight checks"
        );
        return Ok(exit::FAILED);
    };

    let mut sources: Vec<(String, HuaweiEcsConfig)> = Vec::new();
    for build in &plan.builds {
        for s in &build.sources {
            if let SourceConfig::HuaweiEcs(cfg) = &s.config {
                let reference = s.reference();
                if !sources.iter().any(|(r, _)| *r == reference) {
                    sources.push((reference, cfg.clone()));
                }
            }
        }
    }
    if sources.is_empty() {
        eprintln!(
            "error: no build uses a huaweicloud-ecs source: there is nothing to check (check -only/-except)"
        );
        return Ok(exit::FAILED);
    }

    let env: HashMap<String, String> = std::env::vars().collect();
    let endpoints_file = EndpointsFile::from_env(&env).context("CCE_ENDPOINTS_FILE")?;
    let check_opts = Options {
        ssh_source: args.ssh_source,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let needs_local = endpoints_file.is_none() && sources.iter().any(|(_, cfg)| cfg.local_cloud);
    if needs_local {
        let note = "==> Checking the embedded local cloud (no credentials set): the sources without keys build there";
        // JSON keeps stdout to the one document.
        if args.json {
            eprintln!("{note}");
        } else {
            println!("{note}");
        }
    }
    let reports = runtime.block_on(async {
        // Started once for every source that builds on it, and only when one does.
        let mut local = None;
        if needs_local {
            let start = crate::commands::build::start_embedded_cloud(&env);
            local = Some(match tokio::time::timeout(SOURCE_TIMEOUT, start).await {
                Ok(started) => started,
                Err(_) => Err(anyhow::anyhow!(
                    "the embedded local cloud did not start within {}s",
                    SOURCE_TIMEOUT.as_secs()
                )),
            });
        }
        let mut reports = Vec::new();
        for (reference, cfg) in &sources {
            let on_local = endpoints_file.is_none() && cfg.local_cloud;
            let (target, report) = match &local {
                Some(Ok(embedded)) if on_local => (
                    "local-cloud",
                    check_with_timeout(preflight::run_with(&*embedded.cloud, cfg, &check_opts))
                        .await,
                ),
                Some(Err(e)) if on_local => (
                    "local-cloud",
                    PreflightReport::connect_failed(&format!("{e:#}")),
                ),
                _ => (
                    if endpoints_file.is_some() {
                        "endpoints-file"
                    } else {
                        "cloud"
                    },
                    check_source(cfg, endpoints_file.as_ref(), &env, &check_opts).await,
                ),
            };
            let plan = args.plan.then(|| dry_run::plan(cfg, None));
            reports.push(SourceReport {
                source: reference.clone(),
                target: target.into(),
                report,
                plan,
            });
        }
        if let Some(Ok(embedded)) = local {
            embedded.handle.shutdown().await;
        }
        reports
    });

    let passed = reports.iter().all(|r| r.report.passed());
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            passed: bool,
            sources: &'a [SourceReport],
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Out {
                passed,
                sources: &reports
            })?
        );
    } else {
        print!("{}", render(&reports));
    }
    Ok(if passed { exit::OK } else { exit::FAILED })
}

fn render(reports: &[SourceReport]) -> String {
    let mut out = String::new();
    let (mut ok, mut warn, mut fail) = (0, 0, 0);
    for r in reports {
        if let Some(plan) = &r.plan {
            out.push_str(&format!("==> {}: plan\n", r.source));
            out.push_str(&dry_run::render_text(plan));
            out.push('\n');
        }
        out.push_str(&format!("==> {}: pre-flight checks\n", r.source));
        out.push_str(&r.report.render_text());
        for c in &r.report.checks {
            match c.status {
                Status::Ok => ok += 1,
                Status::Warn => warn += 1,
                Status::Fail => fail += 1,
            }
        }
    }
    let verdict = if fail == 0 { "passed" } else { "failed" };
    out.push_str(&format!(
        "Pre-flight {verdict}: {ok} ok, {warn} warning(s), {fail} failed.\n"
    ));
    out
}

async fn check_source(
    cfg: &HuaweiEcsConfig,
    file: Option<&EndpointsFile>,
    env: &HashMap<String, String>,
    opts: &Options,
) -> PreflightReport {
    let work = async {
        let config = match file {
            Some(f) => ClientConfig::from_endpoints_file(f, env),
            None => client_config(&Access::from_config(cfg), env),
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => return PreflightReport::connect_error(&e),
        };
        let project_name = match &config.project_id {
            Some(_) => String::new(),
            None => cfg
                .project_name
                .clone()
                .unwrap_or_else(|| cfg.region.clone()),
        };
        match cce_cloud::connect(config, &project_name).await {
            Ok(client) => preflight::run_with(&client, cfg, opts).await,
            Err(e) => PreflightReport::connect_error(&e),
        }
    };
    check_with_timeout(work).await
}

/// The report of `checks`, or a failed one when they take longer than [`SOURCE_TIMEOUT`].
async fn check_with_timeout(checks: impl Future<Output = PreflightReport>) -> PreflightReport {
    match tokio::time::timeout(SOURCE_TIMEOUT, checks).await {
        Ok(r) => r,
        Err(_) => PreflightReport::connect_failed(&format!(
            "the checks did not finish within {}s: the cloud is not answering",
            SOURCE_TIMEOUT.as_secs()
        )),
    }
}

/// What reaching the real cloud takes.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
    pub region: String,
    pub project_id: Option<String>,
    pub auth_url: Option<String>,
    pub insecure: bool,
}

impl Access {
    pub fn from_config(cfg: &HuaweiEcsConfig) -> Access {
        Access {
            access_key: cfg.access_key.clone(),
            secret_key: cfg.secret_key.clone(),
            security_token: cfg.security_token.clone(),
            region: cfg.region.clone(),
            project_id: cfg.project_id.clone(),
            auth_url: cfg.auth_url.clone(),
            insecure: cfg.insecure,
        }
    }
}

/// Endpoints from `auth_url` like the plugin v1.x (Cloud.ru's hosts when it is unset), the keys,
/// the project id when known, and proxy/CA settings from `env`.
pub fn client_config(
    a: &Access,
    env: &HashMap<String, String>,
) -> Result<ClientConfig, cce_cloud::CloudError> {
    let endpoints = match &a.auth_url {
        Some(url) => Endpoints::from_auth_url(&a.region, url)?,
        None => Endpoints::cloud_ru(&a.region),
    };
    let credentials = Credentials {
        access_key: a.access_key.clone(),
        secret_key: a.secret_key.clone(),
        security_token: a.security_token.clone(),
    };
    let mut config = ClientConfig::new(endpoints, credentials);
    config.project_id = a.project_id.clone();
    config.transport = TransportOptions::from_env(env);
    config.transport.insecure = a.insecure;
    Ok(config)
}

//! The `cleanup` subcommand: the way back from a killed or failed build. It opens the build's
//! journal, refuses a build that is still running, reconnects to the cloud the journal names
//! (restarting the embedded local cloud from its state, or the real cloud with credentials from
//! the environment), removes every resource the journal still holds, then sweeps for resources
//! of the build that never reached the journal (by name prefix, images by the build tag).
//! Exit 0 when nothing is left, 1 when something could not be removed (each named with the
//! reason and what to do).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use cce_cloud::{Client, ClientConfig, Cloud, Endpoints, EndpointsFile, TransportOptions, Waits};
use cce_engine::ledger::{
    self, BUILD_TAG, BuildHeader, BuildStatus, Cleanup, CloudKind, FinishStatus, Journal, Ledger,
    LedgerError, ResourceKind, ResourceRemover, Tags,
};
use cce_engine::remover::{self, CloudRemover, Stray};
use cce_localcloud::LocalCloudHandle;
use serde::Serialize;

use crate::exit;

/// Flags of `cleanup`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["build_id", "all"])))]
pub struct Args {
    /// The build whose leftovers to remove (`cce-image-builder builds` lists them).
    #[arg(value_name = "BUILD_ID")]
    pub build_id: Option<String>,
    /// Every build that is not running and still has resources in its journal.
    #[arg(long)]
    pub all: bool,
    /// Keep the images an unfinished build made instead of deleting them.
    #[arg(long = "keep-images")]
    pub keep_images: bool,
    /// Show what would be removed and change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// One JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut out = Printer::new(args.json, std::io::stdout());
    runtime.block_on(run_with(&args, &env, &mut out))
}

/// `cleanup` with an injected environment and output.
pub async fn run_with<W: Write>(
    args: &Args,
    env: &HashMap<String, String>,
    out: &mut Printer<W>,
) -> anyhow::Result<u8> {
    let root = ledger::state_root(env);
    let ids: Vec<String> = match (&args.build_id, args.all) {
        (Some(id), _) => vec![id.clone()],
        (None, _) => {
            let builds = ledger::list_builds(&root)
                .with_context(|| format!("cannot list the builds under {}", root.display()))?;
            builds
                .into_iter()
                .filter(|b| b.status != BuildStatus::Running && b.outstanding > 0)
                .map(|b| b.id)
                .collect()
        }
    };
    if ids.is_empty() {
        out.note(&format!(
            "nothing to clean up: no stopped build under {} has resources left",
            root.display()
        ))?;
        return Ok(exit::OK);
    }
    let mut clean = true;
    for id in &ids {
        match clean_build(&root, id, args, env, out).await {
            Ok(true) => {}
            Ok(false) => clean = false,
            // With one build named, its error is the command's; with --all, the others go on.
            Err(e) if args.all => {
                clean = false;
                out.line(&Line::failed_build(id, &format!("{e:#}")))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(if clean { exit::OK } else { exit::FAILED })
}

/// Cleans one build; `Ok(false)` when something is left.
async fn clean_build<W: Write>(
    root: &Path,
    id: &str,
    args: &Args,
    env: &HashMap<String, String>,
    out: &mut Printer<W>,
) -> anyhow::Result<bool> {
    let path = ledger::build_dir(root, id).join(ledger::JOURNAL_FILE);
    let journal = match Journal::read(&path) {
        Ok(j) => j,
        Err(LedgerError::NotFound { .. }) => bail!(
            "no build {id} under {}: `cce-image-builder builds` lists the known builds",
            root.display()
        ),
        Err(e) => return Err(e.into()),
    };
    let Some(header) = journal.header().cloned() else {
        bail!(
            "{}: the journal does not start with a build_started record, so its cloud is unknown; remove the build's resources by hand",
            path.display()
        );
    };
    refuse_running(id, &path, &header)?;
    if let (CloudKind::Local, Some(state)) = (header.cloud.kind, &header.cloud.local_state_dir) {
        if !state.join("state.json").is_file() {
            bail!(
                "the local cloud state {} of build {id} is gone, and with it the build's resources; remove {} to forget the build",
                state.display(),
                ledger::build_dir(root, id).display()
            );
        }
        if let Some(other) = running_on_state(root, state) {
            bail!(
                "build {other} is running on the same local cloud ({}), which cleanup would have to start a second time; wait for it to finish, then run `cce-image-builder cleanup {id}`",
                state.display()
            );
        }
    }
    for c in &journal.corrupt {
        out.note(&format!(
            "warning: {}:{}: unreadable journal line skipped: {}",
            path.display(),
            c.line,
            c.error
        ))?;
    }
    // Opening for append takes the build's lock, so a build cannot start using it meanwhile.
    let ledger = if args.dry_run {
        None
    } else {
        Some(Ledger::open(root, id).map_err(|e| match e {
            LedgerError::Busy { pid, .. } => anyhow::anyhow!(
                "build {id} is still running (pid {}); stop it first",
                pid.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
            ),
            e => e.into(),
        })?)
    };
    let (cloud, local) = reconnect(&header, env, out).await?;
    let remover = CloudRemover::new(cloud.clone(), Waits::default());
    let result = match &ledger {
        Some(ledger) => walk(id, ledger, &journal, &remover, args, out).await,
        None => preview(id, &journal, &remover, args, out).await,
    };
    if let Some(handle) = local {
        handle.shutdown().await;
    }
    let left = result?;
    if left == 0 && args.dry_run {
        // The dry run's own note says what would happen; "clean" would not be true yet.
    } else if left == 0 {
        out.line(&Line::summary(id, "clean", None))?;
    } else {
        out.line(&Line::summary(
            id,
            "incomplete",
            Some(format!(
                "{left} resource(s) could not be removed; fix the causes above and run `cce-image-builder cleanup {id}` again, or delete them by hand"
            )),
        ))?;
    }
    Ok(left == 0)
}

/// A running build whose embedded local cloud keeps its state in `state`: two local clouds on one
/// state would overwrite each other's records.
fn running_on_state(root: &Path, state: &Path) -> Option<String> {
    let builds = ledger::list_builds(root).ok()?;
    builds
        .into_iter()
        .filter(|b| b.status == BuildStatus::Running)
        .find(|b| {
            let path = ledger::build_dir(root, &b.id).join(ledger::JOURNAL_FILE);
            Journal::read(&path).ok().is_some_and(|j| {
                j.header().is_some_and(|h| {
                    h.cloud.kind == CloudKind::Local
                        && h.cloud.local_state_dir.as_deref() == Some(state)
                })
            })
        })
        .map(|b| b.id)
}

fn refuse_running(id: &str, path: &Path, header: &BuildHeader) -> anyhow::Result<()> {
    let running = match ledger::journal_locked(path) {
        Some(locked) => locked,
        // Lock state unknown (a file system without flock): trust the pid.
        None => header.pid != std::process::id() && ledger::pid_alive(header.pid),
    };
    if !running {
        return Ok(());
    }
    if header.pid != std::process::id() && !ledger::pid_alive(header.pid) {
        // Locked, but not by the build: another cleanup is at work on it.
        bail!(
            "build {id} is being cleaned up by another process (its build, pid {}, is gone); wait for that to finish",
            header.pid
        );
    }
    bail!(
        "build {id} is still running (pid {}); stop it first",
        header.pid
    )
}

/// Why the build's images stay, if they do: asked to keep images, or the build succeeded and
/// its image is the result.
fn image_keep_reason(args: &Args, journal: &Journal) -> Option<&'static str> {
    if journal.finished() == Some(FinishStatus::Succeeded) {
        Some("the build succeeded; the image is its result")
    } else if args.keep_images {
        Some("kept by --keep-images")
    } else {
        None
    }
}

/// The remover the journal walk uses: it never deletes an image that must stay, even one whose
/// look-up failed before the walk and is therefore still open when the walk meets it.
struct Walker<'a> {
    inner: &'a CloudRemover,
    keep_images: Option<&'static str>,
}

impl ResourceRemover for Walker<'_> {
    type Error = String;

    async fn find_by_name(
        &self,
        kind: &ResourceKind,
        name: &str,
        tags: &Tags,
    ) -> Result<Option<String>, String> {
        self.inner
            .find_by_name(kind, name, tags)
            .await
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, kind: &ResourceKind, id: &str) -> Result<(), String> {
        if let (ResourceKind::Image, Some(why)) = (kind, self.keep_images) {
            return Err(format!(
                "image {id} is not deleted ({why}), but it could not be recorded as kept"
            ));
        }
        self.inner.delete(kind, id).await.map_err(|e| e.to_string())
    }
}

/// Removes what the journal holds and then the strays; returns how many resources are left.
async fn walk<W: Write>(
    id: &str,
    ledger: &Ledger,
    journal: &Journal,
    remover: &CloudRemover,
    args: &Args,
    out: &mut Printer<W>,
) -> anyhow::Result<usize> {
    let mut left = 0;
    let keep_images = image_keep_reason(args, journal);
    // Images to keep are closed first, so the walk below does not delete them.
    for res in ledger.outstanding() {
        let Some(why) = keep_images.filter(|_| res.kind == ResourceKind::Image) else {
            continue;
        };
        let image_id = match &res.cloud_id {
            Some(i) => Some(i.clone()),
            None => match remover.find_by_name(&res.kind, &res.name, &res.tags).await {
                Ok(found) => found,
                // Left open: the walk below looks again and reports the failure.
                Err(_) => continue,
            },
        };
        match image_id {
            Some(image_id) => {
                if res.cloud_id.is_none() {
                    ledger.created(res.intent, &image_id)?;
                }
                ledger.kept(res.intent, why)?;
                out.line(
                    &Line::resource(
                        id,
                        "kept",
                        &res.kind,
                        &res.name,
                        Some(&image_id),
                        Source::Journal,
                    )
                    .why(why),
                )?;
            }
            None => {
                ledger.absent(res.intent)?;
                out.line(&Line::resource(
                    id,
                    "absent",
                    &res.kind,
                    &res.name,
                    None,
                    Source::Journal,
                ))?;
            }
        }
    }
    let walker = Walker {
        inner: remover,
        keep_images,
    };
    let report = Cleanup::run(ledger, &walker).await;
    for (res, cloud_id) in &report.deleted {
        out.line(&Line::resource(
            id,
            "deleted",
            &res.kind,
            &res.name,
            Some(cloud_id),
            Source::Journal,
        ))?;
    }
    for res in &report.absent {
        out.line(&Line::resource(
            id,
            "absent",
            &res.kind,
            &res.name,
            None,
            Source::Journal,
        ))?;
    }
    for f in &report.failed {
        let r = &f.resource;
        let stage = match f.stage {
            ledger::CleanupStage::Find => "look-up",
            ledger::CleanupStage::Delete => "delete",
            ledger::CleanupStage::Record => "journal write",
        };
        out.line(
            &Line::resource(
                id,
                "failed",
                &r.kind,
                &r.name,
                r.cloud_id.as_deref(),
                Source::Journal,
            )
            .error(format!("{stage} failed: {}", f.error), retry_hint(id)),
        )?;
    }
    left += report.failed.len();

    let (strays, errors) = remover::sweep(remover.cloud.as_ref(), id, &ledger.journal()).await;
    left += sweep_errors(id, &errors, out)?;
    for s in strays {
        if let (ResourceKind::Image, Some(why)) = (&s.kind, keep_images) {
            out.line(
                &Line::resource(id, "kept", &s.kind, &s.name, Some(&s.id), Source::Sweep).why(why),
            )?;
            continue;
        }
        // Journaled like any resource, so a failed delete is retried by the next cleanup.
        let tags = if s.kind == ResourceKind::Image {
            ledger::build_tags(id)
        } else {
            Tags::new()
        };
        let intent = ledger.intent(s.kind.clone(), &s.name, tags)?;
        ledger.created(intent, &s.id)?;
        match remover.delete(&s.kind, &s.id).await {
            Ok(()) => {
                ledger.deleted(intent)?;
                out.line(
                    &Line::resource(id, "deleted", &s.kind, &s.name, Some(&s.id), Source::Sweep)
                        .why("not in the journal; found by the build's name prefix or tag"),
                )?;
            }
            Err(e) => {
                left += 1;
                out.line(
                    &Line::resource(id, "failed", &s.kind, &s.name, Some(&s.id), Source::Sweep)
                        .error(e.to_string(), retry_hint(id)),
                )?;
            }
        }
    }
    Ok(left)
}

/// `--dry-run`: says what [`walk`] would do; writes nothing. Returns how many would be removed.
async fn preview<W: Write>(
    id: &str,
    journal: &Journal,
    remover: &CloudRemover,
    args: &Args,
    out: &mut Printer<W>,
) -> anyhow::Result<usize> {
    let mut failed = 0;
    let mut would = 0;
    let keep_images = image_keep_reason(args, journal);
    // Found by name here but not recorded (nothing is written): the sweep must not count them again.
    let mut found_ids = std::collections::HashSet::new();
    for res in journal.outstanding() {
        let found = match &res.cloud_id {
            Some(i) => Ok(Some(i.clone())),
            None => remover.find_by_name(&res.kind, &res.name, &res.tags).await,
        };
        match found {
            Ok(Some(cloud_id)) => {
                found_ids.insert((res.kind.clone(), cloud_id.clone()));
                match keep_images.filter(|_| res.kind == ResourceKind::Image) {
                    Some(why) => out.line(
                        &Line::resource(
                            id,
                            "would_keep",
                            &res.kind,
                            &res.name,
                            Some(&cloud_id),
                            Source::Journal,
                        )
                        .why(why),
                    )?,
                    None => {
                        would += 1;
                        out.line(&Line::resource(
                            id,
                            "would_delete",
                            &res.kind,
                            &res.name,
                            Some(&cloud_id),
                            Source::Journal,
                        ))?
                    }
                }
            }
            Ok(None) => out.line(&Line::resource(
                id,
                "absent",
                &res.kind,
                &res.name,
                None,
                Source::Journal,
            ))?,
            Err(e) => {
                failed += 1;
                out.line(
                    &Line::resource(id, "failed", &res.kind, &res.name, None, Source::Journal)
                        .error(format!("look-up failed: {e}"), retry_hint(id)),
                )?;
            }
        }
    }
    let (strays, errors) = remover::sweep(remover.cloud.as_ref(), id, journal).await;
    failed += sweep_errors(id, &errors, out)?;
    for Stray {
        kind,
        id: cloud_id,
        name,
    } in strays
    {
        if found_ids.contains(&(kind.clone(), cloud_id.clone())) {
            continue;
        }
        let keep = keep_images.filter(|_| kind == ResourceKind::Image);
        let action = if keep.is_some() {
            "would_keep"
        } else {
            "would_delete"
        };
        would += usize::from(keep.is_none());
        out.line(
            &Line::resource(id, action, &kind, &name, Some(&cloud_id), Source::Sweep)
                .why(keep.unwrap_or("not in the journal; found by the build's name prefix or tag")),
        )?;
    }
    out.note(&format!(
        "dry run: {would} resource(s) of build {id} would be removed; nothing was changed"
    ))?;
    Ok(failed)
}

fn sweep_errors<W: Write>(
    id: &str,
    errors: &[(ResourceKind, cce_cloud::CloudError)],
    out: &mut Printer<W>,
) -> anyhow::Result<usize> {
    for (kind, e) in errors {
        out.line(&Line {
            build: id.to_owned(),
            action: "failed",
            kind: Some(kind.to_string()),
            source: Some(Source::Sweep),
            error: Some(format!("cannot list {kind} resources to sweep: {e}")),
            hint: Some(format!(
                "look in the console for {kind} resources named {}* (images: tagged {BUILD_TAG}={id}) and delete them by hand, or run `cce-image-builder cleanup {id}` again",
                remover::name_prefix(id)
            )),
            ..Line::default()
        })?;
    }
    Ok(errors.len())
}

fn retry_hint(id: &str) -> String {
    format!(
        "run `cce-image-builder cleanup {id}` again once the cause is fixed, or delete it by hand in the console"
    )
}

/// Connects to the cloud a build used: the embedded local cloud restarted from its state (the
/// handle is returned to be shut down), or the real cloud with credentials from `env`.
async fn reconnect<W: Write>(
    header: &BuildHeader,
    env: &HashMap<String, String>,
    out: &mut Printer<W>,
) -> anyhow::Result<(Arc<dyn Cloud>, Option<LocalCloudHandle>)> {
    match header.cloud.kind {
        CloudKind::Local => {
            let Some(state) = header.cloud.local_state_dir.clone() else {
                bail!(
                    "build {} used the local cloud but its journal names no state directory; remove its resources with the local cloud's own tools",
                    header.build_id
                );
            };
            let get = |k: &str| env.get(k).cloned();
            let (profile, scale) = crate::embedded::profile(&get)?;
            let handle = crate::embedded::start(&state, profile, scale).await?;
            let client = crate::embedded::client_config(&handle)
                .and_then(|c| Client::new(c).context("cannot make a client for the local cloud"));
            match client {
                Ok(c) => Ok((Arc::new(c), Some(handle))),
                Err(e) => {
                    handle.shutdown().await;
                    Err(e)
                }
            }
        }
        CloudKind::Real => {
            let config = real_config(header, env, out)?;
            let project_name = env
                .get("HW_PROJECT_NAME")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| header.cloud.region.clone());
            let client = cce_cloud::connect(config, &project_name)
                .await
                .with_context(|| format!("cannot reach the cloud of build {}", header.build_id))?;
            Ok((Arc::new(client), None))
        }
    }
}

/// The client configuration for the real cloud: `CCE_ENDPOINTS_FILE` (or the endpoints file the
/// journal names) when set, else the `HW_*` variables. The region is the journal's: that is where
/// the build's resources are.
fn real_config<W: Write>(
    header: &BuildHeader,
    env: &HashMap<String, String>,
    out: &mut Printer<W>,
) -> anyhow::Result<ClientConfig> {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let file: Option<PathBuf> = get(cce_cloud::endpoints::ENDPOINTS_FILE_ENV)
        .map(PathBuf::from)
        .or_else(|| header.cloud.endpoints_file.clone());
    if let Some(path) = file {
        let f = EndpointsFile::load(&path)?;
        return Ok(ClientConfig::from_endpoints_file(&f, env)?);
    }
    let region = if header.cloud.region.is_empty() {
        get("HW_REGION_NAME").context("the journal names no region: set HW_REGION_NAME")?
    } else {
        header.cloud.region.clone()
    };
    if let Some(r) = get("HW_REGION_NAME").filter(|r| *r != region) {
        out.note(&format!(
            "warning: HW_REGION_NAME is {r}, but build {} ran in {region}; cleaning up in {region}",
            header.build_id
        ))?;
    }
    let missing: Vec<&str> = ["HW_ACCESS_KEY", "HW_SECRET_KEY"]
        .into_iter()
        .filter(|k| get(k).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "build {} ran in the cloud, and cleaning it up needs credentials: set {} (and HW_PROJECT_ID or HW_PROJECT_NAME, HW_AUTH_URL as for the build)",
            header.build_id,
            missing.join(" and ")
        );
    }
    let endpoints = match get("HW_AUTH_URL") {
        Some(url) => Endpoints::from_auth_url(&region, &url)?,
        None => Endpoints::cloud_ru(&region),
    };
    let credentials = cce_cloud::signer::Credentials {
        access_key: get("HW_ACCESS_KEY").unwrap_or_default(),
        secret_key: get("HW_SECRET_KEY").unwrap_or_default(),
        security_token: get("HW_SECURITY_TOKEN"),
    };
    let mut config = ClientConfig::new(endpoints, credentials);
    config.project_id = get("HW_PROJECT_ID");
    config.transport = TransportOptions::from_env(env);
    Ok(config)
}

/// Where a resource came from.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Journal,
    Sweep,
}

/// One line of output: a resource and what happened to it, or a build's summary.
#[derive(Debug, Default, Serialize)]
pub struct Line {
    pub build: String,
    /// deleted, absent, kept, failed, would_delete, would_keep, clean, incomplete.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Line {
    fn resource(
        build: &str,
        action: &'static str,
        kind: &ResourceKind,
        name: &str,
        id: Option<&str>,
        source: Source,
    ) -> Line {
        Line {
            build: build.to_owned(),
            action,
            kind: Some(kind.to_string()),
            name: Some(name.to_owned()),
            id: id.map(str::to_owned),
            source: Some(source),
            ..Line::default()
        }
    }

    fn summary(build: &str, action: &'static str, hint: Option<String>) -> Line {
        Line {
            build: build.to_owned(),
            action,
            hint,
            ..Line::default()
        }
    }

    fn failed_build(build: &str, error: &str) -> Line {
        Line {
            build: build.to_owned(),
            action: "failed",
            error: Some(error.to_owned()),
            ..Line::default()
        }
    }

    fn why(mut self, why: &str) -> Line {
        self.why = Some(why.to_owned());
        self
    }

    fn error(mut self, error: String, hint: String) -> Line {
        self.error = Some(error);
        self.hint = Some(hint);
        self
    }

    fn plain(&self) -> String {
        let mut s = format!("{}: {}", self.build, self.action.replace('_', " "));
        if let Some(k) = &self.kind {
            s.push(' ');
            s.push_str(k);
        }
        if let Some(n) = &self.name {
            s.push(' ');
            s.push_str(n);
        }
        if let Some(i) = self.id.as_ref().filter(|i| Some(*i) != self.name.as_ref()) {
            s.push_str(&format!(" (id {i})"));
        }
        if let Some(Source::Sweep) = self.source {
            s.push_str(" [sweep]");
        }
        if let Some(w) = &self.why {
            s.push_str(&format!(": {w}"));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(": {e}"));
        }
        if let Some(h) = &self.hint {
            s.push_str(&format!("; {h}"));
        }
        s
    }
}

/// Writes lines as text or as JSON objects.
pub struct Printer<W: Write> {
    json: bool,
    out: W,
}

impl<W: Write> Printer<W> {
    pub fn new(json: bool, out: W) -> Printer<W> {
        Printer { json, out }
    }

    fn line(&mut self, line: &Line) -> anyhow::Result<()> {
        if self.json {
            let text = serde_json::to_string(line).context("cannot encode an output line")?;
            writeln!(self.out, "{text}")
        } else {
            writeln!(self.out, "{}", line.plain())
        }
        .context("cannot write to stdout")?;
        self.out.flush().context("cannot write to stdout")
    }

    /// A remark for people: on stderr in JSON mode, so stdout stays one object per line.
    fn note(&mut self, text: &str) -> anyhow::Result<()> {
        if self.json {
            eprintln!("{text}");
            Ok(())
        } else {
            writeln!(self.out, "{text}").context("cannot write to stdout")
        }
    }
}

//! Post-processors run after a builder produced its artifact: `manifest` (appends to Packer's
//! `packer-manifest.json` format), `checksum` and `shell-local`, each filtered by `only`/`except`.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use cce_template::schema::Build;
use cce_template::schema::post_processors::{Manifest, PostProcessorKind};

use crate::comm::resolve;
use crate::events::Event;
use crate::provision::{self, BuildContext, ProvisionError};

/// What a builder produced, as post-processors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// Packer's builder id (`huawei.huaweicloud`, `fnoeding.null`).
    pub builder_id: String,
    /// The artifact id (an image id; `;`-joined for several).
    pub id: String,
    /// Files the artifact consists of (an exported disk), if any.
    pub files: Vec<PathBuf>,
}

pub async fn post_process(
    build: &Build,
    artifact: &ArtifactInfo,
    ctx: &BuildContext,
) -> Result<(), ProvisionError> {
    let reference = ctx.reference();
    for chain in &build.post_processors {
        for pp in chain {
            if !provision::applies_to(&pp.only, &pp.except, &reference) {
                continue;
            }
            let ty = match &pp.kind {
                PostProcessorKind::Manifest(_) => "manifest",
                PostProcessorKind::Checksum(_) => "checksum",
                PostProcessorKind::ShellLocal(_) => "shell-local",
            };
            // Packer 1.6 prints the block's name (often empty) and the type.
            ctx.say(format!(
                "Running post-processor: {} (type {ty})",
                pp.name.as_deref().unwrap_or("")
            ));
            if pp.keep_input_artifact == Some(false) {
                // Packer's manifest, checksum and shell-local all force keep=true, so the
                // builder's artifact (the image) is never deleted by this setting.
                let _ = ctx.reporter.report(&Event::Warning {
                    build: Some(ctx.display_name.clone()),
                    message: format!(
                        "the {ty} post-processor keeps its input artifact; keep_input_artifact = false is ignored, as in Packer"
                    ),
                });
            }
            match &pp.kind {
                PostProcessorKind::Manifest(m) => write_manifest(m, artifact, ctx)?,
                PostProcessorKind::ShellLocal(s) => {
                    // Packer names a post-processor's lines `BUILD (TYPE)`.
                    let mut pp_ctx = ctx.clone();
                    pp_ctx.display_name = format!("{} ({ty})", ctx.display_name);
                    let mut s = s.clone();
                    if let Some(cce_template::schema::Deferrable::Known(cmd)) = &s.execute_command
                        && cmd.len() == 1
                    {
                        // Packer's post-processor still takes the old one-string form, run
                        // through `sh -c`.
                        let mut argv = vec!["sh".to_string(), "-c".to_string()];
                        argv.extend(cmd.iter().cloned());
                        s.execute_command = Some(cce_template::schema::Deferrable::Known(argv));
                    }
                    provision::run_shell_local(&s, &pp_ctx, "shell-local", None).await?
                }
                // Artifacts with files are summed by the builder that made them; the null
                // artifact and a cloud image have none.
                PostProcessorKind::Checksum(_) if artifact.files.is_empty() => {}
                PostProcessorKind::Checksum(_) => {
                    return Err(ProvisionError {
                        message: "the checksum post-processor cannot sum this artifact's files yet"
                            .into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Appends this build to the manifest file, in Packer's format.
fn write_manifest(
    m: &Manifest,
    artifact: &ArtifactInfo,
    ctx: &BuildContext,
) -> Result<(), ProvisionError> {
    let err = |m: String| ProvisionError { message: m };
    let output = match &m.output {
        cce_template::schema::Deferrable::Known(s) => s.clone(),
        cce_template::schema::Deferrable::Deferred(src) => {
            let v = cce_template::eval::eval_deferred(src, &manifest_roots(ctx))
                .map_err(|e| err(format!("manifest output `{src}`: {e}")))?;
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        }
    };
    let custom_data = match &m.custom_data {
        None => serde_json::Value::Null,
        Some(cce_template::schema::Deferrable::Known(map)) => {
            serde_json::to_value(map).unwrap_or_default()
        }
        Some(cce_template::schema::Deferrable::Deferred(src)) => {
            let v = cce_template::eval::eval_deferred(src, &manifest_roots(ctx))
                .map_err(|e| err(format!("manifest custom_data `{src}`: {e}")))?;
            serde_json::to_value(v).unwrap_or_default()
        }
    };
    let path = resolve(&ctx.cwd, &output);
    let mut doc: ManifestFile = match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text).map_err(|e| {
            err(format!(
                "existing manifest {} cannot be read: {e}; remove it or choose another output",
                path.display()
            ))
        })?,
        _ => ManifestFile::default(),
    };
    let build_time = if m.strip_time {
        None
    } else {
        Some(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    };
    doc.builds.push(ManifestBuild {
        name: ctx.source_name.clone(),
        builder_type: ctx.source_type.clone(),
        build_time,
        files: if artifact.files.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Array(
                artifact
                    .files
                    .iter()
                    .map(|f| {
                        let size = std::fs::metadata(f).map_or(0, |m| m.len());
                        // strip_path writes the file name alone, as Packer does.
                        let name = match (m.strip_path, f.file_name()) {
                            (true, Some(base)) => base.to_string_lossy().into_owned(),
                            _ => f.display().to_string(),
                        };
                        serde_json::json!({"name": name, "size": size})
                    })
                    .collect(),
            )
        },
        artifact_id: artifact.id.clone(),
        packer_run_uuid: ctx.run_uuid.clone(),
        custom_data,
    });
    doc.last_run_uuid = ctx.run_uuid.clone();
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| err(format!("cannot encode the manifest: {e}")))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| err(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&path, text)
        .map_err(|e| err(format!("cannot write the manifest {}: {e}", path.display())))
}

/// Packer's manifest file, fields in Packer's order.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct ManifestFile {
    #[serde(default)]
    builds: Vec<ManifestBuild>,
    #[serde(default)]
    last_run_uuid: String,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ManifestBuild {
    name: String,
    builder_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    build_time: Option<u64>,
    #[serde(default)]
    files: serde_json::Value,
    #[serde(default)]
    artifact_id: String,
    #[serde(default)]
    packer_run_uuid: String,
    #[serde(default)]
    custom_data: serde_json::Value,
}

fn manifest_roots(ctx: &BuildContext) -> hcl::Map<String, hcl::Value> {
    let mut build = hcl::Map::new();
    for (k, v) in &ctx.values {
        build.insert(k.clone(), hcl::Value::String(v.clone()));
    }
    build.insert(
        "PackerRunUUID".into(),
        hcl::Value::String(ctx.run_uuid.clone()),
    );
    build.insert(
        "name".into(),
        hcl::Value::String(ctx.build_name.clone().unwrap_or_default()),
    );
    let mut source = hcl::Map::new();
    source.insert("name".into(), hcl::Value::String(ctx.source_name.clone()));
    source.insert("type".into(), hcl::Value::String(ctx.source_type.clone()));
    let mut roots = hcl::Map::new();
    roots.insert("build".into(), hcl::Value::Object(build));
    roots.insert("source".into(), hcl::Value::Object(source));
    roots
}

//! The `base-images` subcommand: the CCE guide's "get the Image ID" step through the API. Lists
//! the public (gold) images and the images shared with the project that look like CCE node base
//! images, with ID, name, OS and date, so the ID can go into `source_image`.
//!
//! Credentials come from the environment like the plugin's: `HW_ACCESS_KEY`, `HW_SECRET_KEY`,
//! `HW_REGION_NAME`, `HW_PROJECT_ID` or `HW_PROJECT_NAME` (default: the region), `HW_AUTH_URL`,
//! `HW_SECURITY_TOKEN`; or everything from `CCE_ENDPOINTS_FILE`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use cce_cloud::models::{Image, ImageQuery};
use cce_cloud::{ClientConfig, Cloud, EndpointsFile};
use cce_engine::preflight::cce_base_hint;
use serde::Serialize;

use super::preflight::{Access, client_config};
use crate::exit;

/// The longest the listing may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Flags of `base-images`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array instead of a table.
    #[arg(long = "json")]
    pub json: bool,
    /// Only images whose OS or name contains this text (case-insensitive), e.g. `EulerOS`.
    #[arg(long = "os", value_name = "NAME")]
    pub os: Option<String>,
}

/// One base image as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BaseImage {
    pub id: String,
    pub name: String,
    pub os: String,
    pub created_at: String,
    /// `gold` (public) or `shared`.
    pub image_type: String,
    /// Why it counts as a CCE base image.
    pub why: String,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let env: HashMap<String, String> = std::env::vars().collect();
    run_with_env(args, &env)
}

/// The variables `base-images` needs from `env`, or the error naming every missing one.
pub fn access_from_env(env: &HashMap<String, String>) -> Result<Access, String> {
    let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let missing: Vec<&str> = ["HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_REGION_NAME"]
        .into_iter()
        .filter(|k| get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} {} not set: export them (and HW_PROJECT_ID or HW_PROJECT_NAME, HW_AUTH_URL for another cloud than Cloud.ru), or set CCE_ENDPOINTS_FILE to a local cloud's endpoints file",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        ));
    }
    Ok(Access {
        access_key: get("HW_ACCESS_KEY").unwrap_or_default(),
        secret_key: get("HW_SECRET_KEY").unwrap_or_default(),
        security_token: get("HW_SECURITY_TOKEN"),
        region: get("HW_REGION_NAME").unwrap_or_default(),
        project_id: get("HW_PROJECT_ID"),
        auth_url: get("HW_AUTH_URL"),
        insecure: false,
    })
}

pub fn run_with_env(args: Args, env: &HashMap<String, String>) -> anyhow::Result<u8> {
    let (config, project_name) = match EndpointsFile::from_env(env).context("CCE_ENDPOINTS_FILE")? {
        Some(f) => {
            let name = f.region.clone();
            (ClientConfig::from_endpoints_file(&f, env)?, name)
        }
        None => match access_from_env(env) {
            Ok(a) => {
                let name = env
                    .get("HW_PROJECT_NAME")
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| a.region.clone());
                (client_config(&a, env)?, name)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(exit::FAILED);
            }
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let images = runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, async {
            let client = cce_cloud::connect(config, &project_name).await?;
            list(&client).await
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "listing images did not finish within {}s: the cloud is not answering",
                TIMEOUT.as_secs()
            )
        })?
    })?;
    let wanted = args.os.as_deref().map(str::to_lowercase);
    let shown: Vec<BaseImage> = images
        .into_iter()
        .filter(|i| {
            wanted.as_deref().is_none_or(|w| {
                i.os.to_lowercase().contains(w) || i.name.to_lowercase().contains(w)
            })
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(exit::OK);
    }
    if shown.is_empty() {
        let filter = args
            .os
            .as_deref()
            .map(|o| format!(" for OS {o:?}"))
            .unwrap_or_default();
        eprintln!(
            "no CCE base image is visible to this project{filter}; find the Image ID in the CCE console: cluster, Nodes, Create Node Pool, OS: Private Image, View CCE base image information"
        );
        return Ok(exit::OK);
    }
    print!("{}", render(&shown));
    Ok(exit::OK)
}

/// The active gold and shared images that look like CCE base images, newest first per name.
pub async fn list(cloud: &dyn Cloud) -> anyhow::Result<Vec<BaseImage>> {
    let mut out = Vec::new();
    for image_type in ["gold", "shared"] {
        let q = ImageQuery {
            image_type: Some(image_type.into()),
            status: Some("active".into()),
            ..Default::default()
        };
        let images = cloud
            .list_images(&q)
            .await
            .with_context(|| format!("listing {image_type} images"))?;
        for i in images {
            if out.iter().any(|b: &BaseImage| b.id == i.id) {
                continue;
            }
            if let Some(why) = cce_base_hint(&i) {
                out.push(base_image(&i, image_type, why));
            }
        }
    }
    out.sort_by(|a, b| {
        a.os.cmp(&b.os)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

fn base_image(i: &Image, image_type: &str, why: String) -> BaseImage {
    let field = |k: &str| {
        i.extra
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    BaseImage {
        id: i.id.clone(),
        name: i.name.clone(),
        os: field("__os_version")
            .or_else(|| field("__platform"))
            .unwrap_or_else(|| "unknown".into()),
        created_at: i.created_at.clone().unwrap_or_default(),
        image_type: image_type.into(),
        why,
    }
}

/// A table: ID, OS, date, name.
pub fn render(images: &[BaseImage]) -> String {
    let id_w = images.iter().map(|i| i.id.len()).max().unwrap_or(0).max(2);
    let os_w = images
        .iter()
        .map(|i| i.os.chars().count())
        .max()
        .unwrap_or(0)
        .max(2);
    let mut out = format!(
        "{:<id_w$}  {:<os_w$}  {:<10}  NAME\n",
        "ID", "OS", "CREATED"
    );
    for i in images {
        let date: String = i.created_at.chars().take(10).collect();
        out.push_str(&format!(
            "{:<id_w$}  {:<os_w$}  {:<10}  {}\n",
            i.id, i.os, date, i.name
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_all_named() {
        let err = access_from_env(&HashMap::new()).unwrap_err();
        assert!(
            err.starts_with("HW_ACCESS_KEY, HW_SECRET_KEY, HW_REGION_NAME are not set"),
            "{err}"
        );
        let env: HashMap<String, String> = [("HW_ACCESS_KEY", "a"), ("HW_SECRET_KEY", "s")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let err = access_from_env(&env).unwrap_err();
        assert!(err.starts_with("HW_REGION_NAME is not set"), "{err}");
        let mut env = env;
        env.insert("HW_REGION_NAME".into(), "ru-moscow-1".into());
        env.insert("HW_PROJECT_ID".into(), "p".into());
        let a = access_from_env(&env).unwrap();
        assert_eq!(
            (a.region.as_str(), a.project_id.as_deref()),
            ("ru-moscow-1", Some("p"))
        );
    }

    #[test]
    fn table_has_one_line_per_image() {
        let i = BaseImage {
            id: "abc".into(),
            name: "CCE base".into(),
            os: "EulerOS 2.9".into(),
            created_at: "2024-01-01T00:00:00Z".into(),
            image_type: "gold".into(),
            why: String::new(),
        };
        assert_eq!(
            render(&[i]),
            "ID   OS           CREATED     NAME\nabc  EulerOS 2.9  2024-01-01  CCE base\n"
        );
    }
}

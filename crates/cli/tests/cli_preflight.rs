//! `preflight` and `base-images` through the real binary against a local cloud reached with
//! `CCE_ENDPOINTS_FILE`: exit codes, the report's lines and fields, JSON output, the error
//! naming missing credentials; and a source without keys checked on the embedded local cloud
//! (sandboxes, so root), which the checks leave as they found it.

mod common;

use std::process::Output;

use cce_cloud::models::ImageQuery;
use cce_localcloud::{Config, LocalCloud, LocalCloudHandle};
use common::{run_clean as run, text};

const TEMPLATE: &str = r#"variable "image" { type = string }
variable "vpc" { type = string }
variable "subnet" { type = string }
variable "sg" { type = string }
variable "flavor" {
  type    = string
  default = "s7n.large.2"
}
source "huaweicloud-ecs" "node" {
  region             = "ru-moscow-1"
  availability_zone  = "ru-moscow-1a"
  flavor             = var.flavor
  source_image       = var.image
  vpc_id             = var.vpc
  subnets            = [var.subnet]
  security_groups    = [var.sg]
  eip_bandwidth_size = 5
  image_name         = "cce-node"
  ssh_username       = "root"
}
build {
  sources = ["source.huaweicloud-ecs.node"]
}
"#;

/// A running local cloud, its endpoints file, and the `-var` flags of a source that passes.
struct Cloud {
    _rt: tokio::runtime::Runtime,
    handle: Option<LocalCloudHandle>,
    dir: tempfile::TempDir,
    endpoints: String,
    vars: Vec<String>,
    plain_image: String,
}

impl Cloud {
    fn start() -> Cloud {
        // Multi-threaded so the cloud answers while the test blocks on the binary.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let handle = rt
            .block_on(LocalCloud::start(Config::new(dir.path().join("state"))))
            .unwrap();
        let endpoints = dir.path().join("endpoints.json");
        std::fs::write(&endpoints, handle.ready_line()).unwrap();
        std::fs::write(dir.path().join("t.pkr.hcl"), TEMPLATE).unwrap();
        let client = common::local_client(&handle);
        let (vars, plain_image) = rt.block_on(async {
            let subnet = client.list_subnets(None).await.unwrap().remove(0);
            let sg = client
                .list_security_groups()
                .await
                .unwrap()
                .into_iter()
                .find(|g| g.name == "default")
                .unwrap();
            let gold = client
                .list_images(&ImageQuery {
                    image_type: Some("gold".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            let cce = gold
                .iter()
                .find(|i| i.name.contains("CCE"))
                .unwrap()
                .id
                .clone();
            let plain = gold
                .iter()
                .find(|i| !i.name.contains("CCE"))
                .unwrap()
                .id
                .clone();
            let vars = vec![
                format!("image={cce}"),
                format!("vpc={}", subnet.vpc_id),
                format!("subnet={}", subnet.id),
                format!("sg={}", sg.id),
            ];
            (vars, plain)
        });
        Cloud {
            _rt: rt,
            handle: Some(handle),
            dir,
            endpoints: endpoints.display().to_string(),
            vars,
            plain_image,
        }
    }

    fn preflight(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args: Vec<String> = vec!["preflight".into()];
        for v in &self.vars {
            args.push("-var".into());
            args.push(v.clone());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push("t.pkr.hcl".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(self.dir.path(), &refs, env)
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![("CCE_ENDPOINTS_FILE", self.endpoints.as_str())]
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self._rt.block_on(h.shutdown());
        }
    }
}

#[test]
fn preflight_passes_a_good_source_and_fails_naming_the_field() {
    let cloud = Cloud::start();
    let o = cloud.preflight(&[], &cloud.env());
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(
        out.starts_with("==> huaweicloud-ecs.node: pre-flight checks\n[ok] credentials: "),
        "{out}"
    );
    assert!(
        out.contains("[ok] flavor: s7n.large.2 (2 vCPUs, 4 GiB) is sold in zone ru-moscow-1a"),
        "{out}"
    );
    assert!(out.contains("[ok] CCE base image: "), "{out}");
    assert!(
        out.ends_with(" 0 warning(s), 0 failed.\n") && out.contains("Pre-flight passed: "),
        "{out}"
    );

    // A flavor not sold there: exit 1, the field and what to use instead.
    let o = cloud.preflight(&["-var", "flavor=x9.huge.64"], &cloud.env());
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("[FAIL] flavor: x9.huge.64 is not sold in zone ru-moscow-1a"),
        "{out}"
    );
    assert!(
        out.contains("       change flavor: use a flavor sold there: "),
        "{out}"
    );
    assert!(out.contains("Pre-flight failed: "), "{out}");

    // A plain image only warns, quoting the guide; the exit code stays 0.
    let image = format!("image={}", cloud.plain_image);
    let o = cloud.preflight(&["-var", &image], &cloud.env());
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("[warn] CCE base image: ") && out.contains("change source_image: "),
        "{out}"
    );

    // JSON: one document with the verdict and each check's field.
    let o = cloud.preflight(&["--json", "-var", "flavor=x9.huge.64"], &cloud.env());
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["passed"], false);
    assert_eq!(v["sources"][0]["source"], "huaweicloud-ecs.node");
    assert_eq!(v["sources"][0]["target"], "endpoints-file");
    let failed: Vec<&serde_json::Value> = v["sources"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{v:#}");
    assert_eq!(failed[0]["field"], "flavor");
}

#[test]
fn preflight_reports_bad_credentials() {
    let cloud = Cloud::start();
    // Keys the cloud does not know: one failed credentials check.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cloud.endpoints).unwrap()).unwrap();
    file["secret_key"] = "wrong-secret-key-0000000000000000000000".into();
    let bad = cloud.dir.path().join("bad.json");
    std::fs::write(&bad, file.to_string()).unwrap();
    let bad = bad.display().to_string();
    let o = cloud.preflight(&[], &[("CCE_ENDPOINTS_FILE", &bad)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("[FAIL] credentials: the first call failed: ") && out.contains("401"),
        "{out}"
    );
    assert!(out.contains("change access_key: "), "{out}");

    // No project id in the file: it is resolved through IAM by the region's name, or fails
    // naming the project when project_name matches none.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cloud.endpoints).unwrap()).unwrap();
    let project = file["project_id"].as_str().unwrap().to_string();
    file.as_object_mut().unwrap().remove("project_id");
    let no_pid = cloud.dir.path().join("no-pid.json");
    std::fs::write(&no_pid, file.to_string()).unwrap();
    let no_pid = no_pid.display().to_string();
    let o = cloud.preflight(&[], &[("CCE_ENDPOINTS_FILE", &no_pid)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("for project {project}")), "{out}");
    let other = TEMPLATE.replace(
        "  region             = \"ru-moscow-1\"\n",
        "  region             = \"ru-moscow-1\"\n  project_name       = \"no-such-project\"\n",
    );
    assert_ne!(other, TEMPLATE);
    std::fs::create_dir(cloud.dir.path().join("other")).unwrap();
    std::fs::write(cloud.dir.path().join("other/t.pkr.hcl"), other).unwrap();
    let mut args = vec!["preflight".to_string()];
    for v in &cloud.vars {
        args.extend(["-var".to_string(), v.clone()]);
    }
    args.push("other".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(cloud.dir.path(), &args, &[("CCE_ENDPOINTS_FILE", &no_pid)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    assert!(
        out.contains("[FAIL] credentials: cannot connect: ")
            && out.contains("no project named \"no-such-project\"")
            && out.contains("       change project_name: "),
        "{out}"
    );

    // No keys and no endpoints file checks the embedded local cloud: see
    // `a_source_without_keys_is_checked_on_the_embedded_local_cloud`.

    // An invalid template stops before any check.
    let o = run(cloud.dir.path(), &["preflight", "t.pkr.hcl"], &cloud.env());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("unset variable"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn base_images_lists_cce_images_only() {
    let cloud = Cloud::start();
    let o = run(cloud.dir.path(), &["base-images"], &cloud.env());
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID ") && lines[0].ends_with("NAME"),
        "{out}"
    );
    assert_eq!(lines.len(), 2, "one CCE image in the local cloud:\n{out}");
    assert!(
        lines[1].contains("Debian 12 CCE node base")
            && lines[1].contains("Debian GNU/Linux 12.0.0 64bit"),
        "{out}"
    );
    assert!(!out.contains(&cloud.plain_image), "{out}");

    let o = run(
        cloud.dir.path(),
        &["base-images", "--json", "--os", "debian"],
        &cloud.env(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(v[0]["image_type"], "gold");
    assert_eq!(v[0]["created_at"], "2024-01-01T00:00:00Z");

    let o = run(
        cloud.dir.path(),
        &["base-images", "--os", "EulerOS"],
        &cloud.env(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).is_empty());
    assert!(
        text(&o.stderr).contains("no CCE base image is visible to this project for OS \"EulerOS\""),
        "{}",
        text(&o.stderr)
    );

    // Without credentials: every missing variable is named.
    let o = run(
        cloud.dir.path(),
        &["base-images"],
        &[("HW_ACCESS_KEY", "AK")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("error: HW_SECRET_KEY, HW_REGION_NAME are not set"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn preflight_plan_shows_what_a_build_would_create() {
    let cloud = Cloud::start();
    let o = cloud.preflight(&["--plan"], &cloud.env());
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(out.starts_with("==> huaweicloud-ecs.node: plan\nDry run of build <build> on the embedded local cloud: nothing is created."), "{out}");
    assert!(
        out.contains("  eip cce-ib-<build>-eip (temporary, deleted at the end)"),
        "{out}"
    );
    assert!(
        out.contains("  image cce-node (kept after the build)"),
        "{out}"
    );
    assert!(
        out.contains("==> huaweicloud-ecs.node: pre-flight checks\n[ok] credentials"),
        "{out}"
    );

    let o = cloud.preflight(&["--plan", "--json"], &cloud.env());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let kinds: Vec<&str> = v["sources"][0]["plan"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["keypair", "vpc", "subnet", "eip", "server", "image"]
    );
    // Without --plan there is no plan.
    let o = cloud.preflight(&["--json"], &cloud.env());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["sources"][0].get("plan").is_none());
}

/// Two sources without keys: one the local cloud fills in, one naming a flavor and an image
/// it does not have.
const LOCAL_TEMPLATE: &str = r#"
source "huaweicloud-ecs" "node" {
  image_name   = "cce-preflight-local"
  ssh_username = "root"
}
source "huaweicloud-ecs" "bad" {
  image_name        = "cce-preflight-bad"
  flavor            = "no.such.flavor"
  source_image_name = "No Such Image"
  ssh_username      = "root"
}
build {
  sources = ["source.huaweicloud-ecs.node", "source.huaweicloud-ecs.bad"]
}
"#;

#[test]
fn a_source_without_keys_is_checked_on_the_embedded_local_cloud() {
    if !common::sandboxes_ok() {
        return;
    }
    let dir = common::searchable_dir("cce-preflight-local-");
    std::fs::write(dir.path().join("t.pkr.hcl"), LOCAL_TEMPLATE).unwrap();
    let state = dir.path().join("localcloud");
    let xdg = dir.path().join("xdg");
    let path = std::env::var("PATH").unwrap_or_default();
    let env = [
        ("CCE_LOCALCLOUD_STATE", state.to_str().unwrap()),
        ("XDG_STATE_HOME", xdg.to_str().unwrap()),
        ("PATH", path.as_str()),
    ];
    let before = common::inventory(&state);
    assert!(
        before.iter().any(|l| l.starts_with("vpc ")),
        "the local cloud starts with its default network: {before:?}"
    );

    let o = run(dir.path(), &["preflight", "."], &env);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    assert!(
        out.starts_with("==> Checking the embedded local cloud (no credentials set)"),
        "the local cloud is named first:\n{out}"
    );
    let (node, bad) = out
        .split_once("==> huaweicloud-ecs.bad: pre-flight checks\n")
        .unwrap_or_else(|| panic!("no report of the bad source:\n{out}"));
    assert!(
        node.contains("==> huaweicloud-ecs.node: pre-flight checks\n[ok] credentials"),
        "{out}"
    );
    assert!(!node.contains("[FAIL]"), "{out}");
    assert!(
        node.contains("[ok] flavor: not set: the local cloud's flavor ")
            && node.contains("[ok] source image: not set: the local cloud's base image ")
            && node.contains("(Debian 12 (local sandbox rootfs)) will be used"),
        "{out}"
    );
    assert!(
        bad.contains("[FAIL] flavor: no.such.flavor is not sold in the region\n       change flavor: use a flavor sold there: ")
            && bad.contains("s7n.large.2"),
        "{out}"
    );
    assert!(
        bad.contains("[FAIL] source image: no image is named \"No Such Image\"\n       change source_image_name: "),
        "{out}"
    );
    assert!(
        out.ends_with("Pre-flight failed: 14 ok, 0 warning(s), 2 failed.\n"),
        "{out}"
    );
    // The checks created nothing: no key pair, network, EIP, server or image.
    assert_eq!(common::inventory(&state), before);

    // JSON keeps stdout to the document and says where each source was checked.
    let o = run(
        dir.path(),
        &["preflight", "--json", "-only", "huaweicloud-ecs.node", "."],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["sources"][0]["target"], "local-cloud", "{v:#}");
    assert!(
        text(&o.stderr).starts_with("==> Checking the embedded local cloud"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(common::inventory(&state), before);
}

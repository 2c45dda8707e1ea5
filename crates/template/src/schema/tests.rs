//! Behaviour tests of the schemas, through HCL text turned into blocks: exact messages and
//! positions for every rule.

use std::collections::BTreeMap;
use std::time::Duration;

use super::testutil::{parse, pos};
use super::*;

/// Plans `text`; every diagnostic as `"error 3:5 summary [help]"`.
fn check_env(text: &str, env: &[(&str, &str)]) -> (Option<BuildPlan>, Vec<String>) {
    let p = parse(text);
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (plan, diags) = plan_with_env(&p.blocks, &env);
    let lines = diags
        .0
        .iter()
        .map(|d| {
            let sev = if d.is_error() { "error" } else { "warning" };
            let help = d.help.as_ref().map(|h| format!(" [{h}]")).unwrap_or_default();
            format!("{sev} {} {}{help}", pos(&p.sources, d.span), d.summary)
        })
        .collect();
    (plan, lines)
}

fn check(text: &str) -> (Option<BuildPlan>, Vec<String>) {
    check_env(text, &[])
}

fn ok(text: &str) -> BuildPlan {
    let (plan, diags) = check(text);
    assert!(diags.is_empty(), "{diags:#?}");
    plan.expect("a plan when there are no errors")
}

fn errors(text: &str) -> Vec<String> {
    let (plan, diags) = check(text);
    assert!(plan.is_none(), "errors give no plan");
    diags
}

fn ecs(plan: &BuildPlan) -> &HuaweiEcsConfig {
    match &plan.builds[0].sources[0].config {
        SourceConfig::HuaweiEcs(c) => c,
        other => panic!("not huaweicloud-ecs: {other:?}"),
    }
}

fn ssh(c: &HuaweiEcsConfig) -> &SshConfig {
    c.communicator.ssh().expect("ssh communicator")
}

/// A local-cloud source with `extra` fields, used by a build.
fn local(extra: &str) -> String {
    format!(
        "source \"huaweicloud-ecs\" \"node\" {{\n  image_name   = \"cce-node\"\n  ssh_username = \"root\"\n{extra}\n}}\nbuild {{\n  sources = [\"source.huaweicloud-ecs.node\"]\n}}\n"
    )
}

/// A cloud source (variables for the keys) with `extra` fields.
fn cloud(extra: &str) -> String {
    local(&format!(
        "  access_key = var.ak\n  secret_key = var.sk\n  region = \"ru-moscow-1\"\n  flavor = \"s7n.large.2\"\n  source_image = \"0b3b1c4e-cce-base\"\n{extra}"
    ))
}

#[test]
fn local_cloud_mode_fills_packer_and_plugin_defaults() {
    let plan = ok(&local(""));
    let c = ecs(&plan);
    assert!(c.local_cloud);
    assert_eq!(c.region, "");
    assert_eq!(c.source_image, None);
    assert_eq!(c.instance_name.as_deref(), Some("cce-node"));
    assert_eq!((c.volume_type.as_str(), c.eip_type.as_str(), c.eip_bandwidth_size), ("SSD", "5_bgp", 0));
    assert!(c.associate_public_ip_address);
    assert_eq!(c.image_type, huaweicloud::ImageType::System);
    assert_eq!(c.wait_image_ready_timeout, GoDuration::secs(1800));
    let s = ssh(c);
    assert_eq!((s.port, s.handshake_attempts), (22, 10));
    assert_eq!(s.timeout, GoDuration::secs(300));
    assert_eq!(s.keep_alive_interval, GoDuration::secs(5));
    assert_eq!(s.key_pair, KeyPair::Temporary { name: None });
    assert_eq!(s.file_transfer_method, communicator::FileTransfer::Scp);
    assert_eq!(plan.builds[0].sources[0].reference(), "huaweicloud-ecs.node");
    assert_eq!(plan.sources.len(), 1);
}

#[test]
fn empty_network_entries_let_the_local_cloud_choose() {
    let plan = ok(&local("  vpc_id = \"\"\n  subnets = [\"\"]\n  security_groups = [\"\", \"web\"]"));
    let c = ecs(&plan);
    assert!(c.subnets.is_empty(), "{:?}", c.subnets);
    assert_eq!(c.security_groups, vec![huaweicloud::SecurityGroupRef::Name("web".into())]);
}

#[test]
fn empty_network_entries_are_errors_in_the_cloud() {
    let d = errors(&cloud("  vpc_id = \"v\"\n  subnets = [\"\"]\n  security_groups = [\"\"]"));
    assert!(d.iter().any(|e| e.contains("an entry of \"subnets\" (or \"networks\") is empty") && e.contains("ECS_NETWORK_ID")), "{d:?}");
    assert!(d.iter().any(|e| e.contains("an entry of \"security_groups\" is empty") && e.contains("ECS_SECGRP_ID")), "{d:?}");
}

#[test]
fn empty_keys_are_the_local_cloud_too() {
    let plan = ok(&local("  access_key = \"\"\n  secret_key = \"\""));
    assert!(ecs(&plan).local_cloud);
}

#[test]
fn cloud_mode_with_variables_has_no_warnings() {
    let plan = ok(&cloud(""));
    let c = ecs(&plan);
    assert!(!c.local_cloud);
    assert_eq!(c.access_key, "<var.ak>");
    assert_eq!(c.project_name.as_deref(), Some("ru-moscow-1"));
    assert_eq!(c.source_image, Some(SourceImage::Id("0b3b1c4e-cce-base".into())));
}

#[test]
fn one_key_empty_names_the_empty_one() {
    let d = errors(&local("  access_key = var.ak"));
    assert_eq!(d[0], "error 1:1 \"secret_key\" is empty while \"access_key\" is set [set secret_key (or HW_SECRET_KEY) to build in the cloud, or leave both keys empty to build in the local cloud]");
    let d = errors(&local("  secret_key = var.sk\n  access_key = \"\""));
    assert_eq!(d[0], "error 1:1 \"access_key\" is empty while \"secret_key\" is set [set access_key (or HW_ACCESS_KEY) to build in the cloud, or leave both keys empty to build in the local cloud]");
}

#[test]
fn cloud_mode_requires_what_the_plugin_requires() {
    let d = errors(&local("  access_key = var.ak\n  secret_key = var.sk\n  subnets = [\"s1\"]"));
    assert_eq!(
        d,
        [
            "error 1:1 \"region\" must be set to build in the cloud [set region or HW_REGION_NAME, e.g. \"ru-moscow-1\"]",
            "error 1:1 \"flavor\" must be set to build in the cloud [set flavor to a flavor ID, e.g. \"s7n.large.2\"]",
            "error 1:1 one of \"source_image\", \"source_image_name\" or \"source_image_filter\" must be set to build in the cloud [for CCE, set source_image to the ID of the CCE node base image]",
            "error 1:1 \"subnets\" (or \"networks\") are set but \"vpc_id\" is not [set vpc_id to the VPC of these subnets]",
        ]
    );
    let d = errors(&cloud("  vpc_id = \"v\""));
    assert_eq!(d, ["error 1:1 \"vpc_id\" is set but \"subnets\" is not [set subnets to a subnet of this VPC, or remove vpc_id to use a temporary VPC]"]);
}

#[test]
fn image_name_and_ssh_username_are_required_in_both_modes() {
    let text = "source \"huaweicloud-ecs\" \"n\" {\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.n\"]\n}\n";
    assert_eq!(
        errors(text),
        [
            "error 1:1 \"image_name\" must be set in source \"huaweicloud-ecs\" \"n\" [set image_name to the name of the image to create]",
            "error 1:1 \"ssh_username\" must be set in source \"huaweicloud-ecs\" \"n\" [set ssh_username, e.g. \"root\" for CCE node images]",
        ]
    );
}

#[test]
fn environment_fills_keys_and_switches_to_the_cloud() {
    let (plan, d) = check_env(
        &local("  flavor = \"f\"\n  source_image = \"i\""),
        &[("HW_ACCESS_KEY", "AK"), ("HW_SECRET_KEY", "SK"), ("HW_REGION_NAME", "ru-moscow-1"), ("HW_PROJECT_ID", "p1")],
    );
    assert!(d.is_empty(), "{d:?}");
    let plan = plan.expect("plan");
    let c = ecs(&plan);
    assert!(!c.local_cloud);
    assert_eq!((c.access_key.as_str(), c.region.as_str(), c.project_id.as_deref()), ("AK", "ru-moscow-1", Some("p1")));
    // Only the access key in the environment: the empty secret key is named.
    let (_, d) = check_env(&local(""), &[("HW_ACCESS_KEY", "AK")]);
    assert!(d[0].starts_with("error 1:1 \"secret_key\" is empty while \"access_key\" is set"), "{d:?}");
    // The template wins over the environment.
    let mut c = ecs(&plan).clone();
    apply_env_defaults(&mut c, &BTreeMap::from([("HW_REGION_NAME".to_string(), "other".to_string())]));
    assert_eq!(c.region, "ru-moscow-1");
}

#[test]
fn literal_keys_warn() {
    let text = local("  access_key = \"AKLITERAL\"\n  secret_key = var.sk\n  region = \"r\"\n  flavor = \"f\"\n  source_image = \"i\"");
    let (plan, d) = check(&text);
    assert!(plan.is_some());
    assert_eq!(
        d,
        ["warning 4:16 \"access_key\" is written in the template; pass it through a variable bound to the environment [declare variable \"access_key\" { default = env(\"HW_ACCESS_KEY\") sensitive = true } and use var.access_key]"]
    );
}

#[test]
fn unknown_field_points_at_the_name_with_did_you_mean() {
    let d = errors(&local("  ssh_timout = \"5m\""));
    assert_eq!(d, ["error 4:3 unsupported argument \"ssh_timout\" in source \"huaweicloud-ecs\" \"node\" [did you mean \"ssh_timeout\"?]"]);
    let d = errors(&local("  zzzz = 1"));
    assert_eq!(d, ["error 4:3 unsupported argument \"zzzz\" in source \"huaweicloud-ecs\" \"node\""]);
    let d = errors(&local("  data_disk {\n    volume_size = 10\n  }"));
    assert_eq!(d, ["error 4:3 unsupported block type \"data_disk\" in source \"huaweicloud-ecs\" \"node\" [did you mean \"data_disks\"?]"]);
    let d = errors(&local("  source_image_filter = {}"));
    assert_eq!(d, ["error 4:3 \"source_image_filter\" is a block, not an argument [write it as a block: source_image_filter { ... }]"]);
}

#[test]
fn refused_fields_say_why() {
    let d = errors(&local("  winrm_password = \"x\"\n  ports = [\"p\"]\n  volume_name = \"v\"\n  ssh_interface = \"private\"\n  ssh_proxy_host = \"h\"\n  ssh_local_tunnels = [\"8080:localhost:80\"]"));
    assert_eq!(
        d,
        [
            "error 4:3 \"winrm_password\" is not supported by cce-image-builder: only Linux nodes over SSH are built; use the ssh communicator",
            "error 5:3 \"ports\" is not supported by cce-image-builder: attaching pre-created Neutron ports is not possible through the ECS API; use subnets (with vpc_id) instead",
            "error 6:3 \"volume_name\" is not supported by cce-image-builder: the system disk is created with the server and cannot be named (removed in plugin v1.0.0); remove volume_name",
            "error 7:3 \"ssh_interface\" is not supported by cce-image-builder: SSH goes to the EIP, or to the private IP when associate_public_ip_address is false; set ssh_host to force an address",
            "error 8:3 \"ssh_proxy_host\" is not supported by cce-image-builder: connections through a SOCKS proxy are not implemented; reach the server directly or through ssh_bastion_host",
            "error 9:3 \"ssh_local_tunnels\" is not supported by cce-image-builder: SSH port forwarding is not implemented; run the service you need inside the build with a shell provisioner",
        ]
    );
    let d = errors(&local("  config_drive = true"));
    assert_eq!(d, ["error 4:3 \"config_drive = true\" is not supported by cce-image-builder: the ECS API has no config drive; user data reaches the server through the metadata service, remove config_drive"]);
    let d = errors(&local("  communicator = \"winrm\""));
    assert_eq!(d, ["error 4:18 \"communicator \"winrm\"\" is not supported by cce-image-builder: only Linux nodes over SSH are built; use the ssh communicator"]);
}

#[test]
fn accepted_v04_fields_map_onto_one_behaviour() {
    let (plan, d) = check(&local(
        "  config_drive = false\n  force_delete = true\n  use_blockstorage_volume = false\n  image_min_disk = 40\n  image_auto_accept_members = true\n  vpc_id = \"vpc\"\n  subnets = [\"s1\"]\n  networks = [\"n1\"]\n  security_groups = [\"default\", \"0d3a8f6e-1b2c-4d5e-8f90-a1b2c3d4e5f6\"]",
    ));
    assert_eq!(
        d,
        [
            "warning 6:3 \"use_blockstorage_volume = false\" is ignored: the system disk is always an EVS volume",
            "warning 8:3 \"image_auto_accept_members\" is ignored: each member project must accept the shared image itself",
        ]
    );
    let plan = plan.expect("warnings only");
    let c = ecs(&plan);
    assert_eq!(c.subnets, ["s1", "n1"]);
    assert_eq!(c.image_min_disk, Some(40));
    assert_eq!(
        c.security_groups,
        [SecurityGroupRef::Name("default".into()), SecurityGroupRef::Id("0d3a8f6e-1b2c-4d5e-8f90-a1b2c3d4e5f6".into())]
    );
}

#[test]
fn image_filter_visibility_maps_to_ims_image_type() {
    let plan = ok(&local("  source_image_filter {\n    filters {\n      name = \"CCE base\"\n      visibility = \"public\"\n      properties = { os = \"EulerOS\" }\n    }\n    most_recent = true\n  }"));
    let Some(SourceImage::Filter(f)) = &ecs(&plan).source_image else { panic!("a filter") };
    assert_eq!(f.image_type.as_deref(), Some("gold"));
    assert_eq!(f.name.as_deref(), Some("CCE base"));
    assert_eq!(f.properties.get("os").map(String::as_str), Some("EulerOS"));
    assert!(f.most_recent);
    let d = errors(&local("  source_image_filter {\n    filters {\n      visibility = \"community\"\n    }\n  }"));
    assert_eq!(d[0], "error 6:20 visibility \"community\" has no equivalent in IMS [use \"public\", \"private\", \"market\" or \"shared\"]");
    let d = errors(&local("  source_image = \"a\"\n  source_image_name = \"b\""));
    assert_eq!(d, ["error 5:3 only one of \"source_image\" and \"source_image_name\" can be set in source \"huaweicloud-ecs\" \"node\" [keep one of source_image, source_image_name and remove the other]"]);
    let (plan, d) = check(&local("  source_image = \"a\"\n  source_image_filter {\n    filters {\n      name = \"b\"\n    }\n  }"));
    assert_eq!(d, ["warning 5:3 \"source_image_filter\" is not used because \"source_image\" is set [remove one of them]"]);
    assert_eq!(ecs(&plan.expect("warnings only")).source_image, Some(SourceImage::Id("a".into())));
}

#[test]
fn eip_and_image_rules() {
    let d = errors(&local("  associate_public_ip_address = false\n  eip_bandwidth_size = 5"));
    assert_eq!(d, ["error 5:3 \"eip_bandwidth_size\" cannot be set when \"associate_public_ip_address\" is false [the server gets no EIP: remove this field or set associate_public_ip_address = true]"]);
    let d = errors(&local("  image_type = \"full-ecs\""));
    assert_eq!(d, ["error 4:3 \"vault_id\" must be set when image_type is \"full-ecs\" [a full-ECS image is made through a CBR vault: set vault_id]"]);
    let d = errors(&local("  volume_type = \"SDD\""));
    assert_eq!(d, ["error 4:17 \"volume_type\" must be one of \"SATA\", \"SAS\", \"SSD\", \"GPSSD\", \"ESSD\", \"GPSSD2\", \"ESSD2\", got \"SDD\""]);
    let d = errors(&local("  volume_type = \"ssd\""));
    assert_eq!(d, ["error 4:17 \"volume_type\" must be one of \"SATA\", \"SAS\", \"SSD\", \"GPSSD\", \"ESSD\", \"GPSSD2\", \"ESSD2\", got \"ssd\" [did you mean \"SSD\"?]"]);
    let d = errors(&local("  data_disks {\n    volume_size = 10\n    volume_id = \"v\"\n  }"));
    assert_eq!(d, ["error 4:3 a data_disks block needs exactly one of \"volume_size\", \"data_image_id\", \"snapshot_id\", \"volume_id\""]);
    let plan = ok(&local("  data_disks {\n    volume_size = 100\n  }\n  vault_id = \"vault\""));
    let c = ecs(&plan);
    assert_eq!(c.image_type, huaweicloud::ImageType::FullEcs);
    assert_eq!(c.data_disks[0].source, huaweicloud::DataDiskSource::Size(100));
    assert_eq!(c.data_disks[0].volume_type, "SSD");
    let d = errors(&local("  eip_bandwidth_size = \"lots\""));
    assert_eq!(d, ["error 4:24 \"eip_bandwidth_size\" must be a whole number, got string \"lots\""]);
}

#[test]
fn durations_are_go_durations() {
    let plan = ok(&local("  ssh_timeout = \"1m30s\"\n  wait_image_ready_timeout = \"1h\""));
    assert_eq!(ssh(ecs(&plan)).timeout.0, Duration::from_secs(90));
    assert_eq!(ecs(&plan).wait_image_ready_timeout.0, Duration::from_secs(3600));
    let d = errors(&local("  ssh_timeout = \"5 minutes\""));
    assert_eq!(d, ["error 4:17 invalid duration \"5 minutes\" for \"ssh_timeout\": unknown unit \" minutes\" [write a Go duration such as \"1m30s\", \"300ms\" or \"2h\"]"]);
    let d = errors(&local("  wait_image_ready_timeout = 300"));
    assert_eq!(d, ["error 4:30 invalid duration \"300\" for \"wait_image_ready_timeout\": missing unit after \"300\" [write a Go duration such as \"1m30s\", \"300ms\" or \"2h\"]"]);
    let plan = ok(&local("  ssh_wait_timeout = \"10m\""));
    assert_eq!(ssh(ecs(&plan)).timeout, GoDuration::secs(600));
    let d = errors(&local("  ssh_wait_timeout = \"10m\"\n  ssh_timeout = \"1m\""));
    assert_eq!(d, ["error 4:3 \"ssh_wait_timeout\" and \"ssh_timeout\" are both set [ssh_wait_timeout is a deprecated alias of ssh_timeout: keep only ssh_timeout]"]);
}

#[test]
fn key_pair_modes() {
    let plan = ok(&local("  ssh_private_key_file = \"id\""));
    assert_eq!(ssh(ecs(&plan)).key_pair, KeyPair::NotUsed);
    let plan = ok(&local("  ssh_keypair_name = \"kp\"\n  ssh_private_key_file = \"id\""));
    assert_eq!(ssh(ecs(&plan)).key_pair, KeyPair::Existing { name: "kp".into() });
    let plan = ok(&local("  temporary_key_pair_name = \"tmp\""));
    assert_eq!(ssh(ecs(&plan)).key_pair, KeyPair::Temporary { name: Some("tmp".into()) });
    let d = errors(&local("  ssh_keypair_name = \"kp\""));
    assert_eq!(d, ["error 4:3 \"ssh_keypair_name\" needs \"ssh_private_key_file\" or \"ssh_agent_auth\" [the cloud never returns the private key of an existing key pair: point ssh_private_key_file at it]"]);
}

#[test]
fn sources_cannot_depend_on_build_values() {
    let d = errors(&local("  instance_name = build.ID"));
    assert_eq!(d, ["error 4:19 \"instance_name\" cannot depend on build values"]);
}

#[test]
fn null_source_rules() {
    let text = "source \"null\" \"n\" {\n  ssh_username = \"root\"\n}\nbuild {\n  sources = [\"source.null.n\"]\n}\n";
    assert_eq!(
        errors(text),
        [
            "error 1:1 \"ssh_host\" must be set in source \"null\" \"n\" [the null source creates no machine: set ssh_host to the host to provision, or communicator = \"none\"]",
            "error 1:1 one authentication method must be set in source \"null\" \"n\" [set ssh_password, ssh_private_key_file or ssh_agent_auth = true]",
        ]
    );
    let plan = ok("source \"null\" \"n\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.n\"]\n}\n");
    assert_eq!(plan.builds[0].sources[0].config, SourceConfig::Null(NullConfig { communicator: Communicator::None }));
    let d = errors("source \"null\" \"n\" {\n  comunicator = \"none\"\n}\n");
    assert_eq!(d[0], "error 2:3 unsupported argument \"comunicator\" in source \"null\" \"n\" [did you mean \"communicator\"?]");
}

#[test]
fn unknown_source_type_and_duplicates() {
    let d = errors(&local("  source_image_filter {\n    most_recent = true\n  }\n  source_image_filter {\n    most_recent = true\n  }"));
    assert_eq!(
        d,
        [
            "error 7:3 duplicate \"source_image_filter\" block in source \"huaweicloud-ecs\" \"node\" [only one such block is allowed; merge them]",
            "error 4:3 \"source_image_filter\" has no filters [add filters { name = \"...\" } or use source_image with the base image ID]",
        ]
    );
    let d = errors("source \"huaweicloud-ecs2\" \"n\" {\n}\n");
    assert_eq!(d, ["error 1:1 unknown source type \"huaweicloud-ecs2\" [did you mean \"huaweicloud-ecs\"?]"]);
    let d = errors("source \"null\" \"n\" {\n  communicator = \"none\"\n}\nsource \"null\" \"n\" {\n  communicator = \"none\"\n}\n");
    assert_eq!(d, ["error 4:1 duplicate source \"null\" \"n\" [give each source of a type its own name]"]);
    let d = errors("data \"amazon-ami\" \"x\" {\n}\n");
    assert_eq!(d, ["error 1:1 \"the data block\" is not supported by cce-image-builder: data sources need plugins that are not built in; compute the value in a variable or a local instead"]);
}

const NULL_SOURCES: &str = "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nsource \"null\" \"b\" {\n  communicator = \"none\"\n}\n";

#[test]
fn build_source_references() {
    // Packer 1.6 takes the reference without "source." too.
    let plan = ok(&format!("{NULL_SOURCES}build {{\n  sources = [\"null.a\"]\n}}\n"));
    assert_eq!(plan.builds[0].sources[0].reference(), "null.a");
    let d = errors(&format!("{NULL_SOURCES}build {{\n  sources = [\"source.nulla\"]\n}}\n"));
    assert_eq!(d, ["error 8:13 source reference \"source.nulla\" must have the form source.TYPE.NAME [write \"source.TYPE.NAME\"]"]);
    let d = errors(&format!("{NULL_SOURCES}build {{\n  sources = [\"source.null.c\"]\n}}\n"));
    assert_eq!(d, ["error 8:13 unknown source \"source.null.c\" [did you mean \"source.null.a\"?]"]);
    let d = errors(&format!("{NULL_SOURCES}build {{\n  sources = [\"source.nul.a\"]\n}}\n"));
    assert_eq!(d, ["error 8:13 unknown source \"source.nul.a\" [did you mean \"source.null.a\"?]"]);
    // Packer 1.6.6 accepts a build without sources: a warning, not an error.
    let (plan, d) = check(&format!("{NULL_SOURCES}build {{\n}}\n"));
    assert!(plan.is_some(), "{d:?}");
    assert_eq!(d, ["warning 7:1 build has no sources: it builds nothing [add sources = [\"source.TYPE.NAME\"] naming a top-level source]"]);
    let d = errors(&format!("{NULL_SOURCES}build {{\n  sources = [\"source.null.a\", \"source.null.a\"]\n}}\n"));
    assert_eq!(d, ["error 7:1 source \"null.a\" is used twice in this build [give one of them another name with name = \"...\" in a nested source block]"]);
}

#[test]
fn nested_build_source_completes_and_renames() {
    let text = "source \"huaweicloud-ecs\" \"base\" {\n  ssh_username = \"root\"\n}\nbuild {\n  source \"source.huaweicloud-ecs.base\" {\n    name = \"euler\"\n    image_name = \"cce-euler\"\n  }\n  source \"huaweicloud-ecs.base\" {\n    name = \"ubuntu\"\n    image_name = \"cce-ubuntu\"\n  }\n}\n";
    let plan = ok(text);
    let b = &plan.builds[0];
    assert_eq!(b.sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["euler", "ubuntu"]);
    let SourceConfig::HuaweiEcs(c) = &b.sources[1].config else { panic!() };
    assert_eq!(c.image_name.as_deref(), Some("cce-ubuntu"));
    // A field set in both places is an error, as in Packer; required fields are checked on the merge.
    let text = "source \"huaweicloud-ecs\" \"base\" {\n  ssh_username = \"root\"\n}\nbuild {\n  source \"source.huaweicloud-ecs.base\" {\n    ssh_username = \"ubuntu\"\n  }\n}\n";
    assert_eq!(
        errors(text),
        [
            "error 6:5 \"ssh_username\" is already set in source \"huaweicloud-ecs\" \"base\" [a build's source block can only set fields the top-level source leaves unset]",
            "error 1:1 \"image_name\" must be set in source \"huaweicloud-ecs\" \"base\" [set image_name to the name of the image to create]",
        ]
    );
    // Used as written by another build, the source still needs its required fields.
    let text = "source \"huaweicloud-ecs\" \"base\" {\n  ssh_username = \"root\"\n}\nbuild {\n  source \"source.huaweicloud-ecs.base\" {\n    image_name = \"x\"\n  }\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.base\"]\n}\n";
    assert_eq!(errors(text), ["error 1:1 \"image_name\" must be set in source \"huaweicloud-ecs\" \"base\" [set image_name to the name of the image to create]"]);
    let text = "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  source \"source.null.a\" {\n    ssh_usrname = \"x\"\n  }\n}\n";
    assert_eq!(errors(text), ["error 6:5 unsupported argument \"ssh_usrname\" in source \"null\" \"a\" [did you mean \"ssh_username\"?]"]);
}

fn with_provisioner(body: &str) -> String {
    format!("{NULL_SOURCES}build {{\n  sources = [\"source.null.a\", \"source.null.b\"]\n{body}\n}}\n")
}

#[test]
fn provisioners_keep_order_meta_and_deferred_values() {
    let plan = ok(&with_provisioner(
        "  provisioner \"file\" {\n    source = \"files/a\"\n    destination = \"/tmp/a\"\n  }\n  provisioner \"shell\" {\n    inline = [\"echo ${build.ID}\"]\n    pause_before = \"10s\"\n    max_retries = 3\n    timeout = \"1m30s\"\n    only = [\"null.a\"]\n    override = { b = { inline = [\"true\"] } }\n  }\n  provisioner \"shell-local\" {\n    command = \"true\"\n  }\n  provisioner \"breakpoint\" {\n    note = \"look\"\n  }\n  error-cleanup-provisioner \"shell-local\" {\n    inline = [\"echo cleanup\"]\n  }",
    ));
    let b = &plan.builds[0];
    let kinds: Vec<&str> = b
        .provisioners
        .iter()
        .map(|p| match p.kind {
            ProvisionerKind::File(_) => "file",
            ProvisionerKind::Shell(_) => "shell",
            ProvisionerKind::ShellLocal(_) => "shell-local",
            ProvisionerKind::Breakpoint(_) => "breakpoint",
        })
        .collect();
    assert_eq!(kinds, ["file", "shell", "shell-local", "breakpoint"]);
    let p = &b.provisioners[1];
    assert_eq!((p.pause_before, p.max_retries, p.timeout), (Some(GoDuration::secs(10)), 3, Some(GoDuration::secs(90))));
    assert_eq!(p.only, ["null.a"]);
    assert_eq!(p.overrides["b"], serde_json::json!({"inline": ["true"]}));
    let ProvisionerKind::Shell(s) = &p.kind else { panic!() };
    assert_eq!(s.inline, Some(Deferrable::Deferred("[\"echo ${build.ID}\"]".into())));
    assert_eq!((s.valid_exit_codes.as_slice(), s.start_retry_timeout, s.expect_disconnect), (&[0][..], GoDuration::secs(300), false));
    assert!(b.error_cleanup_provisioner.is_some());
}

#[test]
fn shell_provisioner_rules() {
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n  }"));
    assert_eq!(d, ["error 9:3 either a script file or an inline script must be specified in provisioner \"shell\" [set exactly one of inline, script or scripts]"]);
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    script = \"s.sh\"\n  }"));
    assert_eq!(d, ["error 10:5 only a script file or an inline script can be specified, not both [keep inline, or script/scripts; use two provisioners for both]"]);
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    script = \"a\"\n    scripts = [\"b\"]\n  }"));
    assert_eq!(d, ["error 11:5 only one of \"script\" or \"scripts\" can be set in provisioner \"shell\""]);
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    environment_vars = [\"A=1\", \"B\"]\n  }"));
    assert_eq!(d, ["error 11:24 environment variable not in format 'key=value': \"B\""]);
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    expect_disconnect = build.X\n  }"));
    assert_eq!(d, ["error 11:25 \"expect_disconnect\" cannot depend on build values"]);
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    pause_before = \"soon\"\n  }"));
    assert_eq!(d, ["error 11:20 invalid duration \"soon\" for \"pause_before\": expected a number at \"soon\" [write a Go duration such as \"1m30s\", \"300ms\" or \"2h\"]"]);
}

#[test]
fn file_provisioner_rules() {
    let d = errors(&with_provisioner("  provisioner \"file\" {\n  }"));
    assert_eq!(
        d,
        [
            "error 9:3 source must be specified in provisioner \"file\" [set source (or sources) to the file to copy, or content to the text to write]",
            "error 9:3 destination must be specified in provisioner \"file\"",
        ]
    );
    let d = errors(&with_provisioner("  provisioner \"file\" {\n    source = \"a\"\n    content = \"b\"\n    destination = \"/c\"\n  }"));
    assert_eq!(d, ["error 11:5 cannot specify both source and content in provisioner \"file\""]);
    let d = errors(&with_provisioner("  provisioner \"file\" {\n    content = \"b\"\n    destination = \"/c\"\n    direction = \"sideways\"\n  }"));
    assert_eq!(d, ["error 12:17 \"direction\" must be one of \"upload\", \"download\", got \"sideways\""]);
}

#[test]
fn shell_local_rules_and_unknown_types() {
    let d = errors(&with_provisioner("  provisioner \"shell-local\" {\n    command = \"a\"\n    inline = [\"b\"]\n  }"));
    assert_eq!(d, ["error 10:5 \"command\", \"inline\", \"script\" and \"scripts\" cannot be used together in provisioner \"shell-local\""]);
    let d = errors(&with_provisioner("  provisioner \"shell-local\" {\n  }"));
    assert_eq!(d, ["error 9:3 one of \"command\", \"inline\", \"script\" or \"scripts\" must be set in provisioner \"shell-local\""]);
    let d = errors(&with_provisioner("  provisioner \"shel\" {\n  }"));
    assert_eq!(d, ["error 9:3 unknown provisioner type \"shel\" [did you mean \"shell\"?]"]);
    let d = errors(&with_provisioner("  provisioner \"powershell\" {\n  }"));
    assert_eq!(d, ["error 9:3 unknown provisioner type \"powershell\""]);
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inlne = [\"a\"]\n  }"));
    assert_eq!(
        d,
        [
            "error 10:5 unsupported argument \"inlne\" in provisioner \"shell\" [did you mean \"inline\"?]",
            "error 9:3 either a script file or an inline script must be specified in provisioner \"shell\" [set exactly one of inline, script or scripts]",
        ]
    );
}

#[test]
fn only_except_and_override_name_sources_of_the_build() {
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    only = [\"null.c\"]\n    except = [\"null.b\"]\n  }"));
    assert_eq!(
        d,
        [
            "error 12:5 only one of \"only\" or \"except\" may be set [keep only or except, not both]",
            "error 11:12 \"only\" names \"null.c\", which is not a source of this build [did you mean \"null.a\"?]",
        ]
    );
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    override = { c = { inlin = [] } }\n  }"));
    assert_eq!(
        d,
        [
            "error 11:16 \"override\" names \"c\", which is not a source name of this build [the source names of this build are: a, b]",
            "error 11:16 override \"c\" sets \"inlin\", which is not a field of provisioner \"shell\" [did you mean \"inline\"?]",
        ]
    );
}

#[test]
fn override_is_keyed_by_source_name() {
    let d = errors(&with_provisioner("  provisioner \"shell\" {\n    inline = [\"a\"]\n    override = { \"null.b\" = { inline = [] } }\n  }"));
    assert_eq!(d, ["error 11:16 \"override\" names \"null.b\", which is not a source name of this build [override is keyed by the source name alone: write \"b\"]"]);
}

#[test]
fn post_processors_alone_and_in_chains() {
    let plan = ok(&with_provisioner(
        "  post-processor \"manifest\" {\n    custom_data = { id = \"${build.ImageID}\" }\n  }\n  post-processors {\n    post-processor \"checksum\" {\n      checksum_types = [\"sha256\"]\n    }\n    post-processor \"shell-local\" {\n      inline = [\"echo done\"]\n      keep_input_artifact = true\n      except = [\"null.b\"]\n    }\n  }",
    ));
    let chains = &plan.builds[0].post_processors;
    assert_eq!(chains.len(), 2);
    let PostProcessorKind::Manifest(m) = &chains[0][0].kind else { panic!() };
    assert_eq!(m.output, Deferrable::Known("packer-manifest.json".into()));
    assert!(matches!(m.custom_data, Some(Deferrable::Deferred(_))));
    assert_eq!(chains[1].len(), 2);
    assert_eq!(chains[1][1].keep_input_artifact, Some(true));
    assert_eq!(chains[1][1].except, ["null.b"]);
    let d = errors(&with_provisioner("  post-processor \"checksum\" {\n    checksum_types = [\"crc32\"]\n  }"));
    assert_eq!(d, ["error 10:22 unsupported checksum type \"crc32\" [use one of md5, sha1, sha224, sha256, sha384, sha512]"]);
    let d = errors(&with_provisioner("  post-processor \"manifes\" {\n  }"));
    assert_eq!(d, ["error 9:3 unknown post-processor type \"manifes\" [did you mean \"manifest\"?]"]);
}

#[test]
fn packer_block_checks_required_plugins() {
    let text = "packer {\n  required_version = \">= 1.7.0\"\n  required_plugins {\n    huaweicloud = {\n      version = \">= 0.4.0\"\n      source  = \"github.com/huaweicloud/huaweicloud\"\n    }\n  }\n}\n";
    let plan = ok(text);
    assert_eq!(plan.packer.required_version.as_deref(), Some(">= 1.7.0"));
    assert_eq!(plan.packer.required_plugins[0].version.as_deref(), Some(">= 0.4.0"));
    let text = "packer {\n  required_plugins {\n    amazon = {\n      version = \">= 1\"\n      source  = \"github.com/hashicorp/amazon\"\n    }\n  }\n}\n";
    assert_eq!(errors(text), ["error 3:14 plugin \"amazon\" (github.com/hashicorp/amazon) is not built into cce-image-builder [remove it from required_plugins and the blocks that use it]"]);
    let d = errors("packer {\n  required_version = \"newest\"\n}\n");
    assert_eq!(d, ["error 2:22 invalid required_version \"newest\": \"newest\" is not a version [write a constraint such as \">= 1.7.0\"]"]);
}

#[test]
fn plan_serializes_without_secrets() {
    let (plan, _) = check_env(
        &local("  flavor = \"f\"\n  source_image = \"i\"\n  ssh_password = \"hunter2\""),
        &[("HW_ACCESS_KEY", "AKVALUE"), ("HW_SECRET_KEY", "SKVALUE"), ("HW_REGION_NAME", "ru-moscow-1")],
    );
    let json = serde_json::to_string(&plan.expect("plan")).expect("serializes");
    for secret in ["AKVALUE", "SKVALUE", "hunter2"] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
    assert!(json.contains("\"access_key\":\"<sensitive>\""), "{json}");
    assert!(json.contains("\"timeout\":\"5m0s\""), "{json}");
    assert!(json.contains("\"huaweicloud-ecs\":{"), "{json}");
}

/// Runs the real `packer validate` on `text`; `None` when packer is not installed.
fn packer_validate(text: &str) -> Option<bool> {
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("cce-schema-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("t.pkr.hcl"), text).expect("template written");
    let child = Command::new("packer")
        .args(["validate", "t.pkr.hcl"])
        .current_dir(&dir)
        .env("CHECKPOINT_DISABLE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        other => other.expect("packer starts"),
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for packer") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("packer validate did not finish within 60s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = std::fs::remove_dir_all(&dir);
    Some(status.success())
}

/// The real packer and the schemas agree on which null-source templates are valid (the
/// huaweicloud plugin cannot be installed here, so the null source carries the comparison).
/// `error-cleanup-provisioner` and the file provisioner's `content` are left out: Packer 1.6.6
/// predates them.
#[test]
fn agrees_with_packer_on_validity() {
    let src = "source \"null\" \"a\" {\n  communicator = \"none\"\n}\n";
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "full build",
            format!(
                "{src}build {{\n  name = \"b\"\n  sources = [\"source.null.a\"]\n  source \"source.null.a\" {{\n    name = \"renamed\"\n  }}\n  provisioner \"shell-local\" {{\n    inline = [\"true\"]\n    pause_before = \"1s\"\n    max_retries = 2\n    timeout = \"1m\"\n    only = [\"null.a\"]\n  }}\n  provisioner \"file\" {{\n    source = \"t.pkr.hcl\"\n    destination = \"/tmp/x\"\n  }}\n  provisioner \"shell\" {{\n    inline = [\"true\"]\n    environment_vars = [\"A=1\"]\n    override = {{\n      renamed = {{ inline = [\"false\"] }}\n    }}\n  }}\n  provisioner \"breakpoint\" {{\n    disable = true\n  }}\n  post-processor \"manifest\" {{\n    strip_path = true\n  }}\n  post-processors {{\n    post-processor \"checksum\" {{\n      checksum_types = [\"sha256\"]\n    }}\n    post-processor \"shell-local\" {{\n      inline = [\"true\"]\n    }}\n  }}\n}}\n"
            ),
            true,
        ),
        ("sources without prefix", format!("{src}build {{\n  sources = [\"null.a\"]\n}}\n"), true),
        ("ssh null source", "source \"null\" \"s\" {\n  ssh_host = \"h\"\n  ssh_username = \"u\"\n  ssh_password = \"p\"\n  ssh_timeout = \"1m30s\"\n}\nbuild {\n  sources = [\"source.null.s\"]\n}\n".into(), true),
        ("ssh null source without host", "source \"null\" \"s\" {\n  ssh_username = \"u\"\n  ssh_password = \"p\"\n}\nbuild {\n  sources = [\"source.null.s\"]\n}\n".into(), false),
        ("unknown source field", "source \"null\" \"a\" {\n  comunicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n".into(), false),
        ("unknown build source", format!("{src}build {{\n  sources = [\"source.null.b\"]\n}}\n"), false),
        ("nested source sets a set field", format!("{src}build {{\n  source \"source.null.a\" {{\n    communicator = \"ssh\"\n  }}\n}}\n"), false),
        ("shell without script", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n  }}\n}}\n"), false),
        ("shell inline and script", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"a\"]\n    script = \"s.sh\"\n  }}\n}}\n"), false),
        ("shell bad environment_vars", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"a\"]\n    environment_vars = [\"B\"]\n  }}\n}}\n"), false),
        ("file without destination", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"file\" {{\n    source = \"t.pkr.hcl\"\n  }}\n}}\n"), false),
        ("shell-local empty", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell-local\" {{\n  }}\n}}\n"), false),
        ("only and except", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell-local\" {{\n    inline = [\"a\"]\n    only = [\"null.a\"]\n    except = [\"null.a\"]\n  }}\n}}\n"), false),
        ("unknown provisioner", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shel\" {{\n  }}\n}}\n"), false),
        ("unknown post-processor field", format!("{src}build {{\n  sources = [\"source.null.a\"]\n  post-processor \"manifest\" {{\n    outptu = \"m.json\"\n  }}\n}}\n"), false),
    ];
    let mut ran = 0;
    for (name, text, valid) in &cases {
        let (plan, diags) = check(text);
        assert_eq!(plan.is_some(), *valid, "{name}: ours says {diags:?}");
        match packer_validate(text) {
            Some(packer_ok) => {
                assert_eq!(packer_ok, *valid, "{name}: packer validate disagrees");
                ran += 1;
            }
            None if std::env::var("CI").as_deref() == Ok("true") => panic!("packer is not installed (CI=true needs it)"),
            None => {
                eprintln!("skipping the packer comparison: packer is not installed");
                return;
            }
        }
    }
    assert_eq!(ran, cases.len());
}

/// The shape of the CCE kit's turbo-node.pkr.hcl (plugin pinned to "= 0.4.0", v0.4.0 fields,
/// keys from variables) plans without a diagnostic.
#[test]
fn turbo_node_shaped_template_plans_cleanly() {
    let text = r#"packer {
  required_plugins {
    huaweicloud = {
      version = "= 0.4.0"
      source  = "github.com/huaweicloud/huaweicloud"
    }
  }
}
source "huaweicloud-ecs" "builder" {
  region             = var.region
  access_key         = var.access_key
  secret_key         = var.secret_key
  auth_url           = "https://iam.ru-moscow-1.hc.sbercloud.ru/v3"
  availability_zone  = ""
  flavor             = "s7n.large.2"
  source_image       = var.source_image
  image_name         = "cce-turbo-node"
  vpc_id             = "6f0f3a52-2f0e-4f43-9a4b-0e2d5d7c1a11"
  networks           = ["8a7c1e1d-93a3-4c0e-9d3e-2a8f8d6c2b22"]
  security_groups    = ["0d3a8f6e-1b2c-4d5e-8f90-a1b2c3d4e5f6"]
  eip_type           = "5_bgp"
  eip_bandwidth_size = 5
  volume_type        = "SSD"
  volume_size        = 50
  ssh_username       = "root"
  ssh_ip_version     = "4"
  image_tags = {
    builder = "cce-image-builder"
  }
}
build {
  sources = ["source.huaweicloud-ecs.builder"]
  provisioner "file" {
    source      = "user-packages/example.package"
    destination = "/tmp/example.package"
  }
  provisioner "shell" {
    scripts = ["scripts/step1.sh", "user-scripts/example.sh"]
  }
  provisioner "shell" {
    inline = ["echo foo"]
  }
  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
"#;
    let plan = ok(text);
    let c = ecs(&plan);
    assert!(!c.local_cloud);
    assert_eq!(c.availability_zone, None);
    assert_eq!(c.subnets, ["8a7c1e1d-93a3-4c0e-9d3e-2a8f8d6c2b22"]);
    assert_eq!(c.security_groups, [SecurityGroupRef::Id("0d3a8f6e-1b2c-4d5e-8f90-a1b2c3d4e5f6".into())]);
    assert_eq!((c.eip_bandwidth_size, c.volume_size, c.ssh_ip_version), (5, Some(50), Some(4)));
    assert_eq!(plan.packer.required_plugins[0].version.as_deref(), Some("= 0.4.0"));
    assert_eq!(plan.builds[0].provisioners.len(), 3);
}

//! `build` of null sources through the real binary against a real OpenSSH sshd started on
//! loopback: shell scripts, exit codes, retries, timeouts, environment, file transfers,
//! shell-local, the manifest, only/except, overrides and redaction of sensitive values.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    NullSource, TestSshd, both, build, build_code, build_env, built, p, packer_build, packer_ok,
    project, read, ssh_keygen, text,
};

#[test]
fn shell_scripts_run_with_packer_environment_and_build_values() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let tpl = format!(
        "{}build {{\n  name = \"b\"\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell\" {{\n    inline = [\"echo hello > {o}/inline.txt\", \"echo \\\"$PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $FOO $BAR\\\" > {o}/env.txt\", \"echo out-line\", \"echo err-line >&2\"]\n    environment_vars = [\"FOO=it's\"]\n    env = {{ BAR = \"bar\" }}\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo \\\"$MARK\\\" > {o}/exec.txt\"]\n    execute_command = \"chmod +x {{{{.Path}}}}; MARK=custom {{{{.Vars}}}} sh -c 'echo $0 > {o}/path.txt; . $0' {{{{.Path}}}}\"\n    remote_folder = \"{o}\"\n    remote_file = \"named.sh\"\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo ${{build.Host}}:${{build.Port}}:${{build.User}}:${{build.PackerRunUUID}} > {o}/build.txt\"]\n    skip_clean = true\n    remote_path = \"{o}/kept.sh\"\n  }}\n}}\n",
        sshd.source("a")
    );
    let (_d, r, _all) = built(&tpl, &["."], 0);
    assert_eq!(read(out.path().join("inline.txt")), "hello\n");
    assert_eq!(read(out.path().join("env.txt")), "a null it's bar\n");
    assert_eq!(read(out.path().join("exec.txt")), "custom\n");
    assert_eq!(
        read(out.path().join("path.txt")).trim(),
        format!("{o}/named.sh")
    );
    // The script is removed unless skip_clean.
    assert!(
        !out.path().join("named.sh").exists(),
        "the script was not cleaned up"
    );
    assert!(
        out.path().join("kept.sh").exists(),
        "skip_clean removed the script"
    );
    let b = read(out.path().join("build.txt"));
    let parts: Vec<&str> = b.trim().split(':').collect();
    assert_eq!(&parts[..3], &["127.0.0.1", &sshd.port.to_string(), "root"]);
    assert_eq!(parts[3].len(), 36, "run uuid: {b}");
    let stdout = text(&r.stdout);
    assert!(stdout.contains("    b.null.a: out-line\n"), "{stdout}");
    assert!(stdout.contains("==> b.null.a: err-line\n"), "{stdout}");
    assert!(
        stdout.contains("==> b.null.a: Connected to SSH!"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Build 'b.null.a' finished after"),
        "{stdout}"
    );
    assert!(
        stdout.contains("==> Builds finished. The artifacts of successful builds are:"),
        "{stdout}"
    );
}

#[test]
fn exit_codes_fail_unless_allowed_and_cleanup_provisioner_runs() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let failing = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"exit 3\"]\n  }}\n  provisioner \"shell\" {{\n    inline = [\"touch {o}/after\"]\n  }}\n  error-cleanup-provisioner \"shell-local\" {{\n    inline = [\"touch {o}/cleaned\"]\n  }}\n}}\n",
        sshd.source("a")
    );
    let (d, _r, all) = built(&failing, &["."], 1);
    assert!(
        all.contains("Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"),
        "{all}"
    );
    assert!(all.contains("Build 'null.a' errored after"), "{all}");
    assert!(
        !out.path().join("after").exists(),
        "a provisioner ran after a failure"
    );
    assert!(
        out.path().join("cleaned").exists(),
        "the error-cleanup-provisioner did not run"
    );

    // -on-error=abort skips the cleanup provisioner.
    std::fs::remove_file(out.path().join("cleaned")).unwrap();
    build_code(d.path(), &["-on-error=abort", "."], 1);
    assert!(
        !out.path().join("cleaned").exists(),
        "abort ran the cleanup provisioner"
    );

    let allowed = failing.replace(
        "inline = [\"exit 3\"]",
        "inline = [\"exit 3\"]\n    valid_exit_codes = [0, 3]",
    );
    let (_d, _r, _all) = built(&allowed, &["."], 0);
    assert!(out.path().join("after").exists());
}

#[test]
fn max_retries_runs_a_failing_provisioner_again() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    // Fails on the first two runs, succeeds on the third.
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"echo run >> {o}/runs\", \"test $(wc -l < {o}/runs) -ge 3\"]\n    max_retries = 2\n  }}\n}}\n",
        sshd.source("a")
    );
    let (_d, _r, _all) = built(&tpl, &["."], 0);
    assert_eq!(read(out.path().join("runs")).lines().count(), 3);

    // One retry is not enough: the build fails after two runs.
    std::fs::remove_file(out.path().join("runs")).unwrap();
    let (_d, _r, _all) = built(
        &tpl.replace("max_retries = 2", "max_retries = 1"),
        &["."],
        1,
    );
    assert_eq!(read(out.path().join("runs")).lines().count(), 2);
}

#[test]
fn a_timeout_fires_and_kills_the_command() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"echo $$ > {o}/pid\", \"sleep 60\", \"touch {o}/finished\"]\n    timeout = \"2s\"\n  }}\n}}\n",
        sshd.source("a")
    );
    let d = project(&tpl);
    let started = Instant::now();
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(1), "{all}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout did not fire: {:?}",
        started.elapsed()
    );
    assert!(all.contains("timed out after 2s"), "{all}");
    // Packer's lines around a timeout.
    assert!(
        all.contains("==> null.a: Setting a 2s timeout for the next provisioner...\n"),
        "{all}"
    );
    assert!(
        all.contains("==> null.a: Cancelling provisioner after a timeout...\n"),
        "{all}"
    );
    let pid = read(out.path().join("pid"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the script still runs after the timeout"
    );
    assert!(!out.path().join("finished").exists());
}

#[test]
fn file_uploads_a_tree_and_downloads_a_file() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let remote = tempfile::tempdir().unwrap();
    let r_ = remote.path().display();
    let d = project("");
    std::fs::create_dir_all(p(&d, "tree/sub")).unwrap();
    std::fs::write(p(&d, "tree/a.txt"), "A").unwrap();
    std::fs::write(p(&d, "tree/sub/b.txt"), "B").unwrap();
    std::fs::write(p(&d, "single.txt"), "S").unwrap();
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n\
  provisioner \"file\" {{\n    source = \"tree\"\n    destination = \"{r_}/with\"\n  }}\n\
  provisioner \"file\" {{\n    source = \"tree\"\n    destination = \"{r_}/with\"\n  }}\n\
  provisioner \"file\" {{\n    source = \"tree/\"\n    destination = \"{r_}/contents\"\n  }}\n\
  provisioner \"file\" {{\n    sources = [\"single.txt\"]\n    destination = \"{r_}/\"\n  }}\n\
  provisioner \"file\" {{\n    content = \"from content\"\n    destination = \"{r_}/content.txt\"\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo remote-made > {r_}/made.txt\"]\n  }}\n\
  provisioner \"file\" {{\n    direction = \"download\"\n    source = \"{r_}/made.txt\"\n    destination = \"got/\"\n    generated = true\n  }}\n}}\n",
        sshd.source("a")
    );
    std::fs::write(p(&d, "t.pkr.hcl"), tpl).unwrap();
    build_code(d.path(), &["."], 0);
    let read = |rel: &str| {
        std::fs::read_to_string(remote.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    // Like `scp -r`: the first upload makes `with` the copy of tree; the second finds `with`
    // a directory and puts tree inside it.
    assert_eq!(read("with/a.txt"), "A");
    assert_eq!(read("with/sub/b.txt"), "B");
    assert_eq!(read("with/tree/a.txt"), "A");
    assert_eq!(read("with/tree/sub/b.txt"), "B");
    assert_eq!(read("contents/a.txt"), "A");
    assert_eq!(read("contents/sub/b.txt"), "B");
    assert_eq!(read("single.txt"), "S");
    assert_eq!(read("content.txt"), "from content");
    assert_eq!(common::read(p(&d, "got/made.txt")), "remote-made\n");
}

#[test]
fn only_except_and_override_select_per_source() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let tpl = format!(
        "{}{}build {{\n  sources = [\"source.null.a\", \"source.null.b\"]\n\
  provisioner \"shell\" {{\n    only = [\"null.a\"]\n    inline = [\"touch {o}/only-$PACKER_BUILD_NAME\"]\n  }}\n\
  provisioner \"shell\" {{\n    except = [\"null.a\"]\n    inline = [\"touch {o}/except-$PACKER_BUILD_NAME\"]\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"touch {o}/plain-$PACKER_BUILD_NAME\"]\n    override = {{\n      b = {{\n        inline = [\"touch {o}/overridden-$PACKER_BUILD_NAME\"]\n      }}\n    }}\n  }}\n}}\n",
        sshd.source("a"),
        sshd.source("b")
    );
    let (d, _r, _all) = built(&tpl, &["."], 0);
    let mut made: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    assert_eq!(made, ["except-b", "only-a", "overridden-b", "plain-a"]);

    // -only on the command line builds one source only.
    for f in &made {
        std::fs::remove_file(out.path().join(f)).unwrap();
    }
    build_code(d.path(), &["-only=null.b", "."], 0);
    let made: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(made.iter().all(|f| f.ends_with("-b")), "{made:?}");
}

#[test]
fn a_sensitive_value_never_reaches_the_output() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let secret = "Sup3r-S3cret-Passw0rd-value";
    let tpl = format!(
        "variable \"token\" {{\n  type = string\n  sensitive = true\n}}\n{}build {{\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell\" {{\n    inline = [\"echo token is $TOKEN\", \"echo $TOKEN >&2\"]\n    environment_vars = [\"TOKEN=${{var.token}}\"]\n  }}\n\
  provisioner \"shell-local\" {{\n    inline = [\"echo local ${{var.token}}\"]\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo failing with ${{var.token}}; exit 5\"]\n  }}\n}}\n",
        sshd.source("a")
    );
    let d = project(&tpl);
    for flags in [
        vec![],
        vec!["-machine-readable"],
        vec!["--json"],
        vec!["-timestamp-ui"],
    ] {
        let var = format!("token={secret}");
        let mut args = vec!["-var", var.as_str()];
        args.extend(flags.iter().copied());
        args.push(".");
        let r = build(d.path(), &args);
        let all = both(&r);
        assert_eq!(r.status.code(), Some(1), "{flags:?}: {all}");
        assert!(
            all.contains("token is"),
            "{flags:?}: the script did not run: {all}"
        );
        assert!(all.contains("non-zero exit status: 5"), "{flags:?}: {all}");
        assert!(!all.contains(secret), "{flags:?}: the secret leaked: {all}");
    }
}

#[test]
fn shell_local_and_manifest_without_a_connection() {
    let d = project(
        "source \"null\" \"local\" {\n  communicator = \"none\"\n}\nbuild {\n  name = \"n\"\n  sources = [\"source.null.local\"]\n\
  provisioner \"shell-local\" {\n    inline = [\"echo $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $X > local.txt\"]\n    environment_vars = [\"X=y\"]\n  }\n\
  provisioner \"breakpoint\" {\n    note = \"check it\"\n  }\n\
  post-processor \"manifest\" {\n    output = \"out/manifest.json\"\n    custom_data = { uuid = build.PackerRunUUID }\n  }\n\
  post-processor \"shell-local\" {\n    inline = [\"touch post.txt\"]\n  }\n}\n",
    );
    let r = build(d.path(), &["."]);
    let stdout = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    assert_eq!(read(p(&d, "local.txt")), "local null y\n");
    assert!(p(&d, "post.txt").exists());
    assert!(
        stdout.contains(
            "==> n.null.local: Pausing at breakpoint provisioner with note \"check it\"."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("--> n.null.local: Did not export anything. This is the null builder"),
        "{stdout}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(p(&d, "out/manifest.json"))).unwrap();
    let b = &manifest["builds"][0];
    assert_eq!(b["name"], "local");
    assert_eq!(b["builder_type"], "null");
    assert_eq!(b["artifact_id"], "Null");
    assert!(b["build_time"].as_u64().is_some());
    assert_eq!(b["packer_run_uuid"], manifest["last_run_uuid"]);
    assert_eq!(b["custom_data"]["uuid"], manifest["last_run_uuid"]);

    // A second run appends.
    build_code(d.path(), &["."], 0);
    let manifest: serde_json::Value =
        serde_json::from_str(&read(p(&d, "out/manifest.json"))).unwrap();
    assert_eq!(manifest["builds"].as_array().unwrap().len(), 2);
    assert_ne!(
        manifest["builds"][0]["packer_run_uuid"],
        manifest["builds"][1]["packer_run_uuid"]
    );
}

#[test]
fn a_shell_provisioner_without_a_connection_fails_clearly() {
    let d = project(
        "source \"null\" \"x\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.x\"]\n  provisioner \"shell\" {\n    inline = [\"true\"]\n  }\n}\n",
    );
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(1), "{all}");
    assert!(all.contains("needs a connection to the machine"), "{all}");
}

#[test]
fn dry_run_of_a_huaweicloud_source_shows_the_plan_and_calls_nothing() {
    let d = project(
        "source \"huaweicloud-ecs\" \"ecs\" {\n  region = \"ru-moscow-1\"\n  image_name = \"x\"\n  source_image_name = \"Ubuntu\"\n  flavor = \"s6.large.2\"\n  ssh_username = \"root\"\n  vpc_id = \"v\"\n  subnets = [\"s\"]\n  eip_bandwidth_size = 5\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.ecs\"]\n}\n",
    );
    // Credentials and an IAM endpoint where nothing listens: any call would fail the run.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"));
    cmd.current_dir(d.path())
        .args(["build", "-dry-run", "."])
        .env("HW_ACCESS_KEY", "AKDRYRUNDRYRUNDRYRUN")
        .env("HW_SECRET_KEY", "dry-run-secret-key-that-is-long-enough")
        .env("HW_AUTH_URL", "https://127.0.0.1:9/v3")
        .env("XDG_STATE_HOME", d.path().join("state"))
        .stdin(Stdio::null());
    let r = cmd.output().expect("the binary runs");
    let all = both(&r);
    assert_eq!(r.status.code(), Some(0), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    let out = text(&r.stdout);
    assert!(out.contains("huaweicloud-ecs.ecs: would run"), "{out}");
    assert!(
        out.contains("s6.large.2"),
        "the flavor is not in the plan: {out}"
    );
    assert!(
        out.contains("/cloudservers"),
        "the server create call is not listed: {out}"
    );
    assert!(!out.contains("dry-run-secret"), "{out}");
    // Nothing was journaled: a dry run creates no build.
    assert!(
        !d.path().join("state/cce-image-builder/builds").exists(),
        "{all}"
    );
}

#[test]
fn expect_disconnect_accepts_a_dropped_connection_and_reconnects() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    // Kills this session's own sshd process (the nearest sshd above the script), like a reboot
    // cuts the link; other sessions and the listener live on.
    let cut = "p=$$; while [ $p -gt 1 ]; do if [ $(cat /proc/$p/comm) = sshd ]; then kill -9 $p; sleep 5; fi; p=$(cut -d' ' -f4 /proc/$p/stat); done";
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell\" {{\n    inline = [\"{cut}\"]\n    expect_disconnect = true\n    skip_clean = true\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"touch {o}/after\"]\n  }}\n}}\n",
        sshd.source("a")
    );
    let (_d, r, _all) = built(&tpl, &["."], 0);
    assert!(
        out.path().join("after").exists(),
        "no provisioner ran after the disconnect"
    );
    assert!(
        text(&r.stdout).contains("Remote end disconnected as expected; reconnecting..."),
        "{}",
        both(&r)
    );

    // Without expect_disconnect the same cut fails the build.
    let d = project(&tpl.replace("expect_disconnect = true", "expect_disconnect = false"));
    std::fs::remove_file(out.path().join("after")).unwrap();
    build_code(d.path(), &["."], 1);
    assert!(!out.path().join("after").exists());
}

/// The provisioning lines of a run, with the random temporary script path made constant.
fn provisioning_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .take_while(|l| !l.starts_with("Build '"))
        .map(|l| match l.find("/tmp/packer-shell") {
            Some(i) => format!("{}/tmp/packer-shell<random>", &l[..i]),
            None => l.to_string(),
        })
        .collect()
}

#[test]
fn provisioning_lines_match_packer() {
    if !packer_ok() {
        return;
    }
    let d = project(
        "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  name = \"b\"\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell-local\" {\n    inline = [\"echo hi $PACKER_BUILD_NAME\"]\n  }\n\
  provisioner \"shell-local\" {\n    script = \"local.sh\"\n    environment_vars = [\"Q=it's\"]\n  }\n\
  provisioner \"breakpoint\" {\n    disable = true\n    note = \"n\"\n  }\n\
  post-processor \"manifest\" {\n    output = \"m.json\"\n  }\n\
  post-processor \"shell-local\" {\n    name = \"after\"\n    inline = [\"echo pp $PACKER_BUILD_NAME\"]\n    execute_command = [\"{{.Vars}} /bin/sh {{.Script}}\"]\n  }\n}\n",
    );
    // A script named as written, and the run's id in its environment.
    std::fs::write(
        p(&d, "local.sh"),
        "#!/bin/sh\necho \"$Q uuid-length ${#PACKER_RUN_UUID} $(basename $0)\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        p(&d, "local.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let packer = packer_build(d.path(), &["."], 0);
    let ours = build_code(d.path(), &["."], 0);
    let lines = provisioning_lines(&text(&ours.stdout));
    assert_eq!(lines, provisioning_lines(&text(&packer.stdout)));
    assert!(
        lines.contains(&"    b.null.a: it's uuid-length 36 local.sh".to_string()),
        "{lines:?}"
    );
    // Both appended to the same manifest, in the same shape.
    let m: serde_json::Value = serde_json::from_str(&read(p(&d, "m.json"))).unwrap();
    let builds = m["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 2);
    let keys = |b: &serde_json::Value| b.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&builds[0]), keys(&builds[1]));
    for k in [
        "name",
        "builder_type",
        "files",
        "artifact_id",
        "custom_data",
    ] {
        assert_eq!(builds[0][k], builds[1][k], "{k}");
    }
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn use_env_var_file_sources_the_variables_from_a_removed_file() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    for sub in ["one", "two"] {
        std::fs::create_dir(out.path().join(sub)).unwrap();
    }
    // One: Packer's default execute_command sources the file. Two: a custom one names
    // {{.EnvVarFile}}; skip_clean keeps both files there.
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell\" {{\n    use_env_var_file = true\n    environment_vars = [\"FOO=it's\"]\n    env = {{ BAR = \"b r\" }}\n    remote_folder = \"{o}/one\"\n    inline = [\"echo \\\"$FOO|$BAR|$PACKER_BUILDER_TYPE\\\" > {o}/vars.txt\", \"ls {o}/one > {o}/listing.txt\"]\n  }}\n\
  provisioner \"shell\" {{\n    use_env_var_file = true\n    environment_vars = [\"FOO=two\"]\n    remote_folder = \"{o}/two\"\n    skip_clean = true\n    execute_command = \"cp {{{{.EnvVarFile}}}} {o}/copy.sh; chmod +x {{{{.Path}}}}; . {{{{.EnvVarFile}}}} && {{{{.Path}}}}\"\n    inline = [\"echo $FOO > {o}/two.txt\"]\n  }}\n}}\n",
        sshd.source("a")
    );
    let (_d, _r, _all) = built(&tpl, &["."], 0);
    let read = |n: &str| read(out.path().join(n));
    assert_eq!(read("vars.txt"), "it's|b r|null\n");
    // While the script ran, the variable file sat next to it; afterwards both are gone.
    let listing = read("listing.txt");
    let during: Vec<&str> = listing.lines().collect();
    assert_eq!(during.len(), 2, "{listing}");
    assert!(during.iter().any(|n| n.starts_with("script_")), "{listing}");
    assert!(
        during
            .iter()
            .any(|n| n.starts_with("varfile_") && n.ends_with(".sh")),
        "{listing}"
    );
    assert!(names(&out.path().join("one")).is_empty(), "not cleaned");
    // The file holds Packer's `export %s='%s'\n` lines, sorted, quotes escaped.
    assert_eq!(
        read("copy.sh"),
        "export FOO='two'\nexport PACKER_BUILDER_TYPE='null'\nexport PACKER_BUILD_NAME='a'\n"
    );
    assert_eq!(read("two.txt"), "two\n");
    let kept = names(&out.path().join("two"));
    assert_eq!(kept.len(), 2, "skip_clean removed files: {kept:?}");
    let varfile = kept.iter().find(|n| n.starts_with("varfile_")).unwrap();
    let mode = std::fs::metadata(out.path().join("two").join(varfile))
        .unwrap()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the variable file is readable by others"
    );
}

#[test]
fn overrides_change_any_field_per_source() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    std::fs::create_dir(out.path().join("b-folder")).unwrap();
    // Source b overrides fields that were not overridable before, and some that were.
    let tpl = format!(
        "{}{}build {{\n  sources = [\"source.null.a\", \"source.null.b\"]\n\
  provisioner \"shell\" {{\n    inline = [\"echo \\\"$V\\\" > {o}/v-$PACKER_BUILD_NAME\", \"ls $(dirname $0) | grep -c varfile_ > {o}/files-$PACKER_BUILD_NAME || true\", \"exit 4\"]\n    environment_vars = [\"V=plain\"]\n    valid_exit_codes = [4]\n    override = {{\n      b = {{\n        environment_vars = [\"V=over\"]\n        use_env_var_file = true\n        remote_folder = \"{o}/b-folder\"\n        start_retry_timeout = \"10s\"\n        pause_after = \"1s\"\n        skip_clean = true\n      }}\n    }}\n  }}\n\
  provisioner \"shell-local\" {{\n    inline = [\"echo local > {o}/local-$PACKER_BUILD_NAME\"]\n    override = {{\n      b = {{\n        only_on = [\"windows\"]\n      }}\n    }}\n  }}\n\
  provisioner \"shell-local\" {{\n    inline = [\"echo $W > {o}/format-$PACKER_BUILD_NAME\"]\n    environment_vars = [\"W=w\"]\n    override = {{\n      a = {{\n        env_var_format = \"%s=from-format-%s \"\n      }}\n    }}\n  }}\n}}\n",
        sshd.source("a"),
        sshd.source("b")
    );
    let (_d, r, _all) = built(&tpl, &["."], 0);
    let read = |n: &str| std::fs::read_to_string(out.path().join(n)).unwrap_or_default();
    assert_eq!(read("v-a"), "plain\n");
    assert_eq!(read("v-b"), "over\n");
    assert_eq!(read("files-a"), "0\n", "a used a variable file");
    assert_eq!(read("files-b"), "1\n", "b used no variable file");
    // skip_clean for b only: its files stay in its own folder.
    assert_eq!(names(&out.path().join("b-folder")).len(), 2);
    assert_eq!(read("local-a"), "local\n");
    assert!(
        !out.path().join("local-b").exists(),
        "only_on not applied to b"
    );
    // The format applies to every variable, PACKER_BUILD_NAME too.
    assert_eq!(read("format-from-format-a"), "from-format-w\n");
    assert_eq!(read("format-b"), "w\n");
    assert!(
        text(&r.stdout).contains("==> null.b: Pausing 1s after this provisioner..."),
        "{}",
        both(&r)
    );
    assert!(!text(&r.stdout).contains("==> null.a: Pausing 1s after"));

    // An override that leaves the block invalid is refused when the provisioner runs.
    let bad = tpl.replace("skip_clean = true", "script = \"x.sh\"");
    let (_d, _r, all) = built(&bad, &["-only=null.b", "."], 1);
    assert!(
        all.contains("after the override both \"inline\" and a script file are set"),
        "{all}"
    );
}

#[test]
fn start_retry_timeout_waits_for_the_remote_folder() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let later = out.path().join("later");
    let tpl = |timeout: &str| {
        format!(
            "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    remote_folder = \"{o}/later\"\n    start_retry_timeout = \"{timeout}\"\n    inline = [\"echo ran > {o}/ran\"]\n  }}\n}}\n",
            sshd.source("a")
        )
    };
    // A file sits where the folder should be, so the upload cannot make the folder: it fails
    // once the short budget is spent.
    std::fs::write(&later, "not a folder").unwrap();
    let d = project(&tpl("1s"));
    let started = Instant::now();
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!("error uploading script to {o}/later/")),
        "{all}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(!out.path().join("ran").exists());

    // The folder replaces the file 3s into the build: the provisioner keeps trying, then runs.
    let d = project(&tpl("60s"));
    let maker = {
        let later = later.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            std::fs::remove_file(&later).unwrap();
            std::fs::create_dir(&later).unwrap();
        })
    };
    let started = Instant::now();
    let r = build(d.path(), &["."]);
    maker.join().unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(read(out.path().join("ran")), "ran\n");
}

#[test]
fn password_authentication_logs_in_and_is_redacted() {
    let password = "Pw-only-for-this-sshd-7431";
    let Some(sshd) = TestSshd::start_with_root_password(
        "127.0.0.1",
        "PasswordAuthentication yes\nLogLevel VERBOSE",
        Some(password),
    ) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let tpl = |pw: &str| {
        format!(
            "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"echo $(id -un) > {o}/who\", \"echo pw ${{build.Password}}\"]\n  }}\n}}\n",
            sshd.source_with(
                "a",
                &format!("ssh_password = \"{pw}\"\n  ssh_handshake_attempts = 1")
            )
        )
    };
    let d = project(&tpl(password));
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(0), "{all}\n{}", sshd.log());
    assert_eq!(read(out.path().join("who")), "root\n");
    let log = sshd.wait_log(|l| l.contains("Accepted password for root"));
    assert!(log.contains("Accepted password for root"), "{log}");
    assert!(all.contains("pw "), "{all}");
    assert!(!all.contains(password), "the password leaked: {all}");

    // A wrong password is rejected, and the build says so.
    let (_d, _r, all) = built(&tpl("wrong-password-value"), &["."], 1);
    assert!(all.contains("authentication as root was rejected"), "{all}");

    // With a key file the server does not know and the password, Packer offers the key, then
    // the password; build.SSHPrivateKey is still the key file's text.
    let keys = tempfile::tempdir().unwrap();
    let stranger = keys.path().join("stranger");
    ssh_keygen(&stranger);
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"echo '${{build.SSHPrivateKey}}' | head -1 > {o}/key-head\"]\n  }}\n}}\n",
        sshd.source_with(
            "a",
            &format!(
                "ssh_private_key_file = \"{}\"\n  ssh_password = \"{password}\"\n  ssh_handshake_attempts = 1",
                stranger.display()
            )
        )
    );
    let accepted_before = sshd.log().matches("Accepted password for root").count();
    let (_d, _r, _all) = built(&tpl, &["."], 0);
    let log =
        sshd.wait_log(|log| log.matches("Accepted password for root").count() > accepted_before);
    assert!(log.contains("Failed publickey for root"), "{log}");
    assert_eq!(
        read(out.path().join("key-head")),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    );
}

#[test]
fn a_bastion_carries_the_connection_with_a_key_or_a_password() {
    let password = "Bastion-pw-for-this-test-5519";
    let Some(bastion) = TestSshd::start_with_root_password(
        "127.0.0.1",
        "PasswordAuthentication yes\nLogLevel DEBUG1",
        Some(password),
    ) else {
        return;
    };
    let Some(target) = TestSshd::start_with("127.0.0.2", "") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let tpl = |name: &str, bastion_auth: &str| {
        format!(
            "{}build {{\n  sources = [\"source.null.{name}\"]\n  provisioner \"shell\" {{\n    inline = [\"echo $SSH_CONNECTION > {o}/{name}\"]\n  }}\n}}\n",
            target.source_with(
                name,
                &format!(
                    "ssh_private_key_file = \"{}\"\n  ssh_bastion_host = \"127.0.0.1\"\n  ssh_bastion_port = {}\n  ssh_bastion_username = \"root\"\n  {bastion_auth}",
                    target.key_file().display(),
                    bastion.port
                )
            )
        )
    };
    let forwards = |log: &str| {
        let wanted = format!("127.0.0.2 port {}", target.port);
        log.lines()
            .filter(|l| l.contains("direct_tcpip") && l.contains(&wanted))
            .count()
    };
    let cases = [
        (
            "key",
            format!(
                "ssh_bastion_private_key_file = \"{}\"",
                bastion.key_file().display()
            ),
            "Accepted publickey for root",
        ),
        (
            "password",
            format!("ssh_bastion_password = \"{password}\""),
            "Accepted password for root",
        ),
        // No bastion credential: ssh_private_key_file serves the bastion too, as in Packer.
        ("inherited", String::new(), "Accepted publickey for root"),
    ];
    // The bastion also knows the target's key, for the inherited case.
    let target_public = read(target.dir.path().join("client_key.pub"));
    let mut known = read(bastion.dir.path().join("authorized_keys"));
    known.push_str(&target_public);
    std::fs::write(bastion.dir.path().join("authorized_keys"), known).unwrap();
    for (name, auth, accepted) in cases {
        let before = forwards(&bastion.log());
        let accepted_before = bastion.log().matches(accepted).count();
        let d = project(&tpl(name, &auth));
        let r = build(d.path(), &["."]);
        let all = both(&r);
        assert_eq!(r.status.code(), Some(0), "{name}: {all}\n{}", bastion.log());
        assert!(
            !all.contains(password),
            "the bastion password leaked: {all}"
        );
        // The target saw the session, and the bastion opened the forward to it.
        let seen = read(out.path().join(name));
        assert!(
            seen.ends_with(&format!(" 127.0.0.2 {}\n", target.port)),
            "{name}: {seen}"
        );
        let blog = bastion
            .wait_log(|l| forwards(l) > before && l.matches(accepted).count() > accepted_before);
        assert!(
            forwards(&blog) > before,
            "{name}: no forward on the bastion: {blog}"
        );
        assert!(
            blog.matches(accepted).count() > accepted_before,
            "{name}: {blog}"
        );
    }

    // With no way to log in to the bastion the template is refused before anything runs, as
    // Packer does; ssh_private_key_file would serve the bastion too, so leave it out here.
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.x\"]\n}}\n",
        target.source_with(
            "x",
            &format!(
                "ssh_password = \"p\"\n  ssh_bastion_host = \"127.0.0.1\"\n  ssh_bastion_port = {}\n  ssh_bastion_username = \"root\"",
                bastion.port
            )
        )
    );
    let (_d, _r, all) = built(&tpl, &["."], 1);
    assert!(
        all.contains("ssh_bastion_password or ssh_bastion_private_key_file must be specified"),
        "{all}"
    );
}

#[test]
fn ssh_agent_auth_logs_in_with_the_agent_key() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    if Command::new("ssh-agent").arg("-h").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "ssh-agent is missing (CI=true makes this a failure)"
        );
        eprintln!("skipping: ssh-agent is missing");
        return;
    }
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = Command::new("ssh-add")
        .arg(sshd.key_file())
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    // A jump host on 127.0.0.2 whose key the agent holds as well.
    let bastion = TestSshd::start_with("127.0.0.2", "LogLevel DEBUG1").unwrap();
    let added_bastion = Command::new("ssh-add")
        .arg(bastion.key_file())
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display();
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {{\n    inline = [\"touch {o}/via-agent\"]\n  }}\n}}\n",
        sshd.source_with("a", "ssh_agent_auth = true\n  ssh_handshake_attempts = 1")
    );
    let d = project(&tpl);
    let with_agent = build_env(d.path(), &["."], &[("SSH_AUTH_SOCK", &sock)]);
    let started = Instant::now();
    let without = build(d.path(), &["."]);
    let without_took = started.elapsed();
    let tpl = format!(
        "{}build {{\n  sources = [\"source.null.j\"]\n  provisioner \"shell\" {{\n    inline = [\"touch {o}/via-bastion-agent\"]\n  }}\n}}\n",
        sshd.source_with(
            "j",
            &format!(
                "ssh_agent_auth = true\n  ssh_bastion_host = \"127.0.0.2\"\n  ssh_bastion_port = {}\n  ssh_bastion_username = \"root\"\n  ssh_bastion_agent_auth = true",
                bastion.port
            )
        )
    );
    let d = project(&tpl);
    let through_bastion = build_env(d.path(), &["."], &[("SSH_AUTH_SOCK", &sock)]);
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(
        added.status.success() && added_bastion.status.success(),
        "ssh-add: {}{}",
        text(&added.stderr),
        text(&added_bastion.stderr)
    );
    assert_eq!(
        through_bastion.status.code(),
        Some(0),
        "{}",
        both(&through_bastion)
    );
    assert!(out.path().join("via-bastion-agent").exists());
    let forwarded = |l: &str| {
        l.lines().any(|l| {
            l.contains("direct_tcpip") && l.contains(&format!("127.0.0.1 port {}", sshd.port))
        })
    };
    let blog = bastion.wait_log(|l| l.contains("Accepted publickey for root") && forwarded(l));
    assert!(blog.contains("Accepted publickey for root"), "{blog}");
    assert!(forwarded(&blog), "no forward on the bastion: {blog}");
    assert_eq!(with_agent.status.code(), Some(0), "{}", both(&with_agent));
    assert!(out.path().join("via-agent").exists());
    let log = sshd.wait_log(|l| l.contains("Accepted publickey for root"));
    assert!(log.contains("Accepted publickey for root"), "{log}");
    // Without SSH_AUTH_SOCK there is no agent to ask, and the build says where it looked.
    let all = both(&without);
    assert_eq!(without.status.code(), Some(1), "{all}");
    assert!(
        all.contains("ssh_agent_auth is set but SSH_AUTH_SOCK is not"),
        "{all}"
    );
    assert!(
        without_took < Duration::from_secs(5),
        "no agent should fail at once, not after retries: {without_took:?}"
    );
}

#[test]
fn failure_lines_match_packer() {
    if !packer_ok() {
        return;
    }
    let d = project(
        "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell-local\" {\n    inline = [\"echo before\", \"exit 3\"]\n    valid_exit_codes = [0, 2]\n  }\n}\n",
    );
    let packer = packer_build(d.path(), &["."], 1);
    let ours = build_code(d.path(), &["."], 1);
    assert_eq!(
        provisioning_lines(&text(&ours.stdout)),
        provisioning_lines(&text(&packer.stdout))
    );
    // The reason, after the duration, is Packer's word for word.
    let reason = |o: &Output| {
        both(o)
            .lines()
            .find(|l| l.starts_with("Build 'null.a' errored after"))
            .and_then(|l| l.split_once(": ").map(|(_, r)| r.to_string()))
            .unwrap_or_else(|| panic!("no errored line: {}", both(o)))
    };
    assert_eq!(reason(&ours), reason(&packer));
    assert_eq!(
        reason(&ours),
        "Script exited with non-zero exit status: 3.Allowed exit codes are: [0 2]"
    );
}

#[test]
fn ssh_provisioning_lines_match_packer() {
    if !packer_ok() {
        return;
    }
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let remote = tempfile::tempdir().unwrap();
    let r_ = remote.path().display();
    // Only what packer 1.6.6 accepts: its file provisioner has no `content` yet. Standard
    // output and error are separate streams in packer, so one script writes to one of them.
    let d = project(&format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell\" {{\n    inline = [\"echo one\"]\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo err >&2\"]\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo two $FOO\"]\n    use_env_var_file = true\n    environment_vars = [\"FOO=bar\"]\n    pause_before = \"1s\"\n  }}\n\
  provisioner \"file\" {{\n    source = \"t.pkr.hcl\"\n    destination = \"{r_}/t.copy\"\n  }}\n\
  provisioner \"file\" {{\n    source = \"{r_}/t.copy\"\n    destination = \"back.txt\"\n    direction = \"download\"\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"exit 3\"]\n    valid_exit_codes = [0, 3]\n  }}\n}}\n",
        sshd.source("a")
    ));
    let packer = packer_build(d.path(), &["."], 0);
    std::fs::remove_file(p(&d, "back.txt")).unwrap();
    let ours = build_code(d.path(), &["."], 0);
    assert_eq!(
        provisioning_lines(&text(&ours.stdout)),
        provisioning_lines(&text(&packer.stdout))
    );
    assert_eq!(read(p(&d, "back.txt")), read(p(&d, "t.pkr.hcl")));
}

#[test]
fn retry_lines_match_packer() {
    if !packer_ok() {
        return;
    }
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    // Packer pauses before every try, says why it retries, and gives up in its own words.
    let d = project(&format!(
        "{}build {{\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell\" {{\n    inline = [\"echo try\", \"exit 2\"]\n    max_retries = 2\n    pause_before = \"1s\"\n  }}\n}}\n",
        sshd.source("a")
    ));
    let packer = packer_build(d.path(), &["."], 1);
    let ours = build_code(d.path(), &["."], 1);
    let lines = provisioning_lines(&text(&ours.stdout));
    assert_eq!(lines, provisioning_lines(&text(&packer.stdout)));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.ends_with("Pausing 1s before the next provisioner..."))
            .count(),
        3
    );
    assert!(
        lines.contains(&"==> null.a: retry limit reached.".to_string()),
        "{lines:?}"
    );
}

/// Every path under `root`, relative, sorted, directories marked with a trailing `/`.
fn tree_listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                out.push(format!("{rel}/"));
                stack.push(path);
            } else {
                out.push(format!("{rel} {}", read(&path).trim()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn file_uploads_land_where_packer_puts_them() {
    if !packer_ok() {
        return;
    }
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let d = project("");
    std::fs::create_dir_all(p(&d, "tree/sub")).unwrap();
    std::fs::write(p(&d, "tree/a.txt"), "A").unwrap();
    std::fs::write(p(&d, "tree/sub/b.txt"), "B").unwrap();
    std::fs::write(p(&d, "single.txt"), "S").unwrap();
    // The cases packer 1.6.6 carries out over scp and over sftp; each tool writes under its
    // own root, given as a variable.
    let uploads = "\
  provisioner \"shell\" {\n    inline = [\"mkdir -p ${var.root}/there ${var.root}/there2\"]\n  }\n\
  provisioner \"file\" {\n    source = \"tree\"\n    destination = \"${var.root}/there\"\n  }\n\
  provisioner \"file\" {\n    source = \"tree/\"\n    destination = \"${var.root}/there2\"\n  }\n\
  provisioner \"file\" {\n    source = \"single.txt\"\n    destination = \"${var.root}/renamed.txt\"\n  }\n\
  provisioner \"file\" {\n    source = \"single.txt\"\n    destination = \"${var.root}/there/\"\n  }\n";
    // Over scp a directory sent to a path that does not exist becomes that path; packer's
    // sftp cannot do that one.
    let fresh = "  provisioner \"file\" {\n    source = \"tree\"\n    destination = \"${var.root}/fresh\"\n  }\n";
    for (method, extra) in [("scp", fresh), ("sftp", "")] {
        let source = sshd.source("a").replace(
            "  ssh_timeout",
            &format!("  ssh_file_transfer_method = \"{method}\"\n  ssh_timeout"),
        );
        std::fs::write(
            p(&d, "t.pkr.hcl"),
            format!(
                "variable \"root\" {{\n  type = string\n}}\n{source}build {{\n  sources = [\"source.null.a\"]\n{uploads}{extra}}}\n"
            ),
        )
        .unwrap();
        let roots = tempfile::tempdir().unwrap();
        let theirs = roots.path().join("packer");
        let ours = roots.path().join("ours");
        let var = |root: &Path| format!("root={}", root.display());
        packer_build(d.path(), &["-var", &var(&theirs), "."], 0);
        let r = build(d.path(), &["-var", &var(&ours), "."]);
        assert_eq!(r.status.code(), Some(0), "{method}: {}", both(&r));
        assert_eq!(tree_listing(&ours), tree_listing(&theirs), "{method}");
    }
}

/// Ctrl-C stops a null build too: the running shell-local provisioner is dropped (its process
/// is killed with it) and the command exits 130 at once, not after the provisioner.
#[test]
fn sigint_stops_a_null_build_at_once() {
    let d = project(
        "source \"null\" \"n\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.n\"]\n  provisioner \"shell-local\" {\n    inline = [\"echo started\", \"sleep 30\", \"touch finished\"]\n  }\n}\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"))
        .current_dir(d.path())
        .args(["build", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Wait until the provisioner runs.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(
            n > 0,
            "the build ended before its provisioner started: {seen}"
        );
        seen.push_str(&line);
        if line.contains("started") {
            break;
        }
    }
    let t0 = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t0.elapsed()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("build was interrupted"), "{rest}");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(
        !d.path().join("finished").exists(),
        "the provisioner went on after the interrupt"
    );
}

//! `build` of null sources through the real binary against a real OpenSSH sshd started on
//! loopback: shell scripts, exit codes, retries, timeouts, environment, file transfers,
//! shell-local, the manifest, only/except, overrides and redaction of sensitive values.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// False (after saying why) when sshd or root is missing; a failure under `CI=true`.
fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !Path::new(SSHD).exists() {
        missing.push("sshd (/usr/sbin/sshd)");
    }
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
        != 0
    {
        missing.push("root (sshd must let the test log in as root)");
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing prerequisites: {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    false
}

/// A real sshd on 127.0.0.1 with its own host key and a client key file; killed on drop.
struct TestSshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl TestSshd {
    fn start() -> Option<Self> {
        if !prerequisites() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for key in ["host_key", "client_key"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(st.success(), "ssh-keygen failed");
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin yes\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nMaxSessions 50\nMaxStartups 50\n"
        );
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-" {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "sshd did not start in 10s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(TestSshd { dir, port, child })
    }

    /// A `source "null" "NAME"` block reaching this sshd as root.
    fn source(&self, name: &str) -> String {
        format!(
            "source \"null\" \"{name}\" {{\n  ssh_host = \"127.0.0.1\"\n  ssh_port = {}\n  ssh_username = \"root\"\n  ssh_private_key_file = \"{}\"\n  ssh_timeout = \"20s\"\n}}\n",
            self.port,
            self.dir.path().join("client_key").display()
        )
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        // The whole process group: sshd and any session still running.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn build(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cce-image-builder"))
        .current_dir(dir)
        .arg("build")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// A work directory with `t.pkr.hcl` holding `template`.
fn project(template: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.pkr.hcl"), template).unwrap();
    d
}

fn p(d: &tempfile::TempDir, name: &str) -> PathBuf {
    d.path().join(name)
}

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
    let d = project(&tpl);
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(0), "{all}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("inline.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("env.txt")).unwrap(),
        "a null it's bar\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("exec.txt")).unwrap(),
        "custom\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("path.txt"))
            .unwrap()
            .trim(),
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
    let b = std::fs::read_to_string(out.path().join("build.txt")).unwrap();
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
    let d = project(&failing);
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Script exited with non-zero exit status: 3. Allowed exit codes are: [0]"),
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
    let r = build(d.path(), &["-on-error=abort", "."]);
    assert_eq!(r.status.code(), Some(1), "{}", both(&r));
    assert!(
        !out.path().join("cleaned").exists(),
        "abort ran the cleanup provisioner"
    );

    let allowed = failing.replace(
        "inline = [\"exit 3\"]",
        "inline = [\"exit 3\"]\n    valid_exit_codes = [0, 3]",
    );
    let d = project(&allowed);
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
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
    let d = project(&tpl);
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    assert_eq!(
        std::fs::read_to_string(out.path().join("runs"))
            .unwrap()
            .lines()
            .count(),
        3
    );

    // One retry is not enough: the build fails after two runs.
    std::fs::remove_file(out.path().join("runs")).unwrap();
    let d = project(&tpl.replace("max_retries = 2", "max_retries = 1"));
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(1), "{}", both(&r));
    assert_eq!(
        std::fs::read_to_string(out.path().join("runs"))
            .unwrap()
            .lines()
            .count(),
        2
    );
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
    let pid = std::fs::read_to_string(out.path().join("pid")).unwrap();
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
  provisioner \"file\" {{\n    source = \"tree/\"\n    destination = \"{r_}/contents\"\n  }}\n\
  provisioner \"file\" {{\n    sources = [\"single.txt\"]\n    destination = \"{r_}/\"\n  }}\n\
  provisioner \"file\" {{\n    content = \"from content\"\n    destination = \"{r_}/content.txt\"\n  }}\n\
  provisioner \"shell\" {{\n    inline = [\"echo remote-made > {r_}/made.txt\"]\n  }}\n\
  provisioner \"file\" {{\n    direction = \"download\"\n    source = \"{r_}/made.txt\"\n    destination = \"got/\"\n    generated = true\n  }}\n}}\n",
        sshd.source("a")
    );
    std::fs::write(p(&d, "t.pkr.hcl"), tpl).unwrap();
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    let read = |rel: &str| {
        std::fs::read_to_string(remote.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    assert_eq!(read("with/tree/a.txt"), "A");
    assert_eq!(read("with/tree/sub/b.txt"), "B");
    assert_eq!(read("contents/a.txt"), "A");
    assert_eq!(read("contents/sub/b.txt"), "B");
    assert_eq!(read("single.txt"), "S");
    assert_eq!(read("content.txt"), "from content");
    assert_eq!(
        std::fs::read_to_string(p(&d, "got/made.txt")).unwrap(),
        "remote-made\n"
    );
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
    let d = project(&tpl);
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
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
    let r = build(d.path(), &["-only=null.b", "."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
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
    assert_eq!(
        std::fs::read_to_string(p(&d, "local.txt")).unwrap(),
        "local null y\n"
    );
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
        serde_json::from_str(&std::fs::read_to_string(p(&d, "out/manifest.json")).unwrap())
            .unwrap();
    let b = &manifest["builds"][0];
    assert_eq!(b["name"], "local");
    assert_eq!(b["builder_type"], "null");
    assert_eq!(b["artifact_id"], "Null");
    assert!(b["build_time"].as_u64().is_some());
    assert_eq!(b["packer_run_uuid"], manifest["last_run_uuid"]);
    assert_eq!(b["custom_data"]["uuid"], manifest["last_run_uuid"]);

    // A second run appends.
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p(&d, "out/manifest.json")).unwrap())
            .unwrap();
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
fn a_huaweicloud_source_is_refused_with_a_clear_message() {
    let d = project(
        "source \"huaweicloud-ecs\" \"ecs\" {\n  region = \"ru-moscow-1\"\n  image_name = \"x\"\n  source_image_name = \"Ubuntu\"\n  flavor = \"s6.large.2\"\n  ssh_username = \"root\"\n  vpc_id = \"v\"\n  subnets = [\"s\"]\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.ecs\"]\n}\n",
    );
    let r = build(d.path(), &["."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(1), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        all.contains("uses the huaweicloud-ecs builder, which `build` cannot run yet"),
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
    let d = project(&tpl);
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
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
    let r = build(d.path(), &["."]);
    assert_eq!(r.status.code(), Some(1), "{}", both(&r));
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
    if !Path::new("/usr/bin/packer").exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "packer is missing (CI=true makes this a failure)"
        );
        eprintln!("skipping: packer is not installed");
        return;
    }
    let d = project(
        "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  name = \"b\"\n  sources = [\"source.null.a\"]\n\
  provisioner \"shell-local\" {\n    inline = [\"echo hi $PACKER_BUILD_NAME\"]\n  }\n\
  provisioner \"breakpoint\" {\n    disable = true\n    note = \"n\"\n  }\n\
  post-processor \"manifest\" {\n    output = \"m.json\"\n  }\n}\n",
    );
    let packer = Command::new("/usr/bin/packer")
        .current_dir(d.path())
        .args(["build", "-color=false", "."])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(packer.status.code(), Some(0), "{}", both(&packer));
    let ours = build(d.path(), &["."]);
    assert_eq!(ours.status.code(), Some(0), "{}", both(&ours));
    assert_eq!(
        provisioning_lines(&text(&ours.stdout)),
        provisioning_lines(&text(&packer.stdout))
    );
    // Both appended to the same manifest, in the same shape.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p(&d, "m.json")).unwrap()).unwrap();
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

//! `build` runs the builds of a template concurrently like Packer: through the real binary,
//! two null sources whose shell-local or ssh provisioners sleep and write timestamps overlap
//! by default and not with `-parallel-builds=1`; a failing build does not stop the other; one
//! Ctrl-C stops them all; the end summary lists the builds in template order; a null and a
//! cloud build (on the embedded local cloud, so root) share the one `-parallel-builds` limit.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{NullSource, both, command, project, run, text};

/// Two null sources `a` and `b` in one build whose shell-local provisioner runs `script`
/// (lines; `$OUT` is `out`, `$PACKER_BUILD_NAME` the source's build name).
fn two_sources(out: &Path, script: &[&str]) -> String {
    let lines: Vec<String> = script
        .iter()
        .map(|l| format!("\"{}\"", l.replace("$OUT", &out.display().to_string())))
        .collect();
    format!(
        "source \"null\" \"a\" {{\n  communicator = \"none\"\n}}\nsource \"null\" \"b\" {{\n  communicator = \"none\"\n}}\n\
build {{\n  sources = [\"source.null.a\", \"source.null.b\"]\n  provisioner \"shell-local\" {{\n    inline = [{}]\n  }}\n}}\n",
        lines.join(", ")
    )
}

/// The start and end time a build wrote, in seconds.
fn span(out: &Path, build: &str) -> (f64, f64) {
    let read = |what: &str| -> f64 {
        let path = out.join(format!("{build}.{what}"));
        let t =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        t.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: {t:?}: {e}", path.display()))
    };
    (read("start"), read("end"))
}

const TIMED: &[&str] = &[
    "date +%s.%N > $OUT/$PACKER_BUILD_NAME.start",
    "sleep 1.5",
    "date +%s.%N > $OUT/$PACKER_BUILD_NAME.end",
];

#[test]
fn null_builds_overlap_by_default() {
    let out = tempfile::tempdir().unwrap();
    let d = project(&two_sources(out.path(), TIMED));
    let r = run(d.path(), &["build", "."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    let (a0, a1) = span(out.path(), "a");
    let (b0, b1) = span(out.path(), "b");
    assert!(
        a0 < b1 && b0 < a1,
        "the builds did not overlap: a {a0}..{a1}, b {b0}..{b1}"
    );
    // Each build's lines stay attributed to it.
    let stdout = text(&r.stdout);
    for name in ["null.a", "null.b"] {
        assert!(
            stdout.contains(&format!("==> {name}: Running local shell script")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("Build '{name}' finished after")),
            "{stdout}"
        );
    }
}

#[test]
fn ssh_provisioners_of_two_null_builds_overlap_too() {
    let Some(sshd) = common::TestSshd::start() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let lines: Vec<String> = TIMED
        .iter()
        .map(|l| {
            format!(
                "\"{}\"",
                l.replace("$OUT", &out.path().display().to_string())
            )
        })
        .collect();
    let template = format!(
        "{}{}build {{\n  sources = [\"source.null.a\", \"source.null.b\"]\n  provisioner \"shell\" {{\n    inline = [{}]\n  }}\n}}\n",
        sshd.source("a"),
        sshd.source("b"),
        lines.join(", ")
    );
    let (_d, r, all) = common::built(&template, &["."], 0);
    let (a0, a1) = span(out.path(), "a");
    let (b0, b1) = span(out.path(), "b");
    assert!(
        a0 < b1 && b0 < a1,
        "the builds did not overlap: a {a0}..{a1}, b {b0}..{b1}\n{all}"
    );
    let stdout = text(&r.stdout);
    for name in ["null.a", "null.b"] {
        assert!(
            stdout.contains(&format!("==> {name}: Connected to SSH!")),
            "{stdout}"
        );
    }
}

#[test]
fn parallel_builds_1_runs_them_one_after_the_other_in_template_order() {
    let out = tempfile::tempdir().unwrap();
    let d = project(&two_sources(out.path(), TIMED));
    let r = run(d.path(), &["build", "-parallel-builds=1", "."]);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    let (a0, a1) = span(out.path(), "a");
    let (b0, b1) = span(out.path(), "b");
    assert!(
        a1 <= b0,
        "b started before a ended: a {a0}..{a1}, b {b0}..{b1}"
    );
    let stdout = text(&r.stdout);
    let first_b = stdout.find("==> null.b:").expect("b reported");
    let a_done = stdout.find("Build 'null.a' finished").expect("a finished");
    assert!(a_done < first_b, "b's lines came before a ended:\n{stdout}");
}

#[test]
fn a_failing_build_does_not_stop_the_other() {
    let out = tempfile::tempdir().unwrap();
    let d = project(&two_sources(
        out.path(),
        &[
            "if [ $PACKER_BUILD_NAME = a ]; then echo a-fails; exit 3; fi",
            "sleep 1",
            "touch $OUT/$PACKER_BUILD_NAME.done",
        ],
    ));
    let r = run(d.path(), &["build", "."]);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(1), "{all}");
    assert!(out.path().join("b.done").exists(), "b was stopped: {all}");
    assert!(!out.path().join("a.done").exists(), "a went on: {all}");
    assert!(all.contains("Build 'null.a' errored after"), "{all}");
    assert!(all.contains("Build 'null.b' finished after"), "{all}");
    assert!(
        all.contains("--> null.b: Did not export anything. This is the null builder"),
        "{all}"
    );
    assert!(!all.contains("--> null.a: Did not export"), "{all}");
}

#[test]
fn the_summary_lists_the_builds_in_template_order() {
    let out = tempfile::tempdir().unwrap();
    // a ends well after b, yet is listed first.
    let d = project(&two_sources(
        out.path(),
        &["if [ $PACKER_BUILD_NAME = a ]; then sleep 1.5; fi"],
    ));
    let r = run(d.path(), &["build", "."]);
    let stdout = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{}", both(&r));
    let summary = stdout
        .split("The artifacts of successful builds are:")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    let artifacts: Vec<&str> = summary.lines().filter(|l| l.starts_with("-->")).collect();
    assert_eq!(
        artifacts,
        [
            "--> null.a: Did not export anything. This is the null builder",
            "--> null.b: Did not export anything. This is the null builder",
        ],
        "{stdout}"
    );
}

#[test]
fn one_sigint_stops_every_running_null_build() {
    let out = tempfile::tempdir().unwrap();
    let d = project(&two_sources(
        out.path(),
        &[
            "echo started-$PACKER_BUILD_NAME",
            "sleep 30",
            "touch $OUT/$PACKER_BUILD_NAME.finished",
        ],
    ));
    let mut child = command(d.path(), &["build", "."])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(seen.contains("started-a") && seen.contains("started-b")) {
        assert!(
            Instant::now() < deadline,
            "both builds did not start: {seen}"
        );
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("stdout reads");
        assert!(
            n > 0,
            "the build ended before both provisioners started: {seen}"
        );
        seen.push_str(&line);
    }
    let t0 = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid fits")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT is sent");
    let status = child.wait().expect("the binary ends");
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stdout reads");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).expect("stderr reads");
    }
    let all = format!("{seen}{rest}{err}");
    for name in ["null.a", "null.b"] {
        assert!(
            all.contains(&format!("{name}: build was interrupted")),
            "{name} was not interrupted:\n{all}"
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    for name in ["a", "b"] {
        assert!(
            !out.path().join(format!("{name}.finished")).exists(),
            "{name}'s provisioner went on after the interrupt"
        );
    }
}

/// A null source and a cloud source on the embedded local cloud in one template.
const MIXED: &str = r#"
source "null" "wait" {
  communicator = "none"
}
source "huaweicloud-ecs" "node" {
  image_name   = "cce-ib-mixed"
  ssh_username = "root"
  associate_public_ip_address = false
}
build {
  sources = ["source.null.wait", "source.huaweicloud-ecs.node"]
  provisioner "shell-local" {
    only   = ["null.wait"]
    inline = ["sleep 3"]
  }
}
"#;

/// The position of each build's start and end in a `--json` run's events.
fn starts_and_ends(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "build_started" || e["type"] == "build_finished")
        .map(|e| {
            let kind = e["type"].as_str().unwrap_or_default().to_string();
            (kind, e["build"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn null_and_cloud_builds_share_the_one_limit() {
    if !common::sandboxes_ok() {
        return;
    }
    let w = common::LocalWorld::new("cce-mixed-", MIXED);
    let run = |args: &[&str]| {
        let o = w.command(args).output().expect("the binary runs");
        assert_eq!(o.status.code(), Some(0), "{}", both(&o));
        starts_and_ends(&text(&o.stdout))
    };
    let started = |b: &str| ("build_started".to_string(), b.to_string());
    let finished = |b: &str| ("build_finished".to_string(), b.to_string());
    let (null, cloud) = ("null.wait", "huaweicloud-ecs.node");

    // One at a time: the cloud build starts once the null build, first in the template, ended.
    let order = run(&["build", "--json", "-parallel-builds=1", "t.pkr.hcl"]);
    assert_eq!(
        order,
        [
            started(null),
            finished(null),
            started(cloud),
            finished(cloud)
        ],
        "{order:?}"
    );
    // Unlimited: the cloud build starts while the null build sleeps.
    let order = run(&["build", "--json", "t.pkr.hcl"]);
    let at = |e: (String, String)| {
        order
            .iter()
            .position(|x| *x == e)
            .unwrap_or_else(|| panic!("{e:?} missing in {order:?}"))
    };
    assert!(at(started(cloud)) < at(finished(null)), "{order:?}");
    assert!(at(started(null)) < at(finished(cloud)), "{order:?}");
    assert_eq!(w.journals().len(), 2, "one journal per cloud build");

    // The cloud build first in the template: it takes the one slot before the null build.
    std::fs::write(
        w.path().join("t.pkr.hcl"),
        MIXED.replace(
            "[\"source.null.wait\", \"source.huaweicloud-ecs.node\"]",
            "[\"source.huaweicloud-ecs.node\", \"source.null.wait\"]",
        ),
    )
    .expect("the template is written");
    let order = run(&["build", "--json", "-parallel-builds=1", "t.pkr.hcl"]);
    assert_eq!(
        order,
        [
            started(cloud),
            finished(cloud),
            started(null),
            finished(null)
        ],
        "{order:?}"
    );
}

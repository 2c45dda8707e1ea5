//! The ledger on real files: crash simulation, torn and corrupt lines, build listing, cleanup.

mod common;

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use cce_engine::ledger::{
    self, BuildHeader, BuildStatus, Cleanup, CleanupStack, CleanupStage, FinishStatus, IntentId,
    Journal, Ledger, LedgerError, Record, ResourceKind, ResourceRemover, Tags,
};
use proptest::prelude::*;

fn header() -> BuildHeader {
    common::local_header(Some("/tmp/lc"))
}

fn header_with_pid(pid: u32) -> BuildHeader {
    BuildHeader { pid, ..header() }
}

/// A pid above Linux's maximum (2^22): no process can have it.
const DEAD_PID: u32 = 0x7fff_fff0;

fn journal_path(root: &Path, id: &str) -> std::path::PathBuf {
    ledger::build_dir(root, id).join(ledger::JOURNAL_FILE)
}

#[test]
fn state_root_follows_xdg_then_home() {
    let env: HashMap<String, String> = [
        ("XDG_STATE_HOME".into(), "/x/state".into()),
        ("HOME".into(), "/home/u".into()),
    ]
    .into();
    assert_eq!(
        ledger::state_root(&env),
        Path::new("/x/state/cce-image-builder")
    );
    let env: HashMap<String, String> = [("HOME".into(), "/home/u".into())].into();
    assert_eq!(
        ledger::state_root(&env),
        Path::new("/home/u/.local/state/cce-image-builder")
    );
    // A relative XDG_STATE_HOME is invalid per the spec and ignored.
    let env: HashMap<String, String> = [
        ("XDG_STATE_HOME".into(), "rel".into()),
        ("HOME".into(), "/h".into()),
    ]
    .into();
    assert_eq!(
        ledger::state_root(&env),
        Path::new("/h/.local/state/cce-image-builder")
    );
}

#[test]
fn build_ids_sort_by_time_and_names_carry_them() {
    let t1 = time::macros::datetime!(2026-11-25 16:55:00 UTC);
    let t2 = time::macros::datetime!(2026-11-25 16:55:01 UTC);
    let a = ledger::new_build_id_at(t1);
    let b = ledger::new_build_id_at(t2);
    assert!(a.starts_with("20261125T165500Z-") && a.len() == 23, "{a}");
    assert!(a < b);
    let name = ledger::resource_name(&a, &ResourceKind::Server);
    assert_eq!(name, format!("cce-ib-{}-srv", &a[17..]));
    assert_eq!(
        ledger::resource_name("20261125T165500Z-abc123", &ResourceKind::SecurityGroupRule),
        "cce-ib-abc123-sgr"
    );
    assert_ne!(ledger::new_build_id_at(t1), ledger::new_build_id_at(t1));
}

#[test]
fn records_are_json_lines_with_seq_and_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "b1", header()).expect("create");
    let i = l
        .intent(ResourceKind::Keypair, "cce-ib-b1-kp", Tags::new())
        .expect("intent");
    l.created(i, "kp-123").expect("created");
    let text = fs::read_to_string(journal_path(dir.path(), "b1")).expect("read");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["type"], "build_started");
    assert_eq!(lines[0]["build_id"], "b1");
    assert_eq!(lines[0]["cloud"]["kind"], "local");
    assert_eq!(lines[0]["cloud"]["region"], "ru-moscow-1");
    assert_eq!(lines[1]["type"], "intent");
    assert_eq!(lines[1]["seq"], 2);
    assert_eq!(lines[1]["kind"], "keypair");
    assert_eq!(lines[2]["intent_seq"], 2);
    assert_eq!(lines[2]["id"], "kp-123");
    let ts = lines[2]["ts"].as_str().expect("ts string");
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .expect("rfc3339 timestamp");
}

#[test]
fn creating_the_same_build_twice_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    Ledger::create(dir.path(), "b1", header()).expect("create");
    let err = Ledger::create(dir.path(), "b1", header()).expect_err("second create");
    assert!(matches!(err, LedgerError::Exists { .. }), "{err}");
    let err = Ledger::create(dir.path(), "../evil", header()).expect_err("bad id");
    assert!(err.to_string().contains("invalid build id"), "{err}");
}

#[test]
fn crash_without_closing_leaves_a_correct_outstanding_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kp, srv, eip);
    {
        let l = Ledger::create(dir.path(), "crash", header_with_pid(DEAD_PID)).expect("create");
        kp = l
            .intent(ResourceKind::Keypair, "cce-ib-x-kp", Tags::new())
            .expect("intent");
        l.created(kp, "kp-1").expect("created");
        srv = l
            .intent(
                ResourceKind::Server,
                "cce-ib-x-srv",
                ledger::build_tags("crash"),
            )
            .expect("i");
        l.created(srv, "srv-1").expect("created");
        eip = l
            .intent(ResourceKind::Eip, "cce-ib-x-eip", Tags::new())
            .expect("intent");
        // Gone here without a finish record: the EIP create may or may not have happened and
        // no id is known. (A real SIGKILL is in `sigkill_mid_build_leaves_a_cleanable_journal`.)
        drop(l);
    }
    let builds = ledger::list_builds(dir.path()).expect("list");
    assert_eq!(builds[0].status, BuildStatus::Crashed);
    assert_eq!(builds[0].outstanding, 3);
    let reopened = Ledger::open(dir.path(), "crash").expect("open");
    let out = reopened.outstanding();
    let ids: Vec<IntentId> = out.iter().map(|o| o.intent).collect();
    assert_eq!(ids, vec![eip, srv, kp], "newest first");
    assert_eq!(out[0].cloud_id, None);
    assert_eq!(out[1].cloud_id.as_deref(), Some("srv-1"));
    assert_eq!(
        out[1].tags.get(ledger::BUILD_TAG).map(String::as_str),
        Some("crash")
    );
}

#[test]
fn torn_last_line_is_ignored_and_cut_before_appending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "torn", header()).expect("create");
    let i = l
        .intent(ResourceKind::Vpc, "cce-ib-t-vpc", Tags::new())
        .expect("intent");
    drop(l);
    let path = journal_path(dir.path(), "torn");
    let mut f = OpenOptions::new().append(true).open(&path).expect("open");
    f.write_all(br#"{"seq":3,"ts":"2026-11-25T00:00:00Z","type":"created","intent_se"#)
        .expect("w");
    drop(f);

    let j = Journal::read(&path).expect("read");
    assert!(
        j.torn_tail
            .as_deref()
            .is_some_and(|t| t.starts_with("{\"seq\":3"))
    );
    assert!(j.corrupt.is_empty());
    assert_eq!(j.outstanding().len(), 1);

    let l = Ledger::open(dir.path(), "torn").expect("open");
    l.created(i, "vpc-9").expect("created");
    let j = Journal::read(&path).expect("read");
    assert_eq!(
        j.torn_tail, None,
        "the torn tail was cut, the new record is whole"
    );
    assert!(j.corrupt.is_empty(), "{:?}", j.corrupt);
    assert_eq!(j.outstanding()[0].cloud_id.as_deref(), Some("vpc-9"));
    assert_eq!(j.entries.last().map(|e| e.seq), Some(3));
}

#[test]
fn corrupt_lines_are_reported_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "bad", header()).expect("create");
    l.intent(ResourceKind::Subnet, "cce-ib-b-subnet", Tags::new())
        .expect("intent");
    drop(l);
    let path = journal_path(dir.path(), "bad");
    let mut f = OpenOptions::new().append(true).open(&path).expect("open");
    f.write_all(b"not json at all\n{\"seq\":9}\n").expect("w");
    drop(f);
    let l = Ledger::open(dir.path(), "bad").expect("open tolerates corrupt lines");
    let j = l.journal();
    assert_eq!(
        j.corrupt.iter().map(|c| c.line).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(l.outstanding().len(), 1);
    // New records continue after the highest sequence number seen.
    let i = l
        .intent(ResourceKind::Image, "cce-ib-b-img", Tags::new())
        .expect("intent");
    assert_eq!(i, IntentId(3));
    let builds = ledger::list_builds(dir.path()).expect("list");
    assert_eq!(builds[0].corrupt_lines, 2);
}

#[test]
fn list_builds_reports_each_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let ok = Ledger::create(root, "20261125T100000Z-aaaaaa", header()).expect("c");
    let img = ok
        .intent(ResourceKind::Image, "cce-ib-aaaaaa-img", Tags::new())
        .expect("i");
    ok.created(img, "img-1").expect("c");
    ok.kept(img, "the build's image").expect("k");
    ok.finished(FinishStatus::Succeeded, vec!["img-1".into()])
        .expect("f");
    let failed = Ledger::create(root, "20261125T100001Z-bbbbbb", header()).expect("c");
    failed.finished(FinishStatus::Failed, vec![]).expect("f");
    let intr = Ledger::create(root, "20261125T100002Z-cccccc", header()).expect("c");
    intr.intent(ResourceKind::Server, "cce-ib-cccccc-srv", Tags::new())
        .expect("i");
    intr.finished(FinishStatus::Interrupted, vec![]).expect("f");
    let _running = Ledger::create(root, "20261125T100003Z-dddddd", header()).expect("running");
    Ledger::create(root, "20261125T100004Z-eeeeee", header_with_pid(DEAD_PID)).expect("crashed");
    // Dropped without finishing by a process that is still alive: a reused or live pid does not
    // make an abandoned build look like it is running.
    Ledger::create(root, "20261125T100005Z-ffffff", header()).expect("abandoned");

    let list = ledger::list_builds(root).expect("list");
    let got: Vec<(&str, BuildStatus, usize)> = list
        .iter()
        .map(|b| (&b.id[17..], b.status, b.outstanding))
        .collect();
    assert_eq!(
        got,
        vec![
            ("aaaaaa", BuildStatus::Succeeded, 0),
            ("bbbbbb", BuildStatus::Failed, 0),
            ("cccccc", BuildStatus::Interrupted, 1),
            ("dddddd", BuildStatus::Running, 0),
            ("eeeeee", BuildStatus::Crashed, 0),
            ("ffffff", BuildStatus::Crashed, 0),
        ]
    );
    assert_eq!(list[0].template.as_deref(), Some("turbo-node.pkr.hcl"));
    assert!(list[0].started.is_some());
    // The held lock, not the pid, says a build runs: a pid check claiming death changes nothing.
    let all_dead = ledger::list_builds_with(root, |_| false).expect("list");
    assert_eq!(all_dead[3].status, BuildStatus::Running);
    assert!(
        ledger::list_builds(&root.join("nothing-here"))
            .expect("empty")
            .is_empty()
    );
}

#[test]
fn a_running_build_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "busy", header()).expect("create");
    let err = Ledger::open(dir.path(), "busy").expect_err("held by the running build");
    assert!(
        matches!(err, LedgerError::Busy { pid: Some(_), .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("in use by another process (pid "),
        "{err}"
    );
    drop(l);
    Ledger::open(dir.path(), "busy").expect("free after the build let go");
    let err = Ledger::open(dir.path(), "missing").expect_err("no such build");
    assert!(matches!(err, LedgerError::NotFound { .. }), "{err}");
}

const CHILD_ENV: &str = "CCE_ENGINE_LEDGER_CHILD_ROOT";

/// Runs inside a child process started by `sigkill_mid_build_leaves_a_cleanable_journal`:
/// records a few resources, says so, then waits to be killed. Ignored in normal runs.
#[test]
#[ignore = "runs only as the child of sigkill_mid_build_leaves_a_cleanable_journal"]
fn child_build_that_gets_killed() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        eprintln!("nothing to do: only the parent test starts this with {CHILD_ENV} set");
        return;
    };
    let l = Ledger::create(Path::new(&root), "killed", header()).expect("create");
    let kp = l
        .intent(ResourceKind::Keypair, "k-kp", Tags::new())
        .expect("intent");
    l.created(kp, "kp-1").expect("created");
    l.intent(ResourceKind::Server, "k-srv", Tags::new())
        .expect("intent");
    println!("READY");
    std::io::stdout().flush().expect("flush stdout");
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn sigkill_mid_build_leaves_a_cleanable_journal() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "--ignored",
            "child_build_that_gets_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("READY") {
                let _ = tx.send(());
            }
        }
    });
    let ready = rx.recv_timeout(std::time::Duration::from_secs(30));
    if ready.is_err() {
        let _ = child.kill();
        panic!("child did not get ready within 30s");
    }
    let list = ledger::list_builds(dir.path()).expect("list");
    assert_eq!(list[0].status, BuildStatus::Running);
    assert!(matches!(
        Ledger::open(dir.path(), "killed"),
        Err(LedgerError::Busy { .. })
    ));
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap child");

    let list = ledger::list_builds(dir.path()).expect("list");
    assert_eq!(list[0].status, BuildStatus::Crashed);
    assert_eq!(list[0].outstanding, 2);
    let l = Ledger::open(dir.path(), "killed").expect("lock released by the kernel");
    let remover = RecordingRemover {
        by_name: [("k-srv".to_string(), "srv-late".to_string())].into(),
        ..Default::default()
    };
    let report = block_on(Cleanup::run(&l, &remover));
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(
        *remover.calls.lock().expect("lock"),
        vec![
            "find server k-srv",
            "delete server srv-late",
            "delete keypair kp-1"
        ]
    );
}

#[test]
fn unknown_intent_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "u", header()).expect("create");
    let err = l
        .created(IntentId(1), "x")
        .expect_err("seq 1 is the header, not an intent");
    assert!(
        matches!(err, LedgerError::UnknownIntent { seq: 1, .. }),
        "{err}"
    );
}

/// Records calls; fails deletes of ids listed in `fail`.
#[derive(Default)]
struct RecordingRemover {
    calls: Mutex<Vec<String>>,
    by_name: HashMap<String, String>,
    fail: Vec<String>,
    fail_find: Vec<String>,
}

impl ResourceRemover for RecordingRemover {
    type Error = String;

    async fn find_by_name(
        &self,
        kind: &ResourceKind,
        name: &str,
        _tags: &Tags,
    ) -> Result<Option<String>, String> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("find {kind} {name}"));
        if self.fail_find.iter().any(|n| n == name) {
            return Err("list servers: 503 service unavailable".into());
        }
        Ok(self.by_name.get(name).cloned())
    }

    async fn delete(&self, kind: &ResourceKind, id: &str) -> Result<(), String> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("delete {kind} {id}"));
        if self.fail.iter().any(|f| f == id) {
            return Err(format!("{kind} {id} is still in use"));
        }
        Ok(())
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn cleanup_walks_backwards_resolves_names_and_continues_after_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "c", header()).expect("create");
    let vpc = l
        .intent(ResourceKind::Vpc, "n-vpc", Tags::new())
        .expect("i");
    l.created(vpc, "vpc-1").expect("c");
    let kp = l
        .intent(ResourceKind::Keypair, "n-kp", Tags::new())
        .expect("i");
    l.created(kp, "kp-1").expect("c");
    let img = l
        .intent(ResourceKind::Image, "n-img", Tags::new())
        .expect("i");
    l.created(img, "img-1").expect("c");
    l.kept(img, "artifact").expect("k");
    let srv = l
        .intent(ResourceKind::Server, "n-srv", Tags::new())
        .expect("i");
    let eip = l
        .intent(ResourceKind::Eip, "n-eip", Tags::new())
        .expect("i");
    let sgr = l
        .intent(ResourceKind::SecurityGroupRule, "n-sgr", Tags::new())
        .expect("i");
    let remover = RecordingRemover {
        by_name: [("n-srv".to_string(), "srv-found".to_string())].into(),
        fail: vec!["kp-1".into()],
        fail_find: vec!["n-sgr".into()],
        ..Default::default()
    };
    let report = block_on(Cleanup::run(&l, &remover));
    assert_eq!(
        *remover.calls.lock().expect("lock"),
        vec![
            "find security_group_rule n-sgr",
            "find eip n-eip",
            "find server n-srv",
            "delete server srv-found",
            "delete keypair kp-1",
            "delete vpc vpc-1",
        ]
    );
    assert_eq!(
        report
            .deleted
            .iter()
            .map(|(o, id)| (o.intent, id.as_str()))
            .collect::<Vec<_>>(),
        vec![(srv, "srv-found"), (vpc, "vpc-1")]
    );
    assert_eq!(
        report.absent.iter().map(|o| o.intent).collect::<Vec<_>>(),
        vec![eip]
    );
    assert_eq!(report.failed.len(), 2);
    assert_eq!(report.failed[0].resource.intent, sgr);
    assert_eq!(report.failed[0].stage, CleanupStage::Find);
    assert_eq!(report.failed[1].resource.intent, kp);
    assert_eq!(report.failed[1].stage, CleanupStage::Delete);
    assert_eq!(report.failed[1].error, "keypair kp-1 is still in use");
    assert!(!report.is_clean());

    // What failed is still outstanding, on disk too; the found id was recorded.
    drop(l);
    let reopened = Ledger::open(dir.path(), "c").expect("open");
    let left: Vec<IntentId> = reopened.outstanding().iter().map(|o| o.intent).collect();
    assert_eq!(left, vec![sgr, kp]);
    let recorded_found = reopened.journal().entries.iter().any(|e| {
        matches!(&e.record, Record::Created { intent_seq, id } if *intent_seq == srv.0 && id == "srv-found")
    });
    assert!(recorded_found);

    // A second run with a healthy cloud finishes the job.
    let report = block_on(Cleanup::run(&reopened, &RecordingRemover::default()));
    assert!(report.is_clean());
    assert_eq!(report.deleted.len(), 1);
    assert_eq!(report.absent.len(), 1);
    assert!(reopened.outstanding().is_empty());
}

#[test]
fn cleanup_stack_walks_the_same_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::create(dir.path(), "s", header()).expect("create");
    let stack = CleanupStack::new(&l);
    let kp = stack
        .push(ResourceKind::Keypair, "s-kp", Tags::new())
        .expect("push");
    stack.created(kp, "kp-7").expect("created");
    let img = stack
        .push(ResourceKind::Image, "s-img", Tags::new())
        .expect("push");
    stack.created(img, "img-7").expect("created");
    stack.keep(img, "artifact").expect("keep");
    assert_eq!(stack.pending().len(), 1);
    let remover = RecordingRemover::default();
    let report = block_on(stack.run_cleanup(&remover));
    assert!(report.is_clean());
    assert_eq!(
        *remover.calls.lock().expect("lock"),
        vec!["delete keypair kp-7"]
    );
    drop(l);
    assert!(
        Ledger::open(dir.path(), "s")
            .expect("open")
            .outstanding()
            .is_empty()
    );
}

#[derive(Debug, Clone)]
enum Op {
    Intent(u8),
    Created(usize),
    Deleted(usize),
    Kept(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..9).prop_map(Op::Intent),
        any::<usize>().prop_map(Op::Created),
        any::<usize>().prop_map(Op::Deleted),
        any::<usize>().prop_map(Op::Kept),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_prefix_parses_and_never_lists_a_closed_resource(ops in proptest::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::create(dir.path(), "p", header()).expect("create");
        let kinds = [ResourceKind::Server, ResourceKind::Keypair, ResourceKind::Eip,
            ResourceKind::Vpc, ResourceKind::Subnet, ResourceKind::SecurityGroup,
            ResourceKind::SecurityGroupRule, ResourceKind::Image,
            ResourceKind::Other("nat_gateway".into())];
        let mut intents = Vec::new();
        for (n, o) in ops.iter().enumerate() {
            match o {
                Op::Intent(k) => intents.push(
                    l.intent(kinds[*k as usize].clone(), &format!("r{n}"), Tags::new()).expect("intent")),
                Op::Created(i) if !intents.is_empty() =>
                    l.created(intents[i % intents.len()], &format!("id{n}")).expect("created"),
                Op::Deleted(i) if !intents.is_empty() => l.deleted(intents[i % intents.len()]).expect("deleted"),
                Op::Kept(i) if !intents.is_empty() => l.kept(intents[i % intents.len()], "keep").expect("kept"),
                _ => {}
            }
        }
        let bytes = fs::read(l.path()).expect("read");
        for cut in 0..=bytes.len() {
            let j = Journal::parse(&bytes[..cut]);
            prop_assert!(j.corrupt.is_empty(), "prefix {} had corrupt lines: {:?}", cut, j.corrupt);
            let closed: Vec<u64> = j.entries.iter().filter_map(|e| match &e.record {
                Record::Deleted { intent_seq } | Record::Kept { intent_seq, .. } => Some(*intent_seq),
                _ => None,
            }).collect();
            let out = j.outstanding();
            for o in &out {
                prop_assert!(!closed.contains(&o.intent.0));
            }
            // Every open intent of the prefix is listed exactly once.
            let open_intents = j.entries.iter().filter(|e| matches!(e.record, Record::Intent { .. })
                && !closed.contains(&e.seq)).count();
            prop_assert_eq!(out.len(), open_intents);
        }
    }
}

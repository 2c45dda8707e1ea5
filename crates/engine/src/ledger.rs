//! The crash-safe ledger: an append-only, fsync'd journal per build of every cloud resource the
//! build asks for, so cleanup can find and remove them even after the process was killed.
//!
//! Packer keeps its cleanup stack in Go `defer`s, which vanish on SIGKILL and leave servers, key
//! pairs and EIPs behind. Here an `intent` line naming the resource is on disk before the create
//! call is sent, its id is recorded as soon as it is known, and `deleted`/`kept` close it. Whatever
//! is still open is what [`Cleanup`] must remove, newest first; an intent without an id is looked
//! up by the unique name (and tags) we gave the resource.
//!
//! Layout: `<state root>/builds/<build-id>/journal.jsonl`, one JSON object per line, each with a
//! sequence number and an RFC 3339 timestamp. The state root is `$XDG_STATE_HOME/cce-image-builder`
//! or `$HOME/.local/state/cce-image-builder` ([`state_root`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// File name of the journal inside a build directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// Prefix of every resource name this tool gives, so leftovers are recognisable in the console.
pub const NAME_PREFIX: &str = "cce-ib-";
/// Tag key carrying the build id on every taggable resource.
pub const BUILD_TAG: &str = "cce-image-builder-build";

/// Errors of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: a journal for this build already exists; choose another build id")]
    Exists { path: PathBuf },
    #[error("{path}: no journal for this build; `cce-image-builder builds` lists the known builds")]
    NotFound { path: PathBuf },
    #[error("{path}: the journal does not start with a build_started record")]
    NoHeader { path: PathBuf },
    #[error(
        "build {build} is in use by another process{}; wait for it to finish or stop it first",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Busy { build: String, pid: Option<u32> },
    #[error("invalid build id {id:?}: use letters, digits, `-` and `_` only")]
    InvalidBuildId { id: String },
    #[error("no intent with sequence number {seq} in the journal of build {build}")]
    UnknownIntent { build: String, seq: u64 },
    #[error("cannot encode a journal record: {0}")]
    Encode(#[from] serde_json::Error),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Resolves the state root from an injected environment: `$XDG_STATE_HOME/cce-image-builder`,
/// else `$HOME/.local/state/cce-image-builder`, else a relative `.cce-image-builder-state`.
pub fn state_root(env: &HashMap<String, String>) -> PathBuf {
    if let Some(x) = env
        .get("XDG_STATE_HOME")
        .filter(|v| !v.is_empty() && Path::new(v).is_absolute())
    {
        return Path::new(x).join("cce-image-builder");
    }
    if let Some(home) = env.get("HOME").filter(|v| !v.is_empty()) {
        return Path::new(home).join(".local/state/cce-image-builder");
    }
    PathBuf::from(".cce-image-builder-state")
}

/// Directory holding one build's journal.
pub fn build_dir(root: &Path, build_id: &str) -> PathBuf {
    root.join("builds").join(build_id)
}

/// A new sortable build id: `20261125T165500Z-k3x9qa` (UTC time, then 6 random characters).
pub fn new_build_id() -> String {
    new_build_id_at(OffsetDateTime::now_utc())
}

/// [`new_build_id`] at a given time.
pub fn new_build_id_at(now: OffsetDateTime) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{suffix}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

fn check_build_id(id: &str) -> Result<(), LedgerError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(LedgerError::InvalidBuildId { id: id.to_owned() })
    }
}

/// The short, build-unique part of a build id used in resource names (the random suffix, or the
/// whole id lowercased when it has no suffix).
pub fn short_id(build_id: &str) -> String {
    let tail = build_id.rsplit('-').next().unwrap_or(build_id);
    let tail = if tail.len() >= 4 { tail } else { build_id };
    tail.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(16)
        .collect()
}

/// The name we give a resource of `kind` in build `build_id`: `cce-ib-<short>-<kind>`. Within a
/// build a second resource of the same kind needs its own suffix (callers append `-2`, …).
pub fn resource_name(build_id: &str, kind: &ResourceKind) -> String {
    format!("{NAME_PREFIX}{}-{}", short_id(build_id), kind.slug())
}

/// Tags every taggable resource of a build carries, for finding it when its id was lost.
pub fn build_tags(build_id: &str) -> Tags {
    Tags::from([(BUILD_TAG.to_owned(), build_id.to_owned())])
}

/// Resource tags (key → value).
pub type Tags = BTreeMap<String, String>;

/// What kind of cloud resource an intent is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum ResourceKind {
    Server,
    Keypair,
    Eip,
    Vpc,
    Subnet,
    SecurityGroup,
    SecurityGroupRule,
    Volume,
    Image,
    /// A kind this version does not know (journals written by a newer version stay readable).
    Other(String),
}

impl ResourceKind {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Server => "server",
            Self::Keypair => "keypair",
            Self::Eip => "eip",
            Self::Vpc => "vpc",
            Self::Subnet => "subnet",
            Self::SecurityGroup => "security_group",
            Self::SecurityGroupRule => "security_group_rule",
            Self::Volume => "volume",
            Self::Image => "image",
            Self::Other(s) => s,
        }
    }

    /// Short form used in resource names.
    pub fn slug(&self) -> String {
        match self {
            Self::Server => "srv".into(),
            Self::Keypair => "kp".into(),
            Self::Eip => "eip".into(),
            Self::Vpc => "vpc".into(),
            Self::Subnet => "subnet".into(),
            Self::SecurityGroup => "sg".into(),
            Self::SecurityGroupRule => "sgr".into(),
            Self::Volume => "vol".into(),
            Self::Image => "img".into(),
            Self::Other(s) => s
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect(),
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for ResourceKind {
    fn from(s: String) -> Self {
        match s.as_str() {
            "server" => Self::Server,
            "keypair" => Self::Keypair,
            "eip" => Self::Eip,
            "vpc" => Self::Vpc,
            "subnet" => Self::Subnet,
            "security_group" => Self::SecurityGroup,
            "security_group_rule" => Self::SecurityGroupRule,
            "volume" => Self::Volume,
            "image" => Self::Image,
            _ => Self::Other(s),
        }
    }
}

impl From<ResourceKind> for String {
    fn from(k: ResourceKind) -> Self {
        k.as_str().to_owned()
    }
}

impl FromStr for ResourceKind {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s.to_owned()))
    }
}

/// Which cloud a build talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudKind {
    Real,
    Local,
}

/// Where the build's resources live (enough for a later `cleanup` to reach them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTarget {
    pub kind: CloudKind,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_state_dir: Option<PathBuf>,
}

/// The first record of a journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildHeader {
    pub build_id: String,
    pub template: String,
    pub cloud: CloudTarget,
    pub pid: u32,
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishStatus {
    Succeeded,
    Failed,
    Interrupted,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    BuildStarted {
        #[serde(flatten)]
        header: BuildHeader,
    },
    /// Written and fsync'd before the create call; the line's `seq` identifies the intent.
    Intent {
        kind: ResourceKind,
        name: String,
        #[serde(default)]
        tags: Tags,
    },
    Created {
        intent_seq: u64,
        id: String,
    },
    Deleted {
        intent_seq: u64,
    },
    Kept {
        intent_seq: u64,
        why: String,
    },
    /// Cleanup looked the resource up by name and tags and found none: the create never took
    /// effect, so there is nothing to delete.
    Absent {
        intent_seq: u64,
    },
    StepStarted {
        step: String,
    },
    StepFinished {
        step: String,
        status: String,
        #[serde(default)]
        elapsed_ms: u64,
    },
    BuildFinished {
        status: FinishStatus,
        #[serde(default)]
        artifact_ids: Vec<String>,
    },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub ts: String,
    #[serde(flatten)]
    pub record: Record,
}

/// Identifies an intent: the sequence number of its journal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IntentId(pub u64);

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A resource asked for and neither deleted nor kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outstanding {
    pub intent: IntentId,
    pub kind: ResourceKind,
    pub name: String,
    pub tags: Tags,
    /// `None` when the create call may have succeeded without us learning the id.
    pub cloud_id: Option<String>,
}

/// A line that could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptLine {
    /// 1-based line number.
    pub line: usize,
    pub error: String,
}

/// A journal as read from disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    pub entries: Vec<Entry>,
    /// Lines that are complete but unreadable (reported, skipped).
    pub corrupt: Vec<CorruptLine>,
    /// Bytes after the last newline: a write cut short by a crash (ignored).
    pub torn_tail: Option<String>,
    /// Offset just after the last complete line.
    pub valid_len: u64,
}

impl Journal {
    /// Parses journal text. Never fails: bad lines are reported in `corrupt`, an unterminated last
    /// line in `torn_tail`.
    pub fn parse(bytes: &[u8]) -> Journal {
        let mut j = Journal::default();
        let complete_end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        j.valid_len = complete_end as u64;
        if complete_end < bytes.len() {
            j.torn_tail = Some(String::from_utf8_lossy(&bytes[complete_end..]).into_owned());
        }
        for (i, line) in bytes[..complete_end].split(|&b| b == b'\n').enumerate() {
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            match serde_json::from_slice::<Entry>(line) {
                Ok(e) => j.entries.push(e),
                Err(e) => j.corrupt.push(CorruptLine {
                    line: i + 1,
                    error: e.to_string(),
                }),
            }
        }
        j
    }

    /// Reads a journal file.
    pub fn read(path: &Path) -> Result<Journal, LedgerError> {
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => LedgerError::NotFound {
                    path: path.to_owned(),
                },
                _ => LedgerError::Io {
                    path: path.to_owned(),
                    source: e,
                },
            })?;
        Ok(Journal::parse(&bytes))
    }

    pub fn header(&self) -> Option<&BuildHeader> {
        self.entries.iter().find_map(|e| match &e.record {
            Record::BuildStarted { header } => Some(header),
            _ => None,
        })
    }

    pub fn started(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| matches!(e.record, Record::BuildStarted { .. }))
            .map(|e| e.ts.as_str())
    }

    pub fn finished(&self) -> Option<FinishStatus> {
        self.entries.iter().rev().find_map(|e| match &e.record {
            Record::BuildFinished { status, .. } => Some(*status),
            _ => None,
        })
    }

    /// The ids of what the build delivered (its images), as its end recorded them.
    pub fn artifact_ids(&self) -> &[String] {
        self.entries
            .iter()
            .rev()
            .find_map(|e| match &e.record {
                Record::BuildFinished { artifact_ids, .. } => Some(artifact_ids.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    fn next_seq(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| e.seq)
            .max()
            .map_or(1, |m| m + 1)
    }

    /// Intents not closed by `deleted`, `kept` or `absent`, newest first (the order cleanup must
    /// walk: a resource created later may depend on one created earlier).
    pub fn outstanding(&self) -> Vec<Outstanding> {
        struct Open {
            o: Outstanding,
            order: u64,
            closed: bool,
        }
        let mut open: BTreeMap<u64, Open> = BTreeMap::new();
        for e in &self.entries {
            match &e.record {
                Record::Intent { kind, name, tags } => {
                    open.insert(
                        e.seq,
                        Open {
                            o: Outstanding {
                                intent: IntentId(e.seq),
                                kind: kind.clone(),
                                name: name.clone(),
                                tags: tags.clone(),
                                cloud_id: None,
                            },
                            order: e.seq,
                            closed: false,
                        },
                    );
                }
                Record::Created { intent_seq, id } => {
                    if let Some(x) = open.get_mut(intent_seq) {
                        x.o.cloud_id = Some(id.clone());
                        x.order = e.seq;
                    }
                }
                Record::Deleted { intent_seq }
                | Record::Kept { intent_seq, .. }
                | Record::Absent { intent_seq } => {
                    if let Some(x) = open.get_mut(intent_seq) {
                        x.closed = true;
                    }
                }
                _ => {}
            }
        }
        let mut out: Vec<Open> = open.into_values().filter(|x| !x.closed).collect();
        out.sort_by_key(|x| std::cmp::Reverse(x.order));
        out.into_iter().map(|x| x.o).collect()
    }
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn lock_exclusive(file: File, build_id: &str, path: &Path) -> Result<Flock<File>, LedgerError> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(f) => Ok(f),
        Err((_, Errno::EWOULDBLOCK)) => {
            let pid = Journal::read(path)
                .ok()
                .and_then(|j| j.header().map(|h| h.pid));
            Err(LedgerError::Busy {
                build: build_id.to_owned(),
                pid,
            })
        }
        Err((_, e)) => Err(LedgerError::Io {
            path: path.to_owned(),
            source: e.into(),
        }),
    }
}

/// Whether a live process holds the journal open as its ledger: `Some(true)` if locked,
/// `Some(false)` if not, `None` if the lock state cannot be learnt.
pub fn journal_locked(path: &Path) -> Option<bool> {
    let file = File::open(path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_released_on_drop) => Some(false),
        Err((_, Errno::EWOULDBLOCK)) => Some(true),
        Err(_) => None,
    }
}

fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

struct Inner {
    /// Held with an exclusive `flock` for the ledger's life: the kernel drops it when the process
    /// dies, even by SIGKILL, which tells a running build from a crashed one without trusting a
    /// pid that may have been reused.
    file: Flock<File>,
    journal: Journal,
    next_seq: u64,
}

/// An open journal being appended to. Methods take `&self` so one ledger can be shared
/// (`Arc<Ledger>`) by the steps of a build.
pub struct Ledger {
    build_id: String,
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("build_id", &self.build_id)
            .field("path", &self.path)
            .finish()
    }
}

impl Ledger {
    /// Creates the journal of a new build and writes its `build_started` record.
    pub fn create(root: &Path, build_id: &str, header: BuildHeader) -> Result<Ledger, LedgerError> {
        check_build_id(build_id)?;
        let builds = root.join("builds");
        fs::create_dir_all(&builds).map_err(io_err(&builds))?;
        let dir = builds.join(build_id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(LedgerError::Io {
                    path: dir,
                    source: e,
                });
            }
        }
        sync_dir(&builds)?;
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    LedgerError::Exists { path: path.clone() }
                } else {
                    LedgerError::Io {
                        path: path.clone(),
                        source: e,
                    }
                }
            })?;
        let file = lock_exclusive(file, build_id, &path)?;
        // The new directory entry must survive a crash, or the journal could vanish with it.
        sync_dir(&dir)?;
        let ledger = Ledger {
            build_id: build_id.to_owned(),
            path,
            inner: Mutex::new(Inner {
                file,
                journal: Journal::default(),
                next_seq: 1,
            }),
        };
        let header = BuildHeader {
            build_id: build_id.to_owned(),
            ..header
        };
        ledger.append(Record::BuildStarted { header })?;
        Ok(ledger)
    }

    /// Opens an existing journal for appending (cleanup of an earlier build). A torn last line
    /// is cut off so new records start on a line of their own.
    pub fn open(root: &Path, build_id: &str) -> Result<Ledger, LedgerError> {
        check_build_id(build_id)?;
        let path = build_dir(root, build_id).join(JOURNAL_FILE);
        let file = match OpenOptions::new().append(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LedgerError::NotFound { path });
            }
            Err(e) => return Err(LedgerError::Io { path, source: e }),
        };
        // Lock before reading, so the journal cannot change between reading and appending.
        let file = lock_exclusive(file, build_id, &path)?;
        let journal = Journal::read(&path)?;
        if journal.header().is_none() {
            return Err(LedgerError::NoHeader { path });
        }
        if journal.torn_tail.is_some() {
            file.set_len(journal.valid_len).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
        }
        let next_seq = journal.next_seq();
        Ok(Ledger {
            build_id: build_id.to_owned(),
            path,
            inner: Mutex::new(Inner {
                file,
                journal: Journal {
                    torn_tail: None,
                    ..journal
                },
                next_seq,
            }),
        })
    }

    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock means a panic while appending; the journal on disk is the truth and
        // the in-memory copy is only ever extended after a successful write.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one record: one `write` of the whole line on an O_APPEND descriptor, then
    /// `fdatasync` (enough for appended data: it also flushes the size needed to read it back).
    pub fn append(&self, record: Record) -> Result<u64, LedgerError> {
        let mut inner = self.lock();
        let entry = Entry {
            seq: inner.next_seq,
            ts: now_rfc3339(),
            record,
        };
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        inner.file.write_all(&line).map_err(io_err(&self.path))?;
        inner.file.sync_data().map_err(io_err(&self.path))?;
        inner.next_seq += 1;
        let seq = entry.seq;
        inner.journal.valid_len += line.len() as u64;
        inner.journal.entries.push(entry);
        Ok(seq)
    }

    /// Records that a resource is about to be created. Call BEFORE the create request, and do not
    /// send the request if this fails: a resource the journal does not know could leak.
    pub fn intent(
        &self,
        kind: ResourceKind,
        name: &str,
        tags: Tags,
    ) -> Result<IntentId, LedgerError> {
        self.append(Record::Intent {
            kind,
            name: name.to_owned(),
            tags,
        })
        .map(IntentId)
    }

    fn check_intent(&self, id: IntentId) -> Result<(), LedgerError> {
        let inner = self.lock();
        let known = inner
            .journal
            .entries
            .iter()
            .any(|e| e.seq == id.0 && matches!(e.record, Record::Intent { .. }));
        if known {
            Ok(())
        } else {
            Err(LedgerError::UnknownIntent {
                build: self.build_id.clone(),
                seq: id.0,
            })
        }
    }

    /// Records the cloud id of a created resource, as soon as it is known.
    pub fn created(&self, id: IntentId, cloud_id: &str) -> Result<(), LedgerError> {
        self.check_intent(id)?;
        self.append(Record::Created {
            intent_seq: id.0,
            id: cloud_id.to_owned(),
        })
        .map(drop)
    }

    /// Records that cleanup removed the resource.
    pub fn deleted(&self, id: IntentId) -> Result<(), LedgerError> {
        self.check_intent(id)?;
        self.append(Record::Deleted { intent_seq: id.0 }).map(drop)
    }

    /// Records that the resource stays on purpose (the final image).
    pub fn kept(&self, id: IntentId, why: &str) -> Result<(), LedgerError> {
        self.check_intent(id)?;
        self.append(Record::Kept {
            intent_seq: id.0,
            why: why.to_owned(),
        })
        .map(drop)
    }

    /// Records that the resource was looked for and does not exist.
    pub fn absent(&self, id: IntentId) -> Result<(), LedgerError> {
        self.check_intent(id)?;
        self.append(Record::Absent { intent_seq: id.0 }).map(drop)
    }

    pub fn step_started(&self, step: &str) -> Result<(), LedgerError> {
        self.append(Record::StepStarted {
            step: step.to_owned(),
        })
        .map(drop)
    }

    pub fn step_finished(
        &self,
        step: &str,
        status: &str,
        elapsed_ms: u64,
    ) -> Result<(), LedgerError> {
        self.append(Record::StepFinished {
            step: step.to_owned(),
            status: status.to_owned(),
            elapsed_ms,
        })
        .map(drop)
    }

    pub fn finished(
        &self,
        status: FinishStatus,
        artifact_ids: Vec<String>,
    ) -> Result<(), LedgerError> {
        self.append(Record::BuildFinished {
            status,
            artifact_ids,
        })
        .map(drop)
    }

    /// Resources still to be cleaned up, newest first.
    pub fn outstanding(&self) -> Vec<Outstanding> {
        self.lock().journal.outstanding()
    }

    /// A copy of the journal as written so far.
    pub fn journal(&self) -> Journal {
        self.lock().journal.clone()
    }
}

/// Status of a build as `list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
    /// Not finished and no process holds its ledger (the process died or dropped it).
    Crashed,
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Crashed => "crashed",
        })
    }
}

/// One line of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildSummary {
    pub id: String,
    pub started: Option<String>,
    pub status: BuildStatus,
    pub template: Option<String>,
    pub pid: Option<u32>,
    pub outstanding: usize,
    /// Unreadable lines in the journal (0 normally).
    pub corrupt_lines: usize,
    /// What the build delivered (image ids), once it ended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
}

/// Whether a process with this pid exists on this machine.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Every build under `root`, oldest first (build ids sort by time). An unfinished build is
/// running while some process holds its ledger, and crashed otherwise.
pub fn list_builds(root: &Path) -> Result<Vec<BuildSummary>, LedgerError> {
    list_builds_with(root, pid_alive)
}

/// [`list_builds`] with an injected pid liveness check, used only when the journal's lock
/// state cannot be learnt.
pub fn list_builds_with(
    root: &Path,
    alive: impl Fn(u32) -> bool,
) -> Result<Vec<BuildSummary>, LedgerError> {
    let builds = root.join("builds");
    let rd = match fs::read_dir(&builds) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(LedgerError::Io {
                path: builds,
                source: e,
            });
        }
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(io_err(&builds))?;
        let id = ent.file_name().to_string_lossy().into_owned();
        let path = ent.path().join(JOURNAL_FILE);
        let journal = match Journal::read(&path) {
            Ok(j) => j,
            Err(LedgerError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let header = journal.header();
        let pid = header.map(|h| h.pid);
        let status = match journal.finished() {
            Some(FinishStatus::Succeeded) => BuildStatus::Succeeded,
            Some(FinishStatus::Failed) => BuildStatus::Failed,
            Some(FinishStatus::Interrupted) => BuildStatus::Interrupted,
            None => match journal_locked(&path) {
                Some(true) => BuildStatus::Running,
                Some(false) => BuildStatus::Crashed,
                // Lock state unknown (e.g. a file system without flock): fall back to the pid.
                None if pid.is_some_and(&alive) => BuildStatus::Running,
                None => BuildStatus::Crashed,
            },
        };
        out.push(BuildSummary {
            id,
            started: journal.started().map(str::to_owned),
            status,
            template: header.map(|h| h.template.clone()),
            pid,
            outstanding: journal.outstanding().len(),
            corrupt_lines: journal.corrupt.len(),
            artifacts: journal.artifact_ids().to_vec(),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Removes cloud resources for [`Cleanup`]. `delete` must treat "already gone" as success and
/// wait (with a timeout) until the resource is really gone, so dependants can go next.
pub trait ResourceRemover {
    type Error: fmt::Display;

    /// Finds a resource we created by its unique name (and tags); `Ok(None)` if none exists.
    fn find_by_name(
        &self,
        kind: &ResourceKind,
        name: &str,
        tags: &Tags,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    fn delete(
        &self,
        kind: &ResourceKind,
        id: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Which part of cleanup failed for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupStage {
    Find,
    Delete,
    Record,
}

/// A resource cleanup could not remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupFailure {
    pub resource: Outstanding,
    pub stage: CleanupStage,
    pub error: String,
}

/// What a cleanup run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Deleted resources with the id that was deleted.
    pub deleted: Vec<(Outstanding, String)>,
    /// Intents with no id whose name matched nothing: nothing was created.
    pub absent: Vec<Outstanding>,
    pub failed: Vec<CleanupFailure>,
}

impl CleanupReport {
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Walks a ledger's outstanding resources newest first and removes them, recording each removal.
/// It keeps going after a failure and reports every one.
pub struct Cleanup;

impl Cleanup {
    pub async fn run<R: ResourceRemover>(ledger: &Ledger, remover: &R) -> CleanupReport {
        let mut report = CleanupReport::default();
        for res in ledger.outstanding() {
            let fail = |stage, error: String, res: &Outstanding| CleanupFailure {
                resource: res.clone(),
                stage,
                error,
            };
            let id = match &res.cloud_id {
                Some(id) => id.clone(),
                None => match remover.find_by_name(&res.kind, &res.name, &res.tags).await {
                    Ok(Some(id)) => {
                        // Record the found id so a second run does not have to search again.
                        if let Err(e) = ledger.created(res.intent, &id) {
                            report
                                .failed
                                .push(fail(CleanupStage::Record, e.to_string(), &res));
                            continue;
                        }
                        id
                    }
                    Ok(None) => {
                        match ledger.absent(res.intent) {
                            Ok(()) => report.absent.push(res),
                            Err(e) => {
                                report
                                    .failed
                                    .push(fail(CleanupStage::Record, e.to_string(), &res))
                            }
                        }
                        continue;
                    }
                    Err(e) => {
                        report
                            .failed
                            .push(fail(CleanupStage::Find, e.to_string(), &res));
                        continue;
                    }
                },
            };
            match remover.delete(&res.kind, &id).await {
                Ok(()) => match ledger.deleted(res.intent) {
                    Ok(()) => report.deleted.push((res, id)),
                    Err(e) => report
                        .failed
                        .push(fail(CleanupStage::Record, e.to_string(), &res)),
                },
                Err(e) => report
                    .failed
                    .push(fail(CleanupStage::Delete, e.to_string(), &res)),
            }
        }
        report
    }
}

/// The in-process undo list of a running build. It holds no state of its own: the journal is the
/// undo log, so the same entries are walked whether cleanup runs in this process at the end of a
/// build or in a later `cleanup` after a crash. Cleanup is explicit ([`CleanupStack::run_cleanup`]),
/// never on drop, because it is async and can fail.
pub struct CleanupStack<'a> {
    ledger: &'a Ledger,
}

impl<'a> CleanupStack<'a> {
    pub fn new(ledger: &'a Ledger) -> Self {
        Self { ledger }
    }

    /// Records the intent to create a resource (before the create call); pushes it on the stack.
    pub fn push(
        &self,
        kind: ResourceKind,
        name: &str,
        tags: Tags,
    ) -> Result<IntentId, LedgerError> {
        self.ledger.intent(kind, name, tags)
    }

    /// Records the id of a pushed resource.
    pub fn created(&self, id: IntentId, cloud_id: &str) -> Result<(), LedgerError> {
        self.ledger.created(id, cloud_id)
    }

    /// Takes a resource off the stack because it is the build's result.
    pub fn keep(&self, id: IntentId, why: &str) -> Result<(), LedgerError> {
        self.ledger.kept(id, why)
    }

    /// What `run_cleanup` would remove, in order.
    pub fn pending(&self) -> Vec<Outstanding> {
        self.ledger.outstanding()
    }

    pub async fn run_cleanup<R: ResourceRemover>(&self, remover: &R) -> CleanupReport {
        Cleanup::run(self.ledger, remover).await
    }
}

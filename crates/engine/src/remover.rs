//! The way back from a build: [`CloudRemover`] implements the ledger's [`ResourceRemover`] over
//! the [`Cloud`] trait, so [`crate::ledger::Cleanup`] can remove what a killed or failed build
//! left, and [`sweep`] finds what never reached the journal by the names and tags we give.
//!
//! Every delete tolerates "already gone" and waits (with the build's timeouts) until the resource
//! is really gone, so its dependants can go next. An image is only ever found by the build tag,
//! never by name alone: a user's own image may share the name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cce_cloud::cloud::Leftover;
use cce_cloud::{Cloud, CloudError, Findable, Waits};

use crate::ledger::{BUILD_TAG, Journal, NAME_PREFIX, Record, ResourceKind, Tags, short_id};

/// Why a resource could not be found or removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("cannot {action} {kind} {what}: {source}")]
    Cloud {
        action: &'static str,
        kind: ResourceKind,
        what: String,
        source: CloudError,
    },
    #[error(
        "{} {kind}s are named {name} ({}): a name this tool gives is unique per build, so one may not be ours; check them in the console and delete the right one by hand",
        ids.len(),
        ids.join(", ")
    )]
    Ambiguous {
        kind: ResourceKind,
        name: String,
        ids: Vec<String>,
    },
    #[error(
        "image {name} carries no {BUILD_TAG} tag in the journal, so it cannot be told from a user's image of the same name; check the private images named {name} in the console and delete ours by hand"
    )]
    UntaggedImage { name: String },
    #[error("{kind} {what} cannot be removed by this tool; remove it by hand: {advice}")]
    Manual {
        kind: ResourceKind,
        what: String,
        advice: &'static str,
    },
}

/// What to remove by hand for a kind the remover does not handle.
fn manual_advice(kind: &ResourceKind) -> &'static str {
    match kind {
        ResourceKind::SecurityGroup => {
            "delete the security group in the console (VPC > Access Control > Security Groups) once no server uses it"
        }
        ResourceKind::SecurityGroupRule => {
            "delete the rule from its security group in the console (VPC > Access Control > Security Groups > Inbound Rules)"
        }
        ResourceKind::Volume => {
            "detach and delete the disk in the console (Elastic Volume Service > Disks)"
        }
        _ => {
            "this version does not know the kind; find it in the console by name and delete it by hand"
        }
    }
}

/// The finder kind of a resource kind, `None` for kinds the remover cannot handle.
pub fn findable(kind: &ResourceKind) -> Option<Findable> {
    Some(match kind {
        ResourceKind::Server => Findable::Server,
        ResourceKind::Keypair => Findable::Keypair,
        ResourceKind::Eip => Findable::Eip,
        ResourceKind::Vpc => Findable::Vpc,
        ResourceKind::Subnet => Findable::Subnet,
        ResourceKind::Image => Findable::Image,
        _ => return None,
    })
}

/// Removes build resources through a [`Cloud`] (the real one or the local one).
#[derive(Clone)]
pub struct CloudRemover {
    pub cloud: Arc<dyn Cloud>,
    pub waits: Waits,
}

impl CloudRemover {
    pub fn new(cloud: Arc<dyn Cloud>, waits: Waits) -> CloudRemover {
        CloudRemover { cloud, waits }
    }

    async fn find(
        &self,
        kind: &ResourceKind,
        name: &str,
        tags: &Tags,
    ) -> Result<Option<String>, RemoveError> {
        let Some(finder) = findable(kind) else {
            return Err(RemoveError::Manual {
                kind: kind.clone(),
                what: name.to_owned(),
                advice: manual_advice(kind),
            });
        };
        if finder == Findable::Image && !tags.contains_key(BUILD_TAG) {
            return Err(RemoveError::UntaggedImage {
                name: name.to_owned(),
            });
        }
        // Only images are matched by tags: other kinds carry the build tag in their name.
        let empty = Tags::new();
        let tags = if finder == Findable::Image {
            tags
        } else {
            &empty
        };
        let mut ids = self
            .cloud
            .find_by_name(finder, name, tags)
            .await
            .map_err(|source| RemoveError::Cloud {
                action: "look up",
                kind: kind.clone(),
                what: name.to_owned(),
                source,
            })?;
        match ids.len() {
            0 => Ok(None),
            1 => Ok(ids.pop()),
            _ => Err(RemoveError::Ambiguous {
                kind: kind.clone(),
                name: name.to_owned(),
                ids,
            }),
        }
    }

    async fn remove(&self, kind: &ResourceKind, id: &str) -> Result<(), RemoveError> {
        let cloud = &self.cloud;
        let failed = |source: CloudError| RemoveError::Cloud {
            action: "delete",
            kind: kind.clone(),
            what: id.to_owned(),
            source,
        };
        match kind {
            ResourceKind::Server => cloud.delete_server(id, &self.waits.server).await,
            ResourceKind::Keypair => cloud.delete_keypair(id).await,
            ResourceKind::Eip => cloud.delete_eip(id).await,
            ResourceKind::Subnet => {
                // The delete call needs the VPC id, which only the subnet itself knows.
                let vpc_id = match cloud.show_subnet(id).await {
                    Ok(s) => s.vpc_id,
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(failed(e)),
                };
                cloud.delete_subnet(&vpc_id, id, &self.waits.network).await
            }
            ResourceKind::Vpc => cloud.delete_vpc(id, &self.waits.network).await,
            ResourceKind::Image => cloud.delete_image(id).await,
            other => {
                return Err(RemoveError::Manual {
                    kind: other.clone(),
                    what: id.to_owned(),
                    advice: manual_advice(other),
                });
            }
        }
        .map_err(failed)
    }
}

impl crate::ledger::ResourceRemover for CloudRemover {
    type Error = RemoveError;

    fn find_by_name(
        &self,
        kind: &ResourceKind,
        name: &str,
        tags: &Tags,
    ) -> impl Future<Output = Result<Option<String>, RemoveError>> + Send {
        self.find(kind, name, tags)
    }

    fn delete(
        &self,
        kind: &ResourceKind,
        id: &str,
    ) -> impl Future<Output = Result<(), RemoveError>> + Send {
        self.remove(kind, id)
    }
}

/// The kinds the sweep looks for, in the order they must go (a server before the key pair and
/// EIP it used, subnets before their VPC; images last, since a server may still be captured).
pub const SWEEP_ORDER: [ResourceKind; 6] = [
    ResourceKind::Server,
    ResourceKind::Keypair,
    ResourceKind::Eip,
    ResourceKind::Image,
    ResourceKind::Subnet,
    ResourceKind::Vpc,
];

/// The name prefix of every resource of a build: `cce-ib-<short id>-`.
pub fn name_prefix(build_id: &str) -> String {
    format!("{NAME_PREFIX}{}-", short_id(build_id))
}

/// A live resource of a build that the journal does not account for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stray {
    pub kind: ResourceKind,
    pub id: String,
    pub name: String,
}

/// What the sweep must leave alone: resources the journal still accounts for (outstanding ones
/// are the journal walk's business, kept ones stay), by id, and kept intents whose id was never
/// recorded, by name. Resources the journal calls deleted or absent are fair game if they show up.
#[derive(Debug, Default)]
struct Known {
    ids: BTreeSet<(String, String)>,
    kept_names: BTreeSet<(String, String)>,
}

fn known(journal: &Journal) -> Known {
    struct Intent {
        kind: String,
        name: String,
        id: Option<String>,
        kept: bool,
        gone: bool,
    }
    let mut intents: BTreeMap<u64, Intent> = BTreeMap::new();
    for e in &journal.entries {
        match &e.record {
            Record::Intent { kind, name, .. } => {
                intents.insert(
                    e.seq,
                    Intent {
                        kind: kind.as_str().to_owned(),
                        name: name.clone(),
                        id: None,
                        kept: false,
                        gone: false,
                    },
                );
            }
            Record::Created { intent_seq, id } => {
                if let Some(i) = intents.get_mut(intent_seq) {
                    i.id = Some(id.clone());
                }
            }
            Record::Kept { intent_seq, .. } => {
                if let Some(i) = intents.get_mut(intent_seq) {
                    i.kept = true;
                }
            }
            Record::Deleted { intent_seq } | Record::Absent { intent_seq } => {
                if let Some(i) = intents.get_mut(intent_seq) {
                    i.gone = true;
                }
            }
            _ => {}
        }
    }
    let mut out = Known::default();
    for i in intents.into_values() {
        match (&i.id, i.kept, i.gone) {
            (Some(id), true, _) | (Some(id), _, false) => {
                out.ids.insert((i.kind, id.clone()));
            }
            (None, true, _) => {
                out.kept_names.insert((i.kind, i.name));
            }
            _ => {}
        }
    }
    out
}

/// Lists live resources of a build that the journal does not know: named with the build's prefix
/// or carrying its build tag. Resources the journal still accounts for are left to the journal
/// walk, and resources it kept are never returned. Returns the strays in [`SWEEP_ORDER`] and the listing
/// errors, one per kind that could not be listed.
pub async fn sweep(
    cloud: &dyn Cloud,
    build_id: &str,
    journal: &Journal,
) -> (Vec<Stray>, Vec<(ResourceKind, CloudError)>) {
    let prefix = name_prefix(build_id);
    let known = known(journal);
    let mut strays = Vec::new();
    let mut errors = Vec::new();
    for kind in SWEEP_ORDER {
        let Some(finder) = findable(&kind) else {
            continue;
        };
        match cloud
            .list_leftovers(finder, &prefix, (BUILD_TAG, build_id))
            .await
        {
            Ok(found) => {
                for Leftover { id, name } in found {
                    let k = (kind.as_str().to_owned(), id.clone());
                    let kept_by_name = known
                        .kept_names
                        .contains(&(kind.as_str().to_owned(), name.clone()));
                    if known.ids.contains(&k) || kept_by_name {
                        continue;
                    }
                    strays.push(Stray {
                        kind: kind.clone(),
                        id,
                        name,
                    });
                }
            }
            Err(e) => errors.push((kind, e)),
        }
    }
    (strays, errors)
}

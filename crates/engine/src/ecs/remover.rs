//! Removal of an ECS build's resources for its end-of-build cleanup: each journaled kind maps
//! to its `Findable` (for intents whose id was never learnt) and its delete call, waiting until
//! the resource is gone so that what depends on it can go next.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_cloud::{Cloud, Findable, Waits};

use crate::ledger::{ResourceKind, ResourceRemover, Tags};

/// Removes this build's resources through the cloud (the `cleanup` command has its own).
pub(super) struct EcsRemover {
    pub(super) cloud: Arc<dyn Cloud>,
    pub(super) waits: Waits,
    /// Subnet id → VPC id of subnets this build made (a subnet is deleted through its VPC).
    pub(super) subnet_vpcs: Arc<Mutex<HashMap<String, String>>>,
}

fn findable(kind: &ResourceKind) -> Option<Findable> {
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

impl ResourceRemover for EcsRemover {
    type Error = String;

    fn find_by_name(
        &self,
        kind: &ResourceKind,
        name: &str,
        tags: &Tags,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send {
        let cloud = Arc::clone(&self.cloud);
        let (kind, name, tags) = (kind.clone(), name.to_string(), tags.clone());
        async move {
            let Some(f) = findable(&kind) else {
                return Err(format!("cannot look up a {kind} by name"));
            };
            let wanted = if f == Findable::Image {
                tags
            } else {
                BTreeMap::new()
            };
            let ids = cloud
                .find_by_name(f, &name, &wanted)
                .await
                .map_err(|e| e.to_string())?;
            Ok(ids.into_iter().next())
        }
    }

    fn delete(
        &self,
        kind: &ResourceKind,
        id: &str,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let cloud = Arc::clone(&self.cloud);
        let waits = self.waits.clone();
        let subnet_vpcs = Arc::clone(&self.subnet_vpcs);
        let (kind, id) = (kind.clone(), id.to_string());
        async move {
            let r = match kind {
                ResourceKind::Server => cloud.delete_server(&id, &waits.server).await,
                ResourceKind::Keypair => cloud.delete_keypair(&id).await,
                ResourceKind::Eip => {
                    // Unbinding from a just-deleted server may lag behind: 409 until it has.
                    return delete_when_settled("eip", &id, waits.eip.timeout, || {
                        cloud.delete_eip(&id)
                    })
                    .await;
                }
                ResourceKind::Vpc => cloud.delete_vpc(&id, &waits.network).await,
                ResourceKind::Image => {
                    // IMS refuses (409) while the image is still being captured.
                    return delete_when_settled("image", &id, waits.image.timeout, || {
                        cloud.delete_image(&id)
                    })
                    .await;
                }
                ResourceKind::Subnet => {
                    let known = subnet_vpcs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&id)
                        .cloned();
                    let vpc = match known {
                        Some(v) => v,
                        None => match cloud.show_subnet(&id).await {
                            Ok(s) => s.vpc_id,
                            Err(e) if e.is_not_found() => return Ok(()),
                            Err(e) => return Err(e.to_string()),
                        },
                    };
                    cloud.delete_subnet(&vpc, &id, &waits.network).await
                }
                other => return Err(format!("cannot delete a {other}")),
            };
            r.map_err(|e| e.to_string())
        }
    }
}

/// Deletes a resource, repeating while the cloud answers 409 (still in use or still being
/// made) until `timeout`: an image whose wait timed out goes on to become active later, an EIP
/// stays bound a moment after its server is gone, and neither may be left behind.
async fn delete_when_settled<F, Fut>(
    what: &str,
    id: &str,
    timeout: Duration,
    mut delete: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), cce_cloud::CloudError>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    loop {
        match delete().await {
            Ok(()) => return Ok(()),
            Err(e) if e.api().is_some_and(|a| a.status == 409) && Instant::now() < deadline => {
                tracing::debug!(what, id, error = %e, "not deletable yet; waiting");
            }
            Err(e) => return Err(e.to_string()),
        }
        // Jittered, so several builds cleaning up at once do not poll in step.
        let jitter = Duration::from_millis(rand::random_range(0..=pause.as_millis() as u64 / 2));
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep((pause + jitter).min(left)).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

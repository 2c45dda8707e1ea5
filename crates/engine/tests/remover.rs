//! `CloudRemover` and the sweep through the real path: a local cloud in-process, reached over
//! signed HTTP by `cce_cloud::Client`; resources made by their unique names, a journal written as a
//! crashed build leaves it, then `Cleanup::run` and a check by listing that everything is gone.

mod common;

use std::sync::Arc;

use cce_cloud::models::{
    EipCreate, ImageCreate, ImageQuery, NicSpec, RootVolume, ServerCreate, SubnetCreate, Tag,
    VpcCreate,
};
use cce_cloud::{Client, Cloud, Findable, Waits};
use cce_engine::ledger::{
    self, BUILD_TAG, BuildHeader, Cleanup, Ledger, ResourceKind, ResourceRemover, Tags,
};
use cce_engine::remover::{self, CloudRemover, RemoveError};
use cce_localcloud::{Config, LocalCloud, LocalCloudHandle};

const GOLD: &str = "Debian 12 (local sandbox rootfs)";

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    handle: LocalCloudHandle,
    cloud: Arc<dyn Cloud>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let handle = LocalCloud::start(Config::new(dir.path().join("cloud")))
        .await
        .expect("local cloud starts");
    let cloud: Arc<dyn Cloud> = Arc::new(common::client(&handle));
    Fixture {
        root: dir.path().join("state"),
        _dir: dir,
        handle,
        cloud,
    }
}

fn header() -> BuildHeader {
    common::local_header(None)
}

fn remover(cloud: &Arc<dyn Cloud>) -> CloudRemover {
    CloudRemover::new(cloud.clone(), Waits::default())
}

async fn gold_image(cloud: &dyn Cloud) -> String {
    let q = ImageQuery {
        name: Some(GOLD.into()),
        image_type: Some("gold".into()),
        ..Default::default()
    };
    cloud.list_images(&q).await.unwrap()[0].id.clone()
}

/// Creates a VPC named `name` on `cidr`; returns its id.
async fn new_vpc(cloud: &dyn Cloud, name: &str, cidr: &str) -> String {
    cloud
        .create_vpc(
            &VpcCreate {
                name: name.into(),
                cidr: cidr.into(),
                ..Default::default()
            },
            &Waits::default().network,
        )
        .await
        .unwrap()
        .id
}

/// Creates a VPC and a subnet in it; returns (vpc id, subnet id).
async fn network(
    cloud: &dyn Cloud,
    vpc_name: &str,
    subnet: &str,
    third_octet: u8,
) -> (String, String) {
    let w = Waits::default();
    let vpc_id = new_vpc(cloud, vpc_name, &format!("10.{third_octet}.0.0/16")).await;
    let s = cloud
        .create_subnet(
            &SubnetCreate {
                name: subnet.into(),
                cidr: format!("10.{third_octet}.1.0/24"),
                gateway_ip: format!("10.{third_octet}.1.1"),
                vpc_id: vpc_id.clone(),
                ..Default::default()
            },
            &w.network,
        )
        .await
        .unwrap();
    (vpc_id, s.id)
}

async fn server(cloud: &dyn Cloud, name: &str, vpc: &str, subnet: &str, key: &str) -> String {
    tagged_server(cloud, name, vpc, subnet, key, &Tags::new()).await
}

async fn tagged_server(
    cloud: &dyn Cloud,
    name: &str,
    vpc: &str,
    subnet: &str,
    key: &str,
    tags: &Tags,
) -> String {
    let body = ServerCreate {
        server_tags: tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        name: name.into(),
        image_ref: gold_image(cloud).await,
        flavor_ref: "s7n.large.2".into(),
        vpcid: vpc.into(),
        nics: vec![NicSpec {
            subnet_id: subnet.into(),
            ip_address: None,
        }],
        availability_zone: Some("ru-moscow-1a".into()),
        root_volume: RootVolume {
            volumetype: "SSD".into(),
            size: Some(40),
        },
        key_name: Some(key.into()),
        ..Default::default()
    };
    cloud
        .create_server(&body, &Waits::default().server)
        .await
        .unwrap()
        .id
}

async fn image(cloud: &dyn Cloud, name: &str, server: &str, tags: &Tags) -> String {
    let req = ImageCreate {
        name: name.into(),
        instance_id: server.into(),
        image_tags: tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        ..Default::default()
    };
    cloud
        .create_image(&req, &Waits::default().image)
        .await
        .unwrap()
}

/// What a build leaves when none of it reached the journal: its keypair, a network whose
/// CIDRs hold `third_octet`, an EIP and a stopped server, all under the build's names. Gives
/// the VPC, subnet, EIP and server ids.
async fn unjournaled_build(
    cloud: &dyn Cloud,
    id: &str,
    third_octet: u8,
) -> (String, String, String, String) {
    let name = |k: ResourceKind| ledger::resource_name(id, &k);
    cloud
        .create_keypair(&name(ResourceKind::Keypair), None)
        .await
        .unwrap();
    let (vpc, subnet) = network(
        cloud,
        &name(ResourceKind::Vpc),
        &name(ResourceKind::Subnet),
        third_octet,
    )
    .await;
    let eip = cloud
        .create_eip(
            &EipCreate::new(&name(ResourceKind::Eip), 5),
            &Waits::default().eip,
        )
        .await
        .unwrap();
    let srv = server(
        cloud,
        &name(ResourceKind::Server),
        &vpc,
        &subnet,
        &name(ResourceKind::Keypair),
    )
    .await;
    cloud
        .stop_server(&srv, &Waits::default().server)
        .await
        .unwrap();
    (vpc, subnet, eip.id, srv)
}

async fn live_keypairs(f: &Fixture) -> Vec<String> {
    let c = client_of(f);
    c.list_keypairs()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect()
}

fn client_of(f: &Fixture) -> Client {
    common::client(&f.handle)
}

#[tokio::test]
async fn cleanup_removes_every_kind_after_a_crash_and_spares_a_users_image() {
    let f = fixture().await;
    let cloud = f.cloud.as_ref();
    let id = ledger::new_build_id();
    let tags = ledger::build_tags(&id);
    let name = |k: ResourceKind| ledger::resource_name(&id, &k);
    let ledger = Ledger::create(&f.root, &id, header()).unwrap();

    // The build's steps, journaled as the builder does: intent first, id once known. Some ids
    // never reached the journal, as when the process is killed right after the create call.
    let kp = ledger
        .intent(
            ResourceKind::Keypair,
            &name(ResourceKind::Keypair),
            Tags::new(),
        )
        .unwrap();
    cloud
        .create_keypair(&name(ResourceKind::Keypair), None)
        .await
        .unwrap();
    ledger.created(kp, &name(ResourceKind::Keypair)).unwrap();

    let vpc_i = ledger
        .intent(ResourceKind::Vpc, &name(ResourceKind::Vpc), Tags::new())
        .unwrap();
    let vpc = new_vpc(cloud, &name(ResourceKind::Vpc), "10.7.0.0/16").await;
    ledger.created(vpc_i, &vpc).unwrap();
    // The subnet's id was lost.
    ledger
        .intent(
            ResourceKind::Subnet,
            &name(ResourceKind::Subnet),
            Tags::new(),
        )
        .unwrap();
    let subnet = cloud
        .create_subnet(
            &SubnetCreate {
                name: name(ResourceKind::Subnet),
                cidr: "10.7.1.0/24".into(),
                gateway_ip: "10.7.1.1".into(),
                vpc_id: vpc.clone(),
                ..Default::default()
            },
            &Waits::default().network,
        )
        .await
        .unwrap()
        .id;

    let _eip_i = ledger
        .intent(ResourceKind::Eip, &name(ResourceKind::Eip), Tags::new())
        .unwrap();
    let eip = cloud
        .create_eip(
            &EipCreate::new(&name(ResourceKind::Eip), 5),
            &Waits::default().eip,
        )
        .await
        .unwrap();

    let srv_i = ledger
        .intent(
            ResourceKind::Server,
            &name(ResourceKind::Server),
            tags.clone(),
        )
        .unwrap();
    let srv = server(
        cloud,
        &name(ResourceKind::Server),
        &vpc,
        &subnet,
        &name(ResourceKind::Keypair),
    )
    .await;
    ledger.created(srv_i, &srv).unwrap();
    cloud
        .stop_server(&srv, &Waits::default().server)
        .await
        .unwrap();

    // A user's image with the very name ours gets, but without the build tag.
    let users = image(cloud, &name(ResourceKind::Image), &srv, &Tags::new()).await;
    let _img_i = ledger
        .intent(
            ResourceKind::Image,
            &name(ResourceKind::Image),
            tags.clone(),
        )
        .unwrap();
    let ours = image(cloud, &name(ResourceKind::Image), &srv, &tags).await;
    // A second key pair the build meant to make but never did.
    let never = format!("{}-2", name(ResourceKind::Keypair));
    ledger
        .intent(ResourceKind::Keypair, &never, Tags::new())
        .unwrap();

    let report = Cleanup::run(&ledger, &remover(&f.cloud)).await;
    assert!(report.is_clean(), "{:?}", report.failed);
    let mut deleted: Vec<(String, String)> = report
        .deleted
        .iter()
        .map(|(o, i)| (o.kind.to_string(), i.clone()))
        .collect();
    deleted.sort();
    let mut want = vec![
        ("image".to_string(), ours.clone()),
        ("keypair".into(), name(ResourceKind::Keypair)),
        ("vpc".into(), vpc.clone()),
        ("subnet".into(), subnet.clone()),
        ("eip".into(), eip.id.clone()),
        ("server".into(), srv.clone()),
    ];
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(
        report
            .absent
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        [never.as_str()]
    );
    assert!(ledger.outstanding().is_empty());

    // Checked by listing, not by trusting the report.
    assert!(cloud.show_server(&srv).await.unwrap().is_none());
    assert!(
        !live_keypairs(&f)
            .await
            .contains(&name(ResourceKind::Keypair))
    );
    assert!(
        cloud
            .list_eips()
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != eip.id)
    );
    let c = client_of(&f);
    assert!(c.list_vpcs().await.unwrap().iter().all(|v| v.id != vpc));
    assert!(
        c.list_subnets(None)
            .await
            .unwrap()
            .iter()
            .all(|s| s.id != subnet)
    );
    assert!(cloud.show_image(&ours).await.unwrap().is_none());
    let survivor = cloud
        .show_image(&users)
        .await
        .unwrap()
        .expect("the user's image survives");
    assert_eq!(survivor.name, name(ResourceKind::Image));

    // A second run has nothing to do, and the sweep finds nothing of this build.
    let again = Cleanup::run(&ledger, &remover(&f.cloud)).await;
    assert_eq!(again, Default::default());
    let (strays, errors) = remover::sweep(cloud, &id, &ledger.journal()).await;
    assert!(
        strays.is_empty() && errors.is_empty(),
        "{strays:?} {errors:?}"
    );
    f.handle.shutdown().await;
}

#[tokio::test]
async fn find_by_name_maps_each_kind_and_refuses_doubtful_matches() {
    let f = fixture().await;
    let cloud = f.cloud.as_ref();
    let r = remover(&f.cloud);
    let id = ledger::new_build_id();
    let tags = ledger::build_tags(&id);
    let name = |k: ResourceKind| ledger::resource_name(&id, &k);

    let (vpc, subnet, eip, srv) = unjournaled_build(cloud, &id, 8).await;
    let img = image(cloud, &name(ResourceKind::Image), &srv, &tags).await;

    let none = Tags::new();
    let found = |k: ResourceKind| {
        let r = &r;
        let tags = &tags;
        let n = name(k.clone());
        async move { r.find_by_name(&k, &n, tags).await.unwrap() }
    };
    assert_eq!(
        found(ResourceKind::Keypair).await,
        Some(name(ResourceKind::Keypair))
    );
    assert_eq!(found(ResourceKind::Vpc).await, Some(vpc.clone()));
    assert_eq!(found(ResourceKind::Subnet).await, Some(subnet.clone()));
    assert_eq!(found(ResourceKind::Eip).await, Some(eip.clone()));
    assert_eq!(found(ResourceKind::Server).await, Some(srv.clone()));
    assert_eq!(found(ResourceKind::Image).await, Some(img.clone()));
    // A name that exists nowhere.
    assert_eq!(
        r.find_by_name(&ResourceKind::Vpc, "cce-ib-nosuch-vpc", &none)
            .await
            .unwrap(),
        None
    );
    // The ECS name filter matches parts of names: a longer name is not ours.
    assert_eq!(
        r.find_by_name(
            &ResourceKind::Server,
            &format!("{}-x", name(ResourceKind::Server)),
            &none
        )
        .await
        .unwrap(),
        None
    );
    // Another build's tag does not find our image.
    let other = ledger::build_tags("20200101T000000Z-zzzzzz");
    assert_eq!(
        r.find_by_name(&ResourceKind::Image, &name(ResourceKind::Image), &other)
            .await
            .unwrap(),
        None
    );
    // An image is never found by name alone.
    let err = r
        .find_by_name(&ResourceKind::Image, &name(ResourceKind::Image), &none)
        .await
        .unwrap_err();
    assert!(matches!(err, RemoveError::UntaggedImage { .. }), "{err}");
    assert!(err.to_string().contains(BUILD_TAG), "{err}");

    // Two VPCs of one name: an error naming both, never a guess.
    let twin = new_vpc(cloud, &name(ResourceKind::Vpc), "10.9.0.0/16").await;
    let err = r
        .find_by_name(&ResourceKind::Vpc, &name(ResourceKind::Vpc), &none)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&vpc) && msg.contains(&twin) && msg.contains("by hand"),
        "{msg}"
    );

    // Kinds the remover cannot handle say what to remove by hand.
    for kind in [
        ResourceKind::Volume,
        ResourceKind::SecurityGroupRule,
        ResourceKind::Other("nat".into()),
    ] {
        let err = r
            .find_by_name(&kind, "cce-ib-x-vol", &none)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RemoveError::Manual { .. }) && err.to_string().contains("by hand"),
            "{err}"
        );
        let err = r.delete(&kind, "some-id").await.unwrap_err();
        assert!(err.to_string().contains("by hand"), "{err}");
    }
    f.handle.shutdown().await;
}

#[tokio::test]
async fn delete_tolerates_what_is_already_gone() {
    let f = fixture().await;
    let r = remover(&f.cloud);
    let cloud = f.cloud.as_ref();
    let (vpc, subnet) = network(cloud, "cce-ib-gone00-vpc", "cce-ib-gone00-subnet", 10).await;
    r.delete(&ResourceKind::Subnet, &subnet).await.unwrap();
    r.delete(&ResourceKind::Vpc, &vpc).await.unwrap();
    let c = client_of(&f);
    assert!(c.list_vpcs().await.unwrap().iter().all(|v| v.id != vpc));
    // Each kind again, now gone (or never there).
    for (kind, id) in [
        (ResourceKind::Subnet, subnet.as_str()),
        (ResourceKind::Vpc, vpc.as_str()),
        (ResourceKind::Server, "00000000-0000-0000-0000-000000000000"),
        (ResourceKind::Keypair, "cce-ib-gone00-kp"),
        (ResourceKind::Eip, "00000000-0000-0000-0000-000000000001"),
        (ResourceKind::Image, "00000000-0000-0000-0000-000000000002"),
    ] {
        r.delete(&kind, id)
            .await
            .unwrap_or_else(|e| panic!("deleting a gone {kind} failed: {e}"));
    }
    f.handle.shutdown().await;
}

#[tokio::test]
async fn sweep_finds_what_never_reached_the_journal_and_spares_kept_and_foreign() {
    let f = fixture().await;
    let cloud = f.cloud.as_ref();
    let id = ledger::new_build_id();
    let tags = ledger::build_tags(&id);
    let name = |k: ResourceKind| ledger::resource_name(&id, &k);
    let ledger = Ledger::create(&f.root, &id, header()).unwrap();

    // Nothing of these reached the journal.
    let (vpc, subnet, eip, srv) = unjournaled_build(cloud, &id, 11).await;
    // A server and an image of this build under unusual names: found by their tag.
    let renamed = tagged_server(
        cloud,
        "renamed-by-hand",
        &vpc,
        &subnet,
        &name(ResourceKind::Keypair),
        &tags,
    )
    .await;
    let tagged = image(cloud, "renamed-by-hand", &srv, &tags).await;
    // A key pair the journal calls deleted, yet there it is: the sweep takes it again.
    let old_kp = format!("{}-old", name(ResourceKind::Keypair));
    cloud.create_keypair(&old_kp, None).await.unwrap();
    let i = ledger
        .intent(ResourceKind::Keypair, &old_kp, Tags::new())
        .unwrap();
    ledger.created(i, &old_kp).unwrap();
    ledger.deleted(i).unwrap();
    // The build's result, kept in the journal: never swept.
    let kept_i = ledger
        .intent(ResourceKind::Image, "turbo-node-final", tags.clone())
        .unwrap();
    let kept = image(cloud, "turbo-node-final", &srv, &tags).await;
    ledger.created(kept_i, &kept).unwrap();
    ledger.kept(kept_i, "the build's image").unwrap();
    // Another build's resources and a user's image with our prefix but no tag.
    let foreign = ledger::resource_name("20200101T000000Z-zzzzzz", &ResourceKind::Keypair);
    cloud.create_keypair(&foreign, None).await.unwrap();
    let users = image(cloud, &name(ResourceKind::Image), &srv, &Tags::new()).await;

    let (strays, errors) = remover::sweep(cloud, &id, &ledger.journal()).await;
    assert!(errors.is_empty(), "{errors:?}");
    let got: Vec<(String, String)> = strays
        .iter()
        .map(|s| (s.kind.to_string(), s.id.clone()))
        .collect();
    let mut servers = [srv.clone(), renamed.clone()];
    servers.sort();
    assert_eq!(
        got,
        [
            ("server".to_string(), servers[0].clone()),
            ("server".to_string(), servers[1].clone()),
            ("keypair".into(), name(ResourceKind::Keypair)),
            ("keypair".into(), old_kp.clone()),
            ("eip".into(), eip.clone()),
            ("image".into(), tagged.clone()),
            ("subnet".into(), subnet.clone()),
            ("vpc".into(), vpc.clone()),
        ]
    );
    // The sweep order is one cleanup can follow: each delete succeeds in turn.
    let r = remover(&f.cloud);
    for s in &strays {
        r.delete(&s.kind, &s.id).await.unwrap();
    }
    let (strays, errors) = remover::sweep(cloud, &id, &ledger.journal()).await;
    assert!(
        strays.is_empty() && errors.is_empty(),
        "{strays:?} {errors:?}"
    );
    assert!(cloud.show_image(&kept).await.unwrap().is_some());
    assert!(cloud.show_image(&users).await.unwrap().is_some());
    assert!(live_keypairs(&f).await.contains(&foreign));
    assert_eq!(
        cloud
            .find_by_name(Findable::Image, "turbo-node-final", &tags)
            .await
            .unwrap(),
        [kept]
    );
    f.handle.shutdown().await;
}

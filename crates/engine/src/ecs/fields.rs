//! What an ECS build checks and derives from its source before and while it runs: the fields
//! refused up front, the locally generated temporary SSH key, user data encoding, and the image
//! fields the v0.4.0 `properties` filter matches.

use base64::Engine as _;
use cce_cloud::models::Image;
use cce_template::schema::huaweicloud::{DataDiskSource, HuaweiEcsConfig, ImageType};
use serde_json::Value;

/// Fields the build cannot honour yet, each refused with what to do; checked before anything is
/// created. Empty when the source can be built.
pub fn unsupported(cfg: &HuaweiEcsConfig) -> Vec<String> {
    let mut out = Vec::new();
    match cfg.image_type {
        ImageType::System => {}
        other => {
            let name = match other {
                ImageType::DataDisk => "data-disk",
                ImageType::SystemData => "system-data",
                _ => "full-ecs",
            };
            out.push(format!(
                "image_type \"{name}\" is not supported yet: only system-disk images are built; set image_type = \"system\" (data disks are then attached but not captured)"
            ));
        }
    }
    for (i, d) in cfg.data_disks.iter().enumerate() {
        let what = match &d.source {
            DataDiskSource::Size(_) => None,
            DataDiskSource::Image(_) => Some("data_image_id"),
            DataDiskSource::Snapshot(_) => Some("snapshot_id"),
            DataDiskSource::Volume(_) => Some("volume_id"),
        };
        if let Some(field) = what {
            out.push(format!(
                "data_disks[{i}].{field} is not supported yet (it needs the EVS API): give the disk a volume_size instead"
            ));
        }
        if d.kms_key_id.is_some() {
            out.push(format!("data_disks[{i}].kms_key_id is not supported yet: remove it to create an unencrypted disk"));
        }
    }
    if cfg.kms_key_id.is_some() {
        out.push(
            "kms_key_id is not supported yet: remove it to build with an unencrypted system disk"
                .into(),
        );
    }
    if cfg.vault_id.is_some() && cfg.image_type == ImageType::System {
        out.push("vault_id is only used by image_type \"full-ecs\", which is not supported yet: remove vault_id".into());
    }
    if cfg.ssh_ip_version == Some(6) {
        out.push(
            "ssh_ip_version = \"6\" is not supported yet: remove it to connect over IPv4".into(),
        );
    }
    match cfg.communicator.ssh() {
        None => out.push("communicator = \"none\" cannot build an image: the builder provisions over SSH; use communicator = \"ssh\"".into()),
        Some(ssh) if ssh.bastion.is_some() => {
            out.push("ssh_bastion_host is not supported yet by the huaweicloud-ecs builder: connect directly (an EIP or ssh_host)".into())
        }
        Some(_) => {}
    }
    out
}

/// A locally generated SSH keypair; the private key lives only in memory.
pub(super) struct TempKey {
    pub(super) private_openssh: String,
    pub(super) public_openssh: String,
}

pub(super) fn generate_key(comment: &str) -> Result<TempKey, String> {
    use russh::keys::ssh_key::{self, LineEnding, private::Ed25519Keypair};
    let seed: [u8; 32] = rand::random();
    let pair = Ed25519Keypair::from_seed(&seed);
    let key = ssh_key::PrivateKey::new(ssh_key::private::KeypairData::from(pair), comment)
        .map_err(|e| format!("cannot build the temporary ssh key: {e}"))?;
    let private_openssh = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| format!("cannot encode the temporary ssh key: {e}"))?
        .to_string();
    let public_openssh = key
        .public_key()
        .to_openssh()
        .map_err(|e| format!("cannot encode the temporary ssh public key: {e}"))?;
    Ok(TempKey {
        private_openssh,
        public_openssh,
    })
}

/// User data as the API wants it: base64, unless the text already is.
pub(super) fn user_data_b64(text: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let as_text = std::str::from_utf8(text).map(str::trim);
    match as_text {
        Ok(t) if !t.is_empty() && b64.decode(t).is_ok() => t.to_string(),
        _ => b64.encode(text),
    }
}

/// An image field by its API name, for v0.4.0's `properties` filter.
pub(super) fn image_field(image: &Image, key: &str) -> Option<String> {
    let typed = match key {
        "id" => Some(image.id.clone()),
        "name" => Some(image.name.clone()),
        "status" => Some(image.status.clone()),
        "visibility" => image.visibility.clone(),
        "owner" => image.owner.clone(),
        "min_disk" => image.min_disk.map(|n| n.to_string()),
        "__imagetype" => image.image_type.clone(),
        _ => None,
    };
    typed.or_else(|| match image.extra.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// Newest first; images without a creation time last.
pub(super) fn sort_newest_first(images: &mut [Image]) {
    images.sort_by(|a, b| b.created_at.cmp(&a.created_at));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_data_is_encoded_once() {
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(
            user_data_b64(b"#!/bin/sh\necho hi\n"),
            b64.encode("#!/bin/sh\necho hi\n")
        );
        let already = b64.encode("#!/bin/sh\n");
        assert_eq!(user_data_b64(already.as_bytes()), already);
    }

    #[test]
    fn generated_keys_are_openssh_ed25519() {
        let k = generate_key("cce-ib-x-kp").unwrap();
        assert!(
            k.public_openssh.starts_with("ssh-ed25519 ")
                && k.public_openssh.ends_with(" cce-ib-x-kp"),
            "{}",
            k.public_openssh
        );
        assert!(k.private_openssh.contains("BEGIN OPENSSH PRIVATE KEY"));
    }

    #[test]
    fn properties_match_typed_and_extra_fields() {
        let img: Image = serde_json::from_value(
            json!({"id":"i","name":"n","status":"active","__platform":"Debian","min_disk":40}),
        )
        .unwrap();
        assert_eq!(image_field(&img, "__platform").as_deref(), Some("Debian"));
        assert_eq!(image_field(&img, "min_disk").as_deref(), Some("40"));
        assert_eq!(image_field(&img, "nope"), None);
    }
}

//! SSH keypairs for the Nova keypair API: generated ones (ed25519, returned once with their
//! private key in OpenSSH form, as the real API does) and imported public keys.

use russh::keys::ssh_key::{self, HashAlg, LineEnding, private::Ed25519Keypair};

/// A keypair as stored: never the private key.
#[derive(Clone, Debug)]
pub struct Generated {
    pub public_key: String,
    pub private_key: String,
    pub fingerprint: String,
}

/// Generates an ed25519 keypair commented with `name`.
pub fn generate(name: &str) -> Result<Generated, String> {
    let seed: [u8; 32] = rand::random();
    let pair = Ed25519Keypair::from_seed(&seed);
    let key = ssh_key::PrivateKey::new(ssh_key::private::KeypairData::from(pair), name)
        .map_err(|e| format!("cannot build keypair: {e}"))?;
    let private_key = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| format!("cannot encode private key: {e}"))?
        .to_string();
    let public_key = key
        .public_key()
        .to_openssh()
        .map_err(|e| format!("cannot encode public key: {e}"))?;
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    Ok(Generated {
        public_key,
        private_key,
        fingerprint,
    })
}

/// Checks an imported OpenSSH public key and returns its fingerprint.
pub fn fingerprint_of(public_key: &str) -> Result<String, String> {
    let key = ssh_key::PublicKey::from_openssh(public_key.trim())
        .map_err(|e| format!("invalid public key: {e}"))?;
    Ok(key.fingerprint(HashAlg::Sha256).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_parses_back() {
        let g = generate("kp-test").unwrap();
        assert!(
            g.private_key
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        assert!(g.public_key.starts_with("ssh-ed25519 "));
        let parsed = ssh_key::PrivateKey::from_openssh(&g.private_key).unwrap();
        assert_eq!(parsed.public_key().to_openssh().unwrap(), g.public_key);
        assert_eq!(fingerprint_of(&g.public_key).unwrap(), g.fingerprint);
        assert!(fingerprint_of("ssh-rsa notbase64!").is_err());
    }
}

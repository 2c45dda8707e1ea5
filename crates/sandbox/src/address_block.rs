//! Loopback address blocks for local clouds on one host. The addresses a local cloud hands its
//! servers (fixed IPs, EIPs) are host loopback addresses its forwarders listen on, so two local
//! clouds must not hand out the same ones. Block `n` is `127.10.n.0/24` for fixed IPs and
//! `127.100.n.10`… for EIPs; a state directory claims one block and keeps it across restarts.
//!
//! The registry is a folder of the host (`/run/cce-image-builder/address-blocks` by default):
//! `<n>.owner` names the state directory block `n` belongs to, `<n>.lock` is held (`flock`) by
//! the process serving it, and `.registry.lock` serialises claims. A block whose owner's state
//! directory is gone, or no longer names that block, is free again.

use std::fs;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::SandboxError;

/// How many blocks there are (`127.10.0.0/24` … `127.10.255.0/24`).
pub const BLOCK_COUNT: u16 = 256;
/// The file in a state directory that remembers its block.
pub const STATE_FILE: &str = "address-block";
/// The registry when none is given.
pub const DEFAULT_REGISTRY: &str = "/run/cce-image-builder/address-blocks";

/// A claimed block; the claim holds while this value lives (its lock file stays locked).
#[derive(Debug)]
pub struct AddressBlock {
    index: u8,
    _lock: Flock<fs::File>,
}

impl AddressBlock {
    /// `n` of `127.10.n.0/24`.
    pub fn index(&self) -> u8 {
        self.index
    }
}

fn err(what: String) -> SandboxError {
    SandboxError::Command { id: "address-block".into(), command: "claim".into(), stderr: what }
}

/// Claims a block for `state_dir` in `registry`: the one it had before if no other live local
/// cloud holds it, else the lowest free one. Fails when all [`BLOCK_COUNT`] are taken.
pub fn claim(registry: &Path, state_dir: &Path) -> Result<AddressBlock, SandboxError> {
    fs::create_dir_all(registry).map_err(|e| err(format!("cannot create {}: {e}", registry.display())))?;
    fs::create_dir_all(state_dir).map_err(|e| err(format!("cannot create {}: {e}", state_dir.display())))?;
    let me = fs::canonicalize(state_dir).map_err(|e| err(format!("cannot resolve {}: {e}", state_dir.display())))?;
    let registry_lock = fs::File::create(registry.join(".registry.lock"))
        .map_err(|e| err(format!("cannot create the lock in {}: {e}", registry.display())))?;
    // Held while choosing, so that two clouds starting together do not pick the same block.
    let _guard = Flock::lock(registry_lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| err(format!("cannot lock {}: {e}", registry.display())))?;
    let previous = fs::read_to_string(me.join(STATE_FILE)).ok().and_then(|s| s.trim().parse::<u8>().ok());
    let order = previous.into_iter().chain((0..BLOCK_COUNT).map(|n| n as u8));
    for n in order {
        let owner = fs::read_to_string(registry.join(format!("{n}.owner"))).ok().map(|s| PathBuf::from(s.trim()));
        let free = match &owner {
            None => true,
            Some(o) if o == &me => true,
            // The owner moved on to another block, or its state is gone.
            Some(o) => fs::read_to_string(o.join(STATE_FILE)).ok().and_then(|s| s.trim().parse::<u8>().ok()) != Some(n),
        };
        if !free {
            continue;
        }
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(registry.join(format!("{n}.lock")))
            .map_err(|e| err(format!("cannot open {}/{n}.lock: {e}", registry.display())))?;
        let Ok(lock) = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) else {
            // A live local cloud serves this block (its state may have been removed under it).
            continue;
        };
        fs::write(registry.join(format!("{n}.owner")), me.display().to_string())
            .map_err(|e| err(format!("cannot write {}/{n}.owner: {e}", registry.display())))?;
        fs::write(me.join(STATE_FILE), format!("{n}\n"))
            .map_err(|e| err(format!("cannot write {}: {e}", me.join(STATE_FILE).display())))?;
        return Ok(AddressBlock { index: n, _lock: lock });
    }
    Err(err(format!(
        "all {BLOCK_COUNT} loopback address blocks in {} belong to other local clouds' state directories; remove states no longer used",
        registry.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_states_get_two_blocks_and_keep_them() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = tmp.path().join("registry");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let block_a = claim(&registry, &a).unwrap();
        let block_b = claim(&registry, &b).unwrap();
        assert_eq!((block_a.index(), block_b.index()), (0, 1));
        // While `a` runs, a restart of `a` elsewhere cannot take its block.
        let again = claim(&registry, &a).unwrap();
        assert_eq!(again.index(), 2, "a block held by a live process was handed out twice");
        drop(again);
        drop(block_a);
        // `a` moved to 2 and gave it back; it now asks for 2 first and gets it.
        let restarted = claim(&registry, &a).unwrap();
        assert_eq!(restarted.index(), 2);
        drop(restarted);
        // Block 0's owner (`a`) names 2 now, so 0 is free for a new state.
        let c = claim(&registry, &tmp.path().join("c")).unwrap();
        assert_eq!(c.index(), 0);
        // A state directory that is gone frees its block.
        drop(block_b);
        fs::remove_dir_all(&b).unwrap();
        let d = claim(&registry, &tmp.path().join("d")).unwrap();
        assert_eq!(d.index(), 1);
    }
}

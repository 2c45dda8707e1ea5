//! The kernel modules a sandbox may "load". A sandbox runs on the host's kernel and can load no
//! module, but `modprobe` of a module the kernel has built in succeeds on any Linux machine, as
//! it does on a node whose kernel has it. So each boot lists the host kernel's built-in modules
//! where `modprobe` and `modinfo` look (`/lib/modules/<release>/modules.builtin` and
//! `modules.builtin.modinfo`, on a tmpfs inside the sandbox, so a captured image never holds
//! them); a module the host kernel lacks still fails, as it would there.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

/// Common modules of Kubernetes nodes and their kernel config symbols: when the host kernel's
/// config says `=y`, the module is built in even if `/sys/module` does not show it (it shows
/// only built-in modules that have parameters).
const WELL_KNOWN: &[(&str, &str)] = &[
    ("br_netfilter", "BRIDGE_NETFILTER"),
    ("bridge", "BRIDGE"),
    ("overlay", "OVERLAY_FS"),
    ("ip_vs", "IP_VS"),
    ("ip_vs_rr", "IP_VS_RR"),
    ("ip_vs_wrr", "IP_VS_WRR"),
    ("ip_vs_sh", "IP_VS_SH"),
    ("nf_conntrack", "NF_CONNTRACK"),
    ("nf_nat", "NF_NAT"),
    ("ip_tables", "IP_NF_IPTABLES"),
    ("ip6_tables", "IP6_NF_IPTABLES"),
    ("iptable_filter", "IP_NF_FILTER"),
    ("iptable_nat", "IP_NF_NAT"),
    ("iptable_mangle", "IP_NF_MANGLE"),
    ("xt_conntrack", "NETFILTER_XT_MATCH_CONNTRACK"),
    ("xt_MASQUERADE", "NETFILTER_XT_TARGET_MASQUERADE"),
    ("xt_set", "NETFILTER_XT_SET"),
    ("ip_set", "IP_SET"),
    ("vxlan", "VXLAN"),
    ("ipip", "NET_IPIP"),
    ("veth", "VETH"),
    ("tun", "TUN"),
    ("dummy", "DUMMY"),
    ("8021q", "VLAN_8021Q"),
    ("loop", "BLK_DEV_LOOP"),
    ("fuse", "FUSE_FS"),
    ("ext4", "EXT4_FS"),
    ("xfs", "XFS_FS"),
    ("nfs", "NFS_FS"),
    ("sctp", "IP_SCTP"),
    ("wireguard", "WIREGUARD"),
];

/// The host kernel's built-in modules: `modules.builtin` of its release when the host has one,
/// else the modules `/sys/module` shows without an `initstate` (which only loadable ones have),
/// plus the well-known ones its config builds in.
pub fn builtin_modules(root: &Path, release: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let listed = root
        .join("lib/modules")
        .join(release)
        .join("modules.builtin");
    if let Ok(text) = std::fs::read_to_string(&listed) {
        names.extend(text.lines().filter_map(module_name));
        return names;
    }
    if let Ok(entries) = std::fs::read_dir(root.join("sys/module")) {
        for e in entries.flatten() {
            if !e.path().join("initstate").exists() {
                names.insert(e.file_name().to_string_lossy().replace('-', "_"));
            }
        }
    }
    if let Some(config) = kernel_config(root, release) {
        for (module, symbol) in WELL_KNOWN {
            if config.lines().any(|l| l == format!("CONFIG_{symbol}=y")) {
                names.insert((*module).to_string());
            }
        }
    }
    names
}

/// The module name of a `modules.builtin` line (`kernel/net/bridge/br_netfilter.ko`).
fn module_name(line: &str) -> Option<String> {
    let file = line.trim().rsplit('/').next()?;
    let name = file.strip_suffix(".ko").unwrap_or(file);
    (!name.is_empty()).then(|| name.replace('-', "_"))
}

/// The host kernel's config: `/proc/config.gz`, else `/boot/config-<release>`.
fn kernel_config(root: &Path, release: &str) -> Option<String> {
    if let Ok(file) = std::fs::File::open(root.join("proc/config.gz")) {
        let mut text = String::new();
        if flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .is_ok()
        {
            return Some(text);
        }
    }
    std::fs::read_to_string(root.join("boot").join(format!("config-{release}"))).ok()
}

/// `modules.builtin` for `names`, one path per module as the kernel's build writes it.
pub fn builtin_list(names: &BTreeSet<String>) -> String {
    names.iter().map(|n| format!("kernel/{n}.ko\n")).collect()
}

/// `modules.builtin.modinfo` for `names`: NUL-terminated `name.key=value` records, which
/// `modinfo` shows and `depmod` indexes.
pub fn builtin_modinfo(names: &BTreeSet<String>) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        for record in [format!("{n}.file={n}"), format!("{n}.license=GPL")] {
            out.extend_from_slice(record.as_bytes());
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, content: &[u8]) {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    #[test]
    fn a_host_list_is_taken_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "lib/modules/6.1.0/modules.builtin",
            b"kernel/fs/ext4/ext4.ko\nkernel/drivers/md/dm-mod.ko\n",
        );
        write(dir.path(), "sys/module/zswap/parameters/enabled", b"Y");
        let got = builtin_modules(dir.path(), "6.1.0");
        assert_eq!(got.into_iter().collect::<Vec<_>>(), ["dm_mod", "ext4"]);
    }

    #[test]
    fn without_a_list_sysfs_and_the_config_decide() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/module/bridge/parameters/x", b"");
        write(dir.path(), "sys/module/loadable/initstate", b"live");
        write(dir.path(), "boot/config-6.9", b"CONFIG_BRIDGE_NETFILTER=y\nCONFIG_IP_VS=m\nCONFIG_OVERLAY_FS=y\n# CONFIG_VXLAN is not set\n");
        let got = builtin_modules(dir.path(), "6.9");
        assert_eq!(
            got.iter().map(String::as_str).collect::<Vec<_>>(),
            ["br_netfilter", "bridge", "overlay"]
        );
        assert_eq!(
            builtin_list(&got),
            "kernel/br_netfilter.ko\nkernel/bridge.ko\nkernel/overlay.ko\n"
        );
        let info = builtin_modinfo(&got);
        assert!(info.starts_with(b"br_netfilter.file=br_netfilter\0br_netfilter.license=GPL\0"));
        assert_eq!(info.iter().filter(|b| **b == 0).count(), 6);
    }

    #[test]
    fn a_gzipped_proc_config_is_read() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"CONFIG_OVERLAY_FS=y\n").unwrap();
        write(dir.path(), "proc/config.gz", &gz.finish().unwrap());
        assert!(builtin_modules(dir.path(), "x").contains("overlay"));
    }
}

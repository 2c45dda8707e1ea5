//! Boots one sandbox from the cached rootfs and keeps it up for inspection: `boot DIR SECONDS`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let rootfs = cce_sandbox::ensure_debian_rootfs(std::path::Path::new("/var/cache/cce-image-builder"), &cce_sandbox::debian_mirror()).unwrap();
    let mut sb = cce_sandbox::Sandbox::new(cce_sandbox::SandboxSpec {
        id: "dbg".into(),
        hostname: "dbg".into(),
        dir,
        layers: vec![rootfs],
        authorized_keys: None,
        user_data: None,
        admin_pass: None,
        data_disks: Vec::new(),
        boot_timeout: std::time::Duration::from_secs(60),
    });
    let t = std::time::Instant::now();
    match sb.start() {
        Ok(()) => println!("up in {:?}, pid1 {:?}", t.elapsed(), sb.pid1()),
        Err(e) => println!("boot failed: {e}"),
    }
    std::thread::sleep(std::time::Duration::from_secs(secs));
    let _ = sb.delete();
}

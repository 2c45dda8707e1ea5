//! Finding the official Huawei SDK for the tests that hold the local cloud to it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
}

/// The venv's python, or why it cannot be used.
pub fn sdk_python() -> Result<PathBuf, String> {
    let venv = std::env::var_os("CCE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Err(format!(
            "no python in {} (run `make deps` or set CCE_VENV)",
            venv.display()
        ));
    }
    let probe = Command::new(&python)
        .args(["-c", "import huaweicloudsdkcore, huaweicloudsdkecs, huaweicloudsdkims, huaweicloudsdkvpc, huaweicloudsdkeip, huaweicloudsdkiam"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        return Err(format!(
            "the Huawei SDK is not installed in {}: {}",
            venv.display(),
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    Ok(python)
}

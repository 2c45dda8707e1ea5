//! Fuzz target `load_template`: any bytes, written as a `.pkr.hcl` file, must come back from
//! `cce_template::load::load` (and, when they load, from `schema::plan`) as a value or as
//! diagnostics that render, never as a panic or a hang.

#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use cce_template::load::{LoadOptions, load};
use cce_template::schema;
use libfuzzer_sys::fuzz_target;

/// One folder for the whole run: a fresh one per input would make the filesystem the bottleneck.
fn workdir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cce-fuzz-load-{}", std::process::id()));
        // A fuzz run cannot go on without its folder, so failing loudly here is right.
        std::fs::create_dir_all(&dir).expect("create the fuzz work folder");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = workdir();
    let path = dir.join("fuzz.pkr.hcl");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    // No -var, no var files, an empty environment; fields added later keep their defaults.
    let opts = LoadOptions { path, env: BTreeMap::new(), cwd: dir.clone(), ..LoadOptions::default() };
    match load(&opts) {
        Ok(loaded) => {
            let (_plan, diagnostics) = schema::plan(&loaded.blocks);
            let _ = diagnostics.render(&loaded.sources);
            let _ = loaded.warnings.render(&loaded.sources);
        }
        Err(err) => {
            let _ = err.diagnostics.render(&err.sources);
        }
    }
});

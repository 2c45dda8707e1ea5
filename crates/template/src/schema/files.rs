//! The files a template names must exist before a build starts: provisioner scripts, upload
//! sources and user data files, resolved against the directory the tool runs in, as Packer does.
//! `validate` reports a missing one instead of letting the build fail halfway.

use std::path::Path;

use super::build::Build;
use super::fields::Deferrable;
use super::provisioners::{Direction, Provisioner, ProvisionerKind};
use super::{BuildPlan, SourceConfig};
use crate::diag::{Diagnostic, Diagnostics};

fn known_list(one: &Option<Deferrable<String>>, many: &Option<Deferrable<Vec<String>>>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Deferrable::Known(s)) = one {
        out.push(s.clone());
    }
    if let Some(Deferrable::Known(v)) = many {
        out.extend(v.iter().cloned());
    }
    out
}

fn check_provisioner(p: &Provisioner, cwd: &Path, diags: &mut Diagnostics) {
    let (what, paths) = match &p.kind {
        ProvisionerKind::Shell(s) => ("script", known_list(&s.script, &s.scripts)),
        ProvisionerKind::ShellLocal(s) => ("script", known_list(&s.script, &s.scripts)),
        ProvisionerKind::File(f) if f.direction == Direction::Upload && !f.generated => ("source", known_list(&f.source, &f.sources)),
        _ => return,
    };
    for path in paths {
        let full = cwd.join(&path);
        // Packer's shell provisioner stats a script; a file provisioner uploads files or folders.
        let exists = if what == "script" { full.is_file() } else { full.exists() };
        if !exists {
            let mut d = Diagnostic::error(format!("bad {what} \"{path}\": no such file"))
                .help(format!("paths are relative to the directory the command runs in ({})", cwd.display()));
            if let Some(span) = p.span {
                d = d.at(span);
            }
            diags.push(d);
        }
    }
}

/// Reports every named file that does not exist, relative to `cwd`.
pub fn check_files(plan: &BuildPlan, cwd: &Path) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let builds: &[Build] = &plan.builds;
    for build in builds {
        for p in build.provisioners.iter().chain(build.error_cleanup_provisioner.iter()) {
            check_provisioner(p, cwd, &mut diags);
        }
        for source in &build.sources {
            if let SourceConfig::HuaweiEcs(cfg) = &source.config {
                if let Some(super::huaweicloud::UserData::File(file)) = &cfg.user_data {
                    if !cwd.join(file).is_file() {
                        diags.push(
                            Diagnostic::error(format!("user_data_file \"{file}\" of source {}: no such file", source.reference()))
                                .help(format!("paths are relative to the directory the command runs in ({})", cwd.display())),
                        );
                    }
                }
            }
        }
    }
    diags
}

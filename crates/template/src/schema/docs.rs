//! Markdown tables generated from the field tables, so that the documentation of every field
//! (`docs/huaweicloud-ecs.md`) comes from the same rows as the checks.

use super::fields::{Field, Req, Support};

/// A markdown table of fields: name, type, required, default, plugin line, meaning.
pub fn fields_table(fields: &[Field]) -> String {
    let mut out = String::from("| field | type | required | default | from | meaning and mapping |\n|---|---|---|---|---|---|\n");
    for f in fields {
        let req = match f.req {
            Req::No => "no",
            Req::Yes => "yes",
            Req::Cloud => "with credentials",
        };
        let meaning = match f.support {
            Support::Yes => f.doc.to_string(),
            Support::Refused(why) => format!("**Refused**: {why}."),
        };
        let default = if f.default.is_empty() { "—".to_string() } else { f.default.to_string() };
        out.push_str(&format!(
            "| `{}` | {} | {req} | {} | {} | {} |\n",
            f.name,
            f.ty.describe(),
            esc(&default),
            f.origin.describe(),
            esc(&meaning)
        ));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The generated part of `docs/huaweicloud-ecs.md`: one table per block.
pub fn huaweicloud_ecs_reference() -> String {
    use super::communicator::COMMUNICATOR_FIELDS;
    use super::huaweicloud::{DATA_DISK_FIELDS, FILTERS_FIELDS, HUAWEI_ECS_FIELDS, SOURCE_IMAGE_FILTER_FIELDS};
    [
        ("### `source \"huaweicloud-ecs\"`", HUAWEI_ECS_FIELDS),
        ("### `source_image_filter { ... }`", SOURCE_IMAGE_FILTER_FIELDS),
        ("### `source_image_filter { filters { ... } }`", FILTERS_FIELDS),
        ("### `data_disks { ... }`", DATA_DISK_FIELDS),
        ("### Communicator (also `source \"null\"`)", COMMUNICATOR_FIELDS),
    ]
    .iter()
    .map(|(title, fields)| format!("{title}\n\n{}", fields_table(fields)))
    .collect::<Vec<_>>()
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- generated fields: begin -->\n";
    const END: &str = "<!-- generated fields: end -->";

    /// The reference in docs/huaweicloud-ecs.md must match the tables; run with
    /// `UPDATE_DOCS=1` to rewrite it.
    #[test]
    fn docs_match_the_field_tables() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/huaweicloud-ecs.md");
        let text = std::fs::read_to_string(path).expect("docs/huaweicloud-ecs.md exists");
        let (head, rest) = text.split_once(BEGIN).expect("begin marker");
        let (_, tail) = rest.split_once(END).expect("end marker");
        let want = format!("{head}{BEGIN}{}{END}{tail}", huaweicloud_ecs_reference());
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).expect("docs are writable");
        } else {
            assert!(text == want, "docs/huaweicloud-ecs.md is out of date: run UPDATE_DOCS=1 cargo test -p cce-template docs_match");
        }
    }

    #[test]
    fn refused_fields_say_so_in_the_table() {
        let t = huaweicloud_ecs_reference();
        assert!(t.contains("| `winrm_password` | string | no | — | communicator | **Refused**: only Linux nodes over SSH are built; use the ssh communicator. |"), "{t}");
        assert!(t.contains("| `ssh_port` | number | no | 22 | communicator |"), "{t}");
    }
}

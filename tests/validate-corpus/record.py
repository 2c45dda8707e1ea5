#!/usr/bin/env python3
"""Records Packer's verdict on every corpus template into corpus.json.

Each entry is run as `packer validate ARGS PATH` from this folder (relative paths in templates,
such as files/hello.sh, are relative to the working directory, as in Packer), with an environment
holding only PATH, HOME and CHECKPOINT_DISABLE=1. Entries under newer/ use features that packer
1.6.6 does not know: their verdict is written by hand as expect_exit, and packer_exit stays null.

Run it again after adding or changing a template: ./record.py (needs packer 1.6.6 on PATH).
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (path, args, note) for templates that packer 1.6.6 judges.
JUDGED = [
    ("minimal.pkr.hcl", [], "smallest valid template: one null source, one build"),
    ("var-types.pkr.hcl", [], "string, number, bool, list, map, object, tuple and untyped variables"),
    ("var-conversion.pkr.hcl", [], "defaults converted to the declared type: \"8080\" to number, \"true\" to bool, 42 to string, numbers in list(string)"),
    ("var-type-mismatch.pkr.hcl", [], "default \"eighty\" cannot become a number"),
    ("var-type-mismatch-list.pkr.hcl", [], "a string default for list(string) is a type mismatch"),
    ("var-validation-ok.pkr.hcl", [], "validation block whose condition holds"),
    ("var-validation-fail.pkr.hcl", [], "validation block whose condition fails: its error_message is reported"),
    ("var-sensitive.pkr.hcl", [], "sensitive variable used in environment_vars"),
    ("var-legacy-variables-block.pkr.hcl", [], "legacy variables { name = default } block"),
    ("var-required-set-by-cli.pkr.hcl", ["-var", "image_id=img-0001"], "variable without default set by -var"),
    ("var-missing-required.pkr.hcl", [], "variable without default never set: unset variable error"),
    ("var-cli-undeclared.pkr.hcl", ["-var", "nope=1"], "bad -var: the variable is not declared"),
    ("var-cli-list.pkr.hcl", ["-var", "zones=[\"ru-moscow-1a\",\"ru-moscow-1b\"]", "-var", "replicas=2", "-var", "debug=true"], "-var values parsed for list(string), number and bool"),
    ("var-cli-type-mismatch.pkr.hcl", ["-var", "replicas=many"], "bad -var: text that cannot become a number"),
    ("var-file.pkr.hcl", ["-var-file", "files/values.pkrvars.hcl"], "values from -var-file"),
    ("var-file.pkr.hcl", ["-var-file", "files/bad-values.pkrvars.hcl"], "-var-file value of the wrong type"),
    ("var-file.pkr.hcl", ["-var-file", "files/no-such.pkrvars.hcl"], "-var-file that does not exist"),
    ("var-duplicate.pkr.hcl", [], "the same variable declared twice"),
    ("var-undefined-reference.pkr.hcl", [], "undefined variable var.regoin (a typo of region)"),
    ("var-env-default.pkr.hcl", [], "env() in a variable default; an unset environment variable gives an empty string"),
    ("locals.pkr.hcl", [], "locals referring to each other out of order, object local"),
    ("locals-cycle.pkr.hcl", [], "two locals referring to each other"),
    ("locals-undefined.pkr.hcl", [], "undefined local local.nmae"),
    ("locals-env-not-allowed.pkr.hcl", [], "env() outside a variable default is refused"),
    ("functions-string.pkr.hcl", [], "string functions"),
    ("functions-collection.pkr.hcl", [], "collection functions (element wraps around, lookup with default)"),
    ("functions-encoding.pkr.hcl", [], "base64, json, yaml, url and csv functions"),
    ("functions-hash-crypto.pkr.hcl", [], "hash functions, uuidv4, uuidv5"),
    ("functions-datetime.pkr.hcl", [], "timestamp, formatdate, timeadd"),
    ("functions-filesystem.pkr.hcl", [], "file, fileexists, fileset, basename, dirname, abspath, path.root, path.cwd"),
    ("functions-file-missing.pkr.hcl", [], "file() of a missing file"),
    ("functions-numeric.pkr.hcl", [], "numeric functions"),
    ("functions-cidr.pkr.hcl", [], "cidrhost, cidrnetmask, cidrsubnet, cidrsubnets"),
    ("functions-try-can.pkr.hcl", [], "try() and can() on missing map keys and bad JSON"),
    ("functions-unknown.pkr.hcl", [], "unknown function uppercase()"),
    ("functions-wrong-arity.pkr.hcl", [], "upper() with two arguments"),
    ("functions-bad-argument.pkr.hcl", [], "timeadd() with a duration it cannot parse"),
    ("expressions.pkr.hcl", [], "splat, for expressions (list, map, filter), conditional, arithmetic, logic, template directives, escapes"),
    ("expressions-heredoc.pkr.hcl", [], "heredoc and indented heredoc, heredoc inside a list"),
    ("expressions-dynamic-block.pkr.hcl", [], "dynamic \"provisioner\" block"),
    ("expressions-type-error.pkr.hcl", [], "\"abc\" + 1"),
    ("expressions-index-out-of-range.pkr.hcl", [], "index 3 of a one-element list"),
    ("expressions-build-variables.pkr.hcl", [], "build.ID, build.PackerRunUUID, source.name and source.type are accepted"),
    ("syntax-missing-brace.pkr.hcl", [], "syntax: a block left open"),
    ("syntax-unterminated-string.pkr.hcl", [], "syntax: a string left open"),
    ("syntax-missing-equals.pkr.hcl", [], "syntax: attribute without ="),
    ("syntax-bad-interpolation.pkr.hcl", [], "syntax: ${var.} in a template"),
    ("unknown-field-source.pkr.hcl", [], "unknown field comunicator in a source"),
    ("unknown-field-provisioner.pkr.hcl", [], "unknown field in a shell-local provisioner"),
    ("unknown-block-toplevel.pkr.hcl", [], "unknown top-level block builder"),
    ("unknown-block-in-build.pkr.hcl", [], "unknown block provisoner in build"),
    ("unknown-builder-type.pkr.hcl", [], "unknown source type nul"),
    ("unknown-provisioner-type.pkr.hcl", [], "unknown provisioner type shel"),
    ("unknown-post-processor-type.pkr.hcl", [], "unknown post-processor type manifests"),
    ("build-unknown-source.pkr.hcl", [], "build refers to source.null.basci, which does not exist"),
    ("build-no-sources.pkr.hcl", [], "a build without sources is accepted (it builds nothing)"),
    ("build-named-multi-source.pkr.hcl", [], "two builds with name and description, two sources"),
    ("build-source-override.pkr.hcl", [], "nested source block renaming a source, only = [\"null.renamed\"]"),
    ("source-ssh-fields.pkr.hcl", [], "SSH communicator fields on the null builder"),
    ("source-bad-duration.pkr.hcl", [], "ssh_timeout = \"five minutes\" is not a duration"),
    ("source-field-type-mismatch.pkr.hcl", [], "ssh_port = \"twenty-two\" is not a number"),
    ("provisioners-all.pkr.hcl", [], "file, shell (inline, script, scripts), shell-local, breakpoint with pause_before, max_retries, timeout, only, except, override"),
    ("provisioner-shell-inline-and-script.pkr.hcl", [], "shell with both inline and script"),
    ("provisioner-shell-nothing-to-run.pkr.hcl", [], "shell with neither inline nor script(s)"),
    ("provisioner-shell-missing-script.pkr.hcl", [], "shell script file that does not exist"),
    ("provisioner-file-missing-destination.pkr.hcl", [], "file provisioner without destination"),
    ("provisioner-file-missing-source.pkr.hcl", [], "file provisioner whose source does not exist"),
    ("provisioner-bad-max-retries.pkr.hcl", [], "max_retries = \"many\" is not a number"),
    ("provisioner-shell-local-script.pkr.hcl", [], "shell-local with script, execute_command list, and with command"),
    ("post-processors.pkr.hcl", [], "manifest, checksum, shell-local and a post-processors chain with name and keep_input_artifact"),
    ("post-processor-checksum-bad-type.pkr.hcl", [], "checksum type crc32 is not supported"),
    ("post-processor-unknown-field.pkr.hcl", [], "unknown field outptu in manifest"),
    ("data-source-block.pkr.hcl", [], "data blocks: unknown to packer 1.6.6, refused by cce-image-builder"),
    ("dir-auto-vars", [], "folder: variables, build and an *.auto.pkrvars.hcl setting a required variable"),
    ("dir-auto-vars-bad", [], "folder: *.auto.pkrvars.hcl value of the wrong type"),
    ("dir-multi-file", [], "folder: variables, locals, sources and build in separate files"),
    ("dir-duplicate-source", [], "folder: the same source declared in two files"),
]

# (path, args, expect_exit, note) for features newer than packer 1.6.6.
NEWER = [
    ("newer/packer-block.pkr.hcl", [], 0, "packer block with required_version and the huaweicloud plugin (built in)"),
    ("newer/packer-block-unknown-plugin.pkr.hcl", [], 1, "required plugin that is not built in"),
    ("newer/local-block-sensitive.pkr.hcl", [], 0, "local block with expression and sensitive"),
    ("newer/functions-newer.pkr.hcl", [], 0, "strcontains, startswith, endswith, alltrue, anytrue, sum, regex, regexall, filebase64"),
    ("newer/file-provisioner-content.pkr.hcl", [], 0, "file provisioner with content"),
    ("newer/error-cleanup-provisioner.pkr.hcl", [], 0, "error-cleanup-provisioner block"),
    ("newer/provisioner-bad-duration.pkr.hcl", [], 1, "timeout = \"5 minutes\": packer 1.6.6 panics (exit 2), newer Packer reports the bad duration"),
    ("newer/optional-object-attribute.pkr.hcl", [], 0, "optional() attribute in an object type"),
    ("newer/huaweicloud-local-cloud.pkr.hcl", [], 0, "huaweicloud-ecs without credentials: local-cloud mode, empty network IDs allowed"),
    ("newer/huaweicloud-credentials.pkr.hcl", [], 0, "huaweicloud-ecs with credentials and every required field"),
    ("newer/huaweicloud-misspelled-field.pkr.hcl", [], 1, "flavour instead of flavor: unknown field with did you mean"),
    ("newer/huaweicloud-missing-flavor.pkr.hcl", [], 1, "credentials given but the required flavor is missing"),
    ("newer/huaweicloud-secret-key-empty.pkr.hcl", [], 1, "access_key set but secret_key empty"),
    ("newer/huaweicloud-refused-field.pkr.hcl", [], 1, "winrm_username: a field cce-image-builder refuses"),
]


def clean_env():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHECKPOINT_DISABLE": "1"}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


def packer_exit(path, args):
    proc = subprocess.run(
        ["packer", "validate", *args, path],
        cwd=HERE,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
        check=False,
    )
    return proc.returncode


def main():
    entries = []
    bad = []
    for path, args, note in JUDGED:
        code = packer_exit(path, args)
        if code not in (0, 1):
            bad.append(f"{path}: packer exited {code}; move it to newer/ with a hand-written verdict")
        entries.append({"path": path, "args": args, "packer_exit": code, "note": note})
    for path, args, expect, note in NEWER:
        entries.append({"path": path, "args": args, "packer_exit": None, "expect_exit": expect, "note": note})
    listed = {e["path"] for e in entries}
    for root, dirs, files in os.walk(HERE):
        rel_root = os.path.relpath(root, HERE)
        if rel_root.startswith("dir-") or rel_root == "files":
            continue
        for name in files:
            rel = os.path.normpath(os.path.join(rel_root, name))
            if name.endswith(".pkr.hcl") and rel not in listed:
                bad.append(f"{rel}: not listed in record.py")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    with open(os.path.join(HERE, "corpus.json"), "w", encoding="utf-8") as out:
        json.dump(entries, out, indent=2, ensure_ascii=False)
        out.write("\n")
    valid = sum(1 for e in entries if (e.get("packer_exit") if e["packer_exit"] is not None else e["expect_exit"]) == 0)
    print(f"corpus.json: {len(entries)} entries, {valid} valid, {len(entries) - valid} invalid")
    return 0


if __name__ == "__main__":
    sys.exit(main())

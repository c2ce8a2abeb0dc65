//! The first boot of a GPU base Image (`linode-ai image build --gpu`): the
//! user-data of a Linode that installs Docker, the NVIDIA driver for its
//! kernel and the container toolkit (the same `setup_gpu` a deploy runs),
//! seals itself and powers off, so its disk can be captured. A deploy on a
//! Linode made from that Image finds [`MARKER`] and installs nothing.

use super::boot::{gpu_function, step_script, BOOT_LIB, LIB, STEP_SCRIPT};
use super::cloud_init::{CloudConfig, WriteFile};
use crate::blueprint::proxy::STATUS_DIR;
use crate::linode::IMAGE_MAX_MB;
use crate::shell::{shell_quote, strip_comments};

/// What the Image holds (driver, kernel, when): written last, read by a
/// deploy's `setup_gpu`.
pub const MARKER: &str = "/etc/linode-ai/gpu-base";
/// The build's script.
pub const BUILD_SCRIPT: &str = "/usr/local/bin/linode-ai-gpu-base";
const BUILD: &str = include_str!("../../../assets/boot/gpu-base.sh");
/// The disk must stay under the Image cap with room to spare (what `df`
/// counts and what the capture counts differ a little).
const DISK_MAX_MB: u64 = IMAGE_MAX_MB - 400;

/// The cloud-config of the build Linode for driver branch `branch`.
pub fn render(branch: &str) -> CloudConfig {
    let mut lib = LIB.to_string();
    lib.push('\n');
    lib.push_str(&gpu_function(branch));
    let build = BUILD
        .replace("@LIB@", BOOT_LIB)
        .replace("@MARKER@", MARKER)
        .replace("@BRANCH@", &shell_quote(branch))
        .replace("@MAX_MB@", &DISK_MAX_MB.to_string())
        .replace("@STATUS_DIR@", STATUS_DIR);
    CloudConfig {
        package_update: Some(true),
        packages: vec!["curl".into(), "gnupg".into()],
        ssh_pwauth: Some(false),
        write_files: vec![
            WriteFile::compressed(
                STEP_SCRIPT,
                "0755",
                strip_comments(&step_script()).as_bytes(),
            ),
            WriteFile::compressed(BOOT_LIB, "0644", strip_comments(&lib).as_bytes()),
            WriteFile::compressed(BUILD_SCRIPT, "0700", strip_comments(&build).as_bytes()),
        ],
        runcmd: vec![vec!["bash".into(), BUILD_SCRIPT.into()]],
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_installs_the_driver_then_seals_and_powers_off() {
        let doc = render("580-server");
        let script = doc.file(BUILD_SCRIPT).unwrap().decoded().unwrap();
        let lib = doc.file(BOOT_LIB).unwrap().decoded().unwrap();
        // Every placeholder filled: no `@NAME@` left anywhere.
        let placeholder = |doc: &str| {
            doc.match_indices('@').any(|(i, _)| {
                let rest = &doc[i + 1..];
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                !word.is_empty() && rest[word.len()..].starts_with('@')
            })
        };
        assert!(placeholder("x @LIB@ y"), "the check finds one");
        assert!(!placeholder(&script), "{script}");
        assert!(!placeholder(&lib), "{lib}");
        let order = [
            "apt_get install docker.io",
            "setup_gpu",
            MARKER,
            "apt-get clean",
            "cloud-init clean --logs --machine-id",
            "systemctl poweroff",
        ];
        let mut at = 0;
        for needle in order {
            let i = script[at..]
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} after byte {at}:\n{script}"));
            at += i;
        }
        assert!(lib.contains("setup_gpu()") && lib.contains("branch=580-server"));
        assert!(lib.contains(&format!("[[ -s {MARKER} ]]")), "{lib}");
        assert!(
            script.contains(&format!("max={DISK_MAX_MB}\n")) && script.contains("((used > max))")
        );
        // Fits the Metadata service with room (no env, no page).
        let text = doc.render();
        assert!(text.len() < 8_000, "{}", text.len());
        crate::targets::vm::cloud_init::validate_user_data(&text).unwrap();
    }
}

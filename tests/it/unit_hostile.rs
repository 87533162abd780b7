//! Hostile unit files and hostile uses of the `systemctl` personality:
//! names that climb out of the services dir, control characters in what
//! tend prints, and the like. Each test is named after what broke.

use std::os::unix::fs::symlink;
use std::process::Command;

use crate::harness::{tend_bin, Fixture};

/// Runs the binary as `systemctl` against this fixture's services dir.
fn systemctl(fx: &Fixture, args: &[&str]) -> (i32, String, String) {
    let link = fx.path("bin/systemctl");
    if !link.exists() {
        std::fs::create_dir_all(fx.path("bin")).expect("mkdir bin");
        symlink(tend_bin(), &link).expect("symlink systemctl");
    }
    let out = Command::new(&link)
        .args(args)
        .env("TEND_CONTROL", fx.path("control.sock"))
        .env("TEND_SERVICES", fx.path("services"))
        .output()
        .expect("run systemctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `systemctl disable ../outside/victim` removed a symlink outside the
/// services dir, and `enable` joined such names (or absolute ones) too.
#[test]
fn systemctl_enable_and_disable_refuse_names_with_slashes() {
    let fx = Fixture::new("unit-hostile-traversal", []);
    std::fs::create_dir_all(fx.path("services")).expect("mkdir services");
    std::fs::create_dir_all(fx.path("outside")).expect("mkdir outside");
    let victim = fx.path("outside/victim.service");
    symlink("/etc/hostname", &victim).expect("symlink victim");
    for name in ["../outside/victim", "../outside/victim.service"] {
        let r = systemctl(&fx, &["disable", name]);
        assert_eq!(r.0, 1, "disable {name}: {r:?}");
        assert!(r.2.contains("bad unit name"), "disable {name}: {r:?}");
        assert!(
            std::fs::symlink_metadata(&victim).is_ok(),
            "disable {name} removed a link outside the services dir: {r:?}"
        );
    }
    let abs = fx.arg("outside/victim");
    for name in [abs.as_str(), "../../../../etc/hostname", "", "."] {
        let r = systemctl(&fx, &["enable", name]);
        assert_eq!(r.0, 1, "enable {name:?}: {r:?}");
        assert!(r.2.contains("bad unit name"), "enable {name:?}: {r:?}");
    }
}

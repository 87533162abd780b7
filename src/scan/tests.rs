//! envdir values and the bounded reads of a service dir.

use super::*;

#[test]
fn envdir_values() {
    assert_eq!(envdir_value(b""), None);
    assert_eq!(envdir_value(b"x \t\nsecond"), Some("x".into()));
    assert_eq!(envdir_value(b"a\0b"), Some("a\nb".into()));
    assert_eq!(envdir_value(b"\n"), Some("".into()));
}

#[test]
fn bounded_reads_take_only_small_regular_files() {
    let dir = std::env::temp_dir().join(format!("tend-scan-unit-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let f = dir.join("f");
    fs::write(&f, "12345").unwrap();
    assert_eq!(read_bounded(&f, 5).unwrap(), b"12345");
    let e = read_bounded(&f, 4).unwrap_err();
    assert_eq!(e, format!("{}: larger than 4 bytes", f.display()));
    let e = read_bounded(Path::new("/dev/zero"), 5).unwrap_err();
    assert_eq!(e, "/dev/zero: not a regular file but a character device");
    assert!(read_bounded(&dir, 5).unwrap_err().contains("a directory"));
    assert!(read_bounded(&dir.join("none"), 5).is_err());
    fs::write(&f, b"\xff").unwrap();
    assert!(read_text(&f, 5).unwrap_err().ends_with(": not UTF-8"));
    fs::remove_dir_all(&dir).unwrap();
}

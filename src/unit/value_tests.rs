use super::*;

fn secs(s: &str) -> Result<Option<Duration>, String> {
    parse_sec(s)
}

#[test]
fn time_spans() {
    let ms = |n| Ok(Some(Duration::from_millis(n)));
    let cases = [
        ("5s", ms(5_000)),
        ("5", ms(5_000)),
        ("1min 30s", ms(90_000)),
        ("1min30s", ms(90_000)),
        ("2min 200ms", ms(120_200)),
        ("500ms", ms(500)),
        ("0", ms(0)),
        ("1.5h", ms(5_400_000)),
        (".5s", ms(500)),
        ("1 h 2 m", ms(3_720_000)),
        ("1d", ms(86_400_000)),
        ("1w", ms(604_800_000)),
        ("250us", Ok(Some(Duration::from_micros(250)))),
        ("infinity", Ok(None)),
    ];
    for (s, want) in cases {
        assert_eq!(secs(s), want, "{s}");
    }
    for bad in [
        "",
        "5x",
        "-5s",
        "s",
        "infinitys",
        "5s x",
        "99999999999999999999",
        "9999999999y",
    ] {
        assert!(secs(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_timespan("20", 1), Ok(Some(Duration::from_micros(20))));
}

#[test]
fn booleans() {
    for t in ["yes", "True", "1", "on", "y", "t"] {
        assert_eq!(parse_bool(t), Ok(true), "{t}");
    }
    for f in ["no", "FALSE", "0", "off", "n", "f"] {
        assert_eq!(parse_bool(f), Ok(false), "{f}");
    }
    assert!(parse_bool("maybe").is_err());
}

#[test]
fn modes_and_nice() {
    assert_eq!(parse_mode("0755", 0o7777), Ok(0o755));
    assert_eq!(parse_mode("022", 0o777), Ok(0o22));
    for bad in ["", "8", "+7", "10000", "0x1"] {
        assert!(parse_mode(bad, 0o7777).is_err(), "{bad}");
    }
    assert!(parse_mode("1000", 0o777).is_err());
    assert_eq!(parse_nice("-5"), Ok(-5));
    assert!(parse_nice("20").is_err());
}

#[test]
fn exit_status_sets() {
    let mut set = ExitStatusSet::default();
    set.add("0 143  SIGTERM HUP TEMPFAIL").unwrap();
    set.add("").unwrap();
    assert_eq!(set.codes, vec![0, 143, 75]);
    assert_eq!(set.signals, vec![libc::SIGTERM, libc::SIGHUP]);
    assert!(set.add("256").is_err());
    assert!(set.add("NOPE").unwrap_err().contains("NOPE"));
}

#[test]
fn rlimits() {
    let r = |k, v| parse_rlimit(k, v).map(|r| (r.resource, r.soft, r.hard));
    assert_eq!(
        r("LimitNOFILE", "1024:4096"),
        Ok(("NOFILE", Some(1024), Some(4096)))
    );
    assert_eq!(
        r("LimitNOFILE", "65536"),
        Ok(("NOFILE", Some(65536), Some(65536)))
    );
    assert_eq!(r("LimitCORE", "infinity"), Ok(("CORE", None, None)));
    assert_eq!(r("LimitAS", "4G:infinity"), Ok(("AS", Some(4 << 30), None)));
    assert_eq!(
        r("LimitMEMLOCK", "64K"),
        Ok(("MEMLOCK", Some(65536), Some(65536)))
    );
    assert_eq!(r("LimitCPU", "1min"), Ok(("CPU", Some(60), Some(60))));
    assert_eq!(r("LimitCPU", "500ms"), Ok(("CPU", Some(1), Some(1))));
    assert_eq!(
        r("LimitRTTIME", "1s"),
        Ok(("RTTIME", Some(1_000_000), Some(1_000_000)))
    );
    assert_eq!(r("LimitNICE", "-5"), Ok(("NICE", Some(25), Some(25))));
    assert_eq!(r("LimitNICE", "10"), Ok(("NICE", Some(10), Some(10))));
    assert!(r("LimitNOFILE", "10:5").is_err());
    assert!(r("LimitNOFILE", "lots").is_err());
    assert!(r("LimitFOO", "1").is_err());
    assert_eq!(rlimit_resource("LimitSTACK"), Some("STACK"));
    assert_eq!(rlimit_resource("LimitFOO"), None);
}

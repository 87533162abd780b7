use super::*;

fn d(section: &str, key: &str, value: &str, line: usize) -> Directive {
    Directive {
        section: section.into(),
        key: key.into(),
        value: value.into(),
        line,
        file: 0,
    }
}

fn kv(text: &str) -> Vec<(String, String, String, usize)> {
    parse(text)
        .expect("parses")
        .directives
        .into_iter()
        .map(|d| (d.section, d.key, d.value, d.line))
        .collect()
}

fn t(s: &str, k: &str, v: &str, l: usize) -> (String, String, String, usize) {
    (s.into(), k.into(), v.into(), l)
}

#[test]
fn sections_keys_values_and_line_numbers() {
    let text = "[Unit]\nDescription = web server \n\n[Service]\n  ExecStart=/bin/x -a\n";
    assert_eq!(
        parse(text).unwrap().directives,
        vec![
            d("Unit", "Description", "web server", 2),
            d("Service", "ExecStart", "/bin/x -a", 5),
        ]
    );
}

#[test]
fn comments_only_at_line_start() {
    let text = "[S]\n# c\n  ; c\nA=1 # not a comment\nB=x;y\n";
    assert_eq!(
        kv(text),
        vec![t("S", "A", "1 # not a comment", 4), t("S", "B", "x;y", 5)]
    );
}

#[test]
fn value_splits_at_first_equals() {
    assert_eq!(
        kv("[S]\nEnvironment=A=1 B=2\nK=\n"),
        vec![t("S", "Environment", "A=1 B=2", 2), t("S", "K", "", 3)]
    );
}

#[test]
fn continuation_joins_with_a_space_and_keeps_indent() {
    // systemd.syntax(7): the backslash becomes a space; the next line is
    // appended as it is, then the whole line is trimmed.
    let text = "[S]\nExecStart=/bin/a \\\n    -b\\\n-c\nNext=1\n";
    assert_eq!(
        kv(text),
        vec![
            t("S", "ExecStart", "/bin/a      -b -c", 2),
            t("S", "Next", "1", 5)
        ]
    );
}

#[test]
fn comment_lines_inside_a_continuation_are_skipped() {
    let text = "[S]\nK=a\\\n# comment\n; another\n  b\n";
    assert_eq!(kv(text), vec![t("S", "K", "a   b", 2)]);
}

#[test]
fn escaped_backslash_does_not_continue() {
    let text = "[S]\nA=x\\\\\nB=y\\ \nC=z\n";
    assert_eq!(
        kv(text),
        vec![
            t("S", "A", "x\\\\", 2),
            t("S", "B", "y\\", 3),
            t("S", "C", "z", 4)
        ]
    );
}

#[test]
fn continuation_at_end_of_file_is_kept() {
    assert_eq!(kv("[S]\nA=x\\"), vec![t("S", "A", "x", 2)]);
}

#[test]
fn line_ends_crlf_cr_and_nul() {
    // systemd's read_line ends a line at \n, \r or NUL; \r\n is one end.
    assert_eq!(
        kv("[S]\r\nA=1\r\nB=2\rC=3\0D=4\n\nE=5"),
        vec![
            t("S", "A", "1", 2),
            t("S", "B", "2", 3),
            t("S", "C", "3", 4),
            t("S", "D", "4", 5),
            t("S", "E", "5", 7)
        ]
    );
}

#[test]
fn byte_order_mark_is_skipped() {
    assert_eq!(kv("\u{feff}[S]\nA=1\n"), vec![t("S", "A", "1", 2)]);
}

#[test]
fn ignorable_lines_are_warnings() {
    let p = parse("Early=1\n[S]\nnoequals\n=v\nA=1\n").unwrap();
    assert_eq!(p.directives, vec![d("S", "A", "1", 5)]);
    let lines: Vec<usize> = p.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![1, 3, 4]);
}

#[test]
fn bad_section_headers_refuse_the_file() {
    for text in ["[Unit\nA=1\n", "[Un\"it]\n", "[a\x07]\n"] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 1, "{text:?}");
        assert!(e.what.contains("section header"), "{e:?}");
    }
}

#[test]
fn hostile_inputs_are_bounded() {
    // Every input gives a value or an error, in time linear in its size.
    let huge = format!("[S]\nA={}\n", "x".repeat(LINE_MAX + 1));
    assert_eq!(parse(&huge).unwrap_err().line, 2);

    let many = format!("[S]\nA=a{}\n", "\\\nb".repeat(100_000));
    let p = parse(&many).unwrap();
    assert_eq!(p.directives.len(), 1);
    assert_eq!(p.directives[0].value.len(), 1 + 100_000 * 2);

    let runaway = format!("[S]\nA={}", "x\\\n".repeat(LINE_MAX / 2));
    assert!(parse(&runaway).unwrap_err().what.contains("longer"));

    let nuls = "\0\0[S]\0A=\0\0=\0".to_string();
    assert_eq!(kv(&nuls), vec![t("S", "A", "", 4)]);

    let lossy = String::from_utf8_lossy(b"[S]\nA=\xff\xfe\n").into_owned();
    assert_eq!(kv(&lossy), vec![t("S", "A", "\u{fffd}\u{fffd}", 2)]);

    let brackets = "[".repeat(100_000);
    assert!(parse(&brackets).is_err());
    assert_eq!(parse("").unwrap(), Parsed::default());
    assert_eq!(parse("\\").unwrap(), Parsed::default());
}

fn kinds(_: &str, key: &str) -> Kind {
    match key {
        "ExecStart" | "Environment" => Kind::List(if key == "ExecStart" {
            "ExecStart"
        } else {
            "Environment"
        }),
        "ListenStream" | "ListenDatagram" => Kind::List("Listen"),
        "After" => Kind::Accumulate,
        _ => Kind::Single,
    }
}

fn layered(files: &[(&str, &str)]) -> Layered {
    let parsed: Vec<(String, Parsed)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), parse(t).unwrap()))
        .collect();
    layer(&parsed, &kinds)
}

fn values(l: &Layered) -> Vec<String> {
    l.directives
        .iter()
        .map(|d| format!("{}={}@{}:{}", d.key, d.value, l.files[d.file], d.line))
        .collect()
}

#[test]
fn drop_ins_reset_lists_and_override_singles() {
    let l = layered(&[
        (
            "a.service",
            "[Service]\nExecStart=/bin/old\nEnvironment=A=1\nType=simple\n[Unit]\nAfter=x\n",
        ),
        (
            "10-b.conf",
            "[Service]\nExecStart=\nExecStart=/bin/new\nEnvironment=B=2\nType=notify\n[Unit]\nAfter=\nAfter=y\n",
        ),
    ]);
    assert_eq!(
        values(&l),
        vec![
            "Environment=A=1@a.service:3",
            "After=x@a.service:6",
            "ExecStart=/bin/new@10-b.conf:3",
            "Environment=B=2@10-b.conf:4",
            "Type=notify@10-b.conf:5",
            "After=y@10-b.conf:8",
        ]
    );
}

#[test]
fn an_empty_single_is_kept_as_a_reset_to_default() {
    let l = layered(&[("a", "[S]\nType=forking\n"), ("b", "[S]\nType=\n")]);
    assert_eq!(values(&l), vec!["Type=@b:2"]);
}

#[test]
fn a_reset_group_spans_keys() {
    let l = layered(&[
        ("a.socket", "[Socket]\nListenStream=80\nListenDatagram=53\n"),
        ("b.conf", "[Socket]\nListenDatagram=\nListenStream=8080\n"),
    ]);
    assert_eq!(values(&l), vec!["ListenStream=8080@b.conf:3"]);
}

#[test]
fn sections_do_not_share_keys() {
    let l = layered(&[("a", "[A]\nK=1\n[B]\nK=2\n")]);
    assert_eq!(values(&l), vec!["K=1@a:2", "K=2@a:4"]);
}

#[test]
fn warnings_name_their_file() {
    let l = layered(&[("a", "[S]\nbroken\n")]);
    assert_eq!(l.warnings, vec!["a:2: missing '=', line ignored"]);
    assert_eq!(
        l.at(&d("S", "K", "v", 9), "bad thing"),
        "a:9: bad thing".to_string()
    );
}

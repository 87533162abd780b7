use super::*;

fn ctx() -> SpecContext {
    SpecContext::system("web@blue.service")
}

fn argv(value: &str) -> Vec<Vec<String>> {
    parse_exec(value, &ctx())
        .unwrap_or_else(|e| panic!("{value:?}: {e}"))
        .into_iter()
        .map(|c| c.argv)
        .collect()
}

fn one(value: &str) -> Vec<String> {
    let mut all = argv(value);
    assert_eq!(all.len(), 1, "{value:?}");
    all.remove(0)
}

#[test]
fn quoting_and_escapes() {
    let cases: &[(&str, &[&str])] = &[
        ("/bin/echo a  b\tc", &["/bin/echo", "a", "b", "c"]),
        (r#"/bin/echo "a b" 'c d'"#, &["/bin/echo", "a b", "c d"]),
        (r#"/bin/echo x"a b"y"#, &["/bin/echo", "xa by"]),
        (r#"/bin/echo "it's" '"q"'"#, &["/bin/echo", "it's", "\"q\""]),
        (r#"/bin/echo \n\t\\\"\'\s"#, &["/bin/echo", "\n\t\\\"' "]),
        (r#"/bin/echo "a\nb" 'c\td'"#, &["/bin/echo", "a\nb", "c\td"]),
        (
            r#"/bin/echo \x41\102\u00e9\U0001F600"#,
            &["/bin/echo", "AB\u{e9}\u{1F600}"],
        ),
        (r#"/bin/echo \xc3\xa9"#, &["/bin/echo", "\u{e9}"]),
        (r#"/bin/echo a\ b"#, &["/bin/echo", "a\\ b"]),
        (
            r#"/bin/echo \q \x00 \x4"#,
            &["/bin/echo", "\\q", "\\x00", "\\x4"],
        ),
        (r#"/bin/echo end\"#, &["/bin/echo", "end\\"]),
        (r#"/bin/echo """#, &["/bin/echo", ""]),
        (
            "/bin/sh -c 'echo $HOME; exit 1'",
            &["/bin/sh", "-c", "echo $HOME; exit 1"],
        ),
    ];
    for (value, want) in cases {
        assert_eq!(one(value), *want, "{value}");
    }
}

#[test]
fn unbalanced_quotes_are_errors() {
    for value in [r#"/bin/echo "a"#, "/bin/echo 'a", r#"/bin/echo "a\"#] {
        assert!(parse_exec(value, &ctx()).is_err(), "{value}");
    }
}

#[test]
fn invalid_utf8_from_escapes_is_an_error() {
    let e = parse_exec(r"/bin/echo \xff", &ctx()).unwrap_err();
    assert!(e.contains("UTF-8"), "{e}");
}

#[test]
fn semicolons_separate_commands() {
    // config_parse_exec: a lone unquoted ';' separates, '\;' is an argument.
    assert_eq!(
        argv("/bin/a 1 ; /bin/b 2 ;"),
        vec![vec!["/bin/a", "1"], vec!["/bin/b", "2"]]
    );
    assert_eq!(
        argv(r"/usr/bin/find . -exec rm {} \; ; /bin/true"),
        vec![
            vec!["/usr/bin/find", ".", "-exec", "rm", "{}", ";"],
            vec!["/bin/true"]
        ]
    );
    assert_eq!(one("/bin/echo a;b ';'"), vec!["/bin/echo", "a;b", ";"]);
    assert_eq!(argv("; ; /bin/x"), vec![vec!["/bin/x"]]);
}

#[test]
fn prefixes_are_flags() {
    let c = &parse_exec("-@:/bin/sh argv0 x", &ctx()).unwrap()[0];
    assert!(c.ignore_failure && !c.expand_env);
    assert_eq!(c.path, "/bin/sh");
    assert_eq!(c.argv, vec!["argv0", "x"]);
    let p = |v: &str| parse_exec(v, &ctx()).map(|c| c[0].privileges);
    assert_eq!(p("/bin/x"), Ok(Privileges::AsUser));
    assert_eq!(p("+/bin/x"), Ok(Privileges::Full));
    assert_eq!(p("-!/bin/x"), Ok(Privileges::KeepCredentials));
    assert_eq!(p("!!/bin/x"), Ok(Privileges::AmbientOrKeep));
    // Only one of + ! !!; a second is part of the (then invalid) name.
    assert!(p("+!/bin/x").is_err());
    assert!(p("!!!/bin/x").is_err());
    assert!(p("--/bin/x").is_err());
    assert!(parse_exec("@/bin/x", &ctx())
        .unwrap_err()
        .contains("argv[0]"));
}

#[test]
fn program_names() {
    assert_eq!(parse_exec("nginx -t", &ctx()).unwrap()[0].path, "nginx");
    for bad in ["-", "/usr/bin/", "bin/x", "..", "'/bin/a\"b'"] {
        assert!(parse_exec(bad, &ctx()).is_err(), "{bad}");
    }
}

#[test]
fn specifiers_in_every_word() {
    assert_eq!(
        one("/srv/%p/bin --name=%i '%n' %%"),
        vec!["/srv/web/bin", "--name=blue", "web@blue.service", "%"]
    );
    assert!(parse_exec("/bin/x %H", &ctx()).unwrap_err().contains("%H"));
}

#[test]
fn env_expansion() {
    let env = |k: &str| match k {
        "OPTS" => Some("-a  'b c' -d".to_string()),
        "ONE" => Some("x y".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: &[(&[&str], &[&str])] = &[
        (&["/bin/x", "$OPTS"], &["/bin/x", "-a", "b c", "-d"]),
        (&["/bin/x", "${ONE}"], &["/bin/x", "x y"]),
        (&["/bin/x", "--o=${ONE}!"], &["/bin/x", "--o=x y!"]),
        (&["/bin/x", "$UNSET", "$EMPTY", "${UNSET}"], &["/bin/x", ""]),
        (
            &["/bin/x", "a$ONE", "$$ONE", "${ONE:-d}", "${ONE"],
            &["/bin/x", "a$ONE", "$ONE", "${ONE:-d}", "${ONE"],
        ),
        (&["/bin/x", "$", "$1x", "${1x}y"], &["/bin/x", "y"]),
    ];
    for (argv, want) in cases {
        assert_eq!(expand_env(&words(argv), &env), words(want), "{argv:?}");
    }
}

#[test]
fn split_words_for_lists() {
    assert_eq!(
        split_words(r#"A=1 "B=two words" C=\x41"#).unwrap(),
        vec!["A=1", "B=two words", "C=A"]
    );
    assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
}

#[test]
fn hostile_command_lines_are_bounded() {
    let long = format!("/bin/x {}", "'a' \\x41 ; ".repeat(50_000));
    assert_eq!(argv(&long).len(), 50_000);
    let quotes = "\"".repeat(100_001);
    assert!(parse_exec(&format!("/bin/x {quotes}"), &ctx()).is_err());
    let dollars = vec!["${".repeat(50_000)];
    assert_eq!(expand_env(&dollars, &|_| None), dollars);
}

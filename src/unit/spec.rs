//! `%` specifiers in unit files (systemd.unit(5), "Specifiers"), expanded
//! from a context of plain values that the caller fills in: this module
//! looks nothing up (no passwd, no hostname, no environment).
//!
//! Supported: `%n %N %p %P %i %I %j %J %f %h %u %U %g %G %t %S %C %L %E
//! %T %V %%`. Any other letter is an error naming it: systemd would put
//! a machine id, a hostname or a boot id there, which a container does not
//! have in the sense the unit means.
//!
//! As in systemd, `%u %U %h %g %G` are the user *running the service
//! manager* (root for system units), not `User=`: the caller passes tend's
//! own user.

/// What the specifiers expand to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecContext {
    /// The full unit name: `nginx.service`, `getty@tty1.service`.
    pub unit: String,
    pub user: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
    pub home: String,
    /// `%t %S %C %L %E`: /run, /var/lib, /var/cache, /var/log, /etc for
    /// the system manager.
    pub runtime_dir: String,
    pub state_dir: String,
    pub cache_dir: String,
    pub logs_dir: String,
    pub config_dir: String,
    /// Bytes the specifiers of this unit added so far (see `GROWTH_MAX`).
    pub grown: std::cell::Cell<usize>,
}

/// What expanding specifiers may add to one unit, all its values
/// together. `%n` is up to 256 bytes for two: without a bound, 20 files of
/// 250 KiB of `Description=%n%n...` took 1 GiB of PID 1's memory.
pub const GROWTH_MAX: usize = 1024 * 1024;

impl SpecContext {
    /// The system manager's values, as root.
    pub fn system(unit: &str) -> SpecContext {
        SpecContext {
            unit: unit.to_string(),
            user: "root".into(),
            uid: 0,
            group: "root".into(),
            gid: 0,
            home: "/root".into(),
            runtime_dir: "/run".into(),
            state_dir: "/var/lib".into(),
            cache_dir: "/var/cache".into(),
            logs_dir: "/var/log".into(),
            config_dir: "/etc".into(),
            grown: std::cell::Cell::new(0),
        }
    }
}

/// The parts of a unit name: `PREFIX@INSTANCE.TYPE` or `PREFIX.TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitName<'a> {
    /// Without the type suffix (`getty@tty1`).
    pub stem: &'a str,
    pub prefix: &'a str,
    pub instance: Option<&'a str>,
}

pub fn split_name(unit: &str) -> UnitName<'_> {
    let stem = unit.rsplit_once('.').map_or(unit, |(s, _)| s);
    let (prefix, instance) = match stem.split_once('@') {
        Some((p, i)) => (p, Some(i)),
        None => (stem, None),
    };
    UnitName {
        stem,
        prefix,
        instance,
    }
}

/// Expands every `%X` in `s`.
pub fn expand(s: &str, ctx: &SpecContext) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let name = split_name(&ctx.unit);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(x) => out.push_str(&specifier(x, &name, ctx)?),
            None => return Err("lone '%' at the end (write %% for a percent sign)".into()),
        }
        let grown = ctx.grown.get() + out.len().saturating_sub(s.len());
        if grown > GROWTH_MAX {
            return Err(format!(
                "specifiers expand to more than {} KiB in this unit",
                GROWTH_MAX / 1024
            ));
        }
    }
    ctx.grown
        .set(ctx.grown.get() + out.len().saturating_sub(s.len()));
    Ok(out)
}

fn specifier(x: char, name: &UnitName, ctx: &SpecContext) -> Result<String, String> {
    let instance = name.instance.unwrap_or("");
    // The last dash-separated part of the prefix.
    let last = name.prefix.rsplit('-').next().unwrap_or(name.prefix);
    Ok(match x {
        '%' => "%".into(),
        'n' => ctx.unit.clone(),
        'N' => name.stem.into(),
        'p' => name.prefix.into(),
        'P' => unescape(name.prefix),
        'i' => instance.into(),
        'I' => unescape(instance),
        'j' => last.into(),
        'J' => unescape(last),
        'f' => path_unescape(name.instance.unwrap_or(name.prefix)),
        'h' => ctx.home.clone(),
        'u' => ctx.user.clone(),
        'U' => ctx.uid.to_string(),
        'g' => ctx.group.clone(),
        'G' => ctx.gid.to_string(),
        't' => ctx.runtime_dir.clone(),
        'S' => ctx.state_dir.clone(),
        'C' => ctx.cache_dir.clone(),
        'L' => ctx.logs_dir.clone(),
        'E' => ctx.config_dir.clone(),
        'T' => "/tmp".into(),
        'V' => "/var/tmp".into(),
        _ => return Err(format!("unsupported specifier %{x}")),
    })
}

/// Undoes systemd's unit-name escaping (systemd-escape(1)): `-` is `/`,
/// `\xNN` a byte. A malformed `\x` is kept as written.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex_escape(&b[i..])) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (b'-', _) => {
                out.push(b'/');
                i += 1;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_escape(b: &[u8]) -> Option<u8> {
    match b {
        [b'\\', b'x', h, l, ..] => {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(*h)? * 16 + d(*l)?) as u8)
        }
        _ => None,
    }
}

/// `%f`: an escaped path back to an absolute path (`-` alone is `/`).
fn path_unescape(s: &str) -> String {
    let p = unescape(s);
    match p.starts_with('/') {
        true => p,
        false => format!("/{p}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(unit: &str, s: &str) -> Result<String, String> {
        expand(s, &SpecContext::system(unit))
    }

    #[test]
    fn names() {
        let cases = [
            (
                "nginx.service",
                "%n %N %p %i|",
                "nginx.service nginx nginx |",
            ),
            (
                "getty@tty1.service",
                "%n %N %p %i %I",
                "getty@tty1.service getty@tty1 getty tty1 tty1",
            ),
            (
                "dev-disk@dev-sda1.service",
                "%p %P %j %J %i %I %f",
                "dev-disk dev/disk disk disk dev-sda1 dev/sda1 /dev/sda1",
            ),
            ("a@x\\x20y.service", "%I", "x y"),
            ("mnt-data.mount", "%f", "/mnt/data"),
            ("-.mount", "%f", "/"),
        ];
        for (unit, s, want) in cases {
            assert_eq!(ex(unit, s).as_deref(), Ok(want), "{unit} {s}");
        }
    }

    #[test]
    fn context_values() {
        let mut ctx = SpecContext::system("web@2.service");
        ctx.user = "app".into();
        ctx.uid = 1000;
        ctx.gid = 100;
        ctx.group = "users".into();
        ctx.home = "/home/app".into();
        assert_eq!(
            expand("%u:%U %g:%G %h %t/%i %S %C %L %E %T %V 100%%", &ctx).as_deref(),
            Ok("app:1000 users:100 /home/app /run/2 /var/lib /var/cache /var/log /etc /tmp /var/tmp 100%")
        );
    }

    #[test]
    fn growth_is_bounded_per_unit() {
        let ctx = SpecContext::system(&format!("{}.service", "n".repeat(200)));
        let line = "%n".repeat(1000);
        let mut ok = 0;
        while expand(&line, &ctx).is_ok() {
            ok += 1;
            assert!(ok < 100, "no bound");
        }
        assert!(ok >= 4, "bound too tight: {ok}");
        let e = expand(&line, &ctx).unwrap_err();
        assert_eq!(e, "specifiers expand to more than 1024 KiB in this unit");
        // Another unit starts afresh.
        let other = SpecContext::system("web.service");
        assert!(expand(&line, &other).is_ok());
    }

    #[test]
    fn unknown_specifiers_are_named() {
        assert_eq!(
            ex("a.service", "x %H y"),
            Err("unsupported specifier %H".into())
        );
        assert!(ex("a.service", "50%").unwrap_err().contains("lone '%'"));
        assert_eq!(
            ex("a.service", "no specifiers").as_deref(),
            Ok("no specifiers")
        );
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(unescape("a\\x4"), "a\\x4");
        assert_eq!(unescape("a\\xzz-b"), "a\\xzz/b");
        assert_eq!(unescape("\\x2d"), "-");
    }
}

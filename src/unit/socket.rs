//! A layered `.socket` unit -> `UnitSocket` (systemd.socket(5)), the
//! part SPEC §8 supports: `ListenStream`, `ListenDatagram`,
//! `ListenSequentialPacket`, `FileDescriptorName`, `SocketMode`,
//! `Backlog`, `Accept=no`. Other directives are listed as unsupported;
//! `Accept=yes` (one service instance per connection) is an error, since
//! the service would not get what it was written for.

use super::common::{Build, Install, UnitSection};
use super::parse::Layered;
use super::spec::SpecContext;
use super::value;
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    Stream,
    Datagram,
    SequentialPacket,
}

/// A listen address as systemd.socket(5) writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    /// A bare port: every address, IPv6 and IPv4 (`[::]:PORT`).
    Port(u16),
    Inet(SocketAddr),
    /// A path in the file system.
    Unix(String),
    /// `@NAME`: the abstract namespace (NAME without the `@`).
    Abstract(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub kind: SocketKind,
    pub address: SocketAddress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSocket {
    pub name: String,
    pub unit: UnitSection,
    pub listen: Vec<Listen>,
    /// LISTEN_FDNAMES entry; systemd's default is the socket unit's name.
    pub fd_name: String,
    pub socket_mode: u32,
    pub backlog: u32,
    pub install: Install,
    pub unsupported: Vec<String>,
    pub warnings: Vec<String>,
}

/// Builds the socket `ctx.unit` from its layered files.
pub fn socket(layered: &Layered, ctx: &SpecContext) -> Result<UnitSocket, Vec<String>> {
    let mut s = UnitSocket {
        name: ctx.unit.clone(),
        unit: UnitSection::default(),
        listen: Vec::new(),
        fd_name: ctx.unit.clone(),
        socket_mode: 0o666,
        // SOMAXCONN of current kernels, systemd's default.
        backlog: 4096,
        install: Install::default(),
        unsupported: Vec::new(),
        warnings: Vec::new(),
    };
    let mut b = Build::new(layered, ctx);
    b.each(&["Unit", "Socket", "Install"], &mut |b, d| {
        let v = d.value.as_str();
        let kind = |k: &str| match k {
            "ListenStream" => Some(SocketKind::Stream),
            "ListenDatagram" => Some(SocketKind::Datagram),
            "ListenSequentialPacket" => Some(SocketKind::SequentialPacket),
            _ => None,
        };
        match (d.section.as_str(), d.key.as_str(), kind(&d.key)) {
            ("Unit", k, _) => b.apply_unit(k, v),
            ("Install", k, _) => b.apply_install(k, v),
            ("Socket", _, Some(kind)) => {
                let address = address(kind, &b.expand(v)?)?;
                s.listen.push(Listen { kind, address });
                Ok(true)
            }
            ("Socket", "FileDescriptorName", _) => {
                s.fd_name = fd_name(&b.expand(v)?)?;
                Ok(true)
            }
            ("Socket", "SocketMode", _) => {
                s.socket_mode = value::parse_mode(v, 0o777)?;
                Ok(true)
            }
            ("Socket", "Backlog", _) => {
                s.backlog = v.parse().map_err(|_| "expected a count")?;
                Ok(true)
            }
            ("Socket", "Accept", _) => match value::parse_bool(v)? {
                false => Ok(true),
                true => Err("one service instance per connection is not supported".into()),
            },
            _ => Ok(false),
        }
    });
    if s.listen.is_empty() {
        let name = layered.files.first().map_or("?", String::as_str);
        b.errors.push(format!(
            "{name}: no ListenStream=, ListenDatagram= or ListenSequentialPacket="
        ));
    }
    (s.unit, s.install, s.unsupported, s.warnings) = b.done()?;
    Ok(s)
}

/// systemd's socket_address_parse, for the forms a container needs:
/// `PORT`, `IPv4:PORT`, `[IPv6]:PORT`, `/path`, `@abstract`.
fn address(kind: SocketKind, v: &str) -> Result<SocketAddress, String> {
    let a = if v.starts_with('/') {
        if v.len() > 107 {
            return Err("unix socket path longer than 107 bytes".into());
        }
        SocketAddress::Unix(v.to_string())
    } else if let Some(name) = v.strip_prefix('@') {
        SocketAddress::Abstract(name.to_string())
    } else if v.bytes().all(|b| b.is_ascii_digit()) {
        match v.parse::<u16>() {
            Ok(p) if p > 0 => SocketAddress::Port(p),
            _ => return Err("port out of range 1-65535".into()),
        }
    } else {
        let a: SocketAddr = v
            .parse()
            .map_err(|_| "expected PORT, IP:PORT, [IPv6]:PORT, /path or @name".to_string())?;
        SocketAddress::Inet(a)
    };
    let unix = matches!(a, SocketAddress::Unix(_) | SocketAddress::Abstract(_));
    if kind == SocketKind::SequentialPacket && !unix {
        return Err("sequential packet sockets are unix sockets only".into());
    }
    Ok(a)
}

/// At most 255 printable ASCII characters, no `:` (it separates names in
/// LISTEN_FDNAMES).
fn fd_name(v: &str) -> Result<String, String> {
    let ok =
        !v.is_empty() && v.len() <= 255 && v.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    match ok {
        true => Ok(v.to_string()),
        false => Err("expected 1-255 printable characters without ':'".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::common::kind;
    use crate::unit::parse::{layer, parse};

    fn build(files: &[(&str, &str)]) -> Result<UnitSocket, Vec<String>> {
        let parsed: Vec<_> = files
            .iter()
            .map(|(n, t)| (n.to_string(), parse(t).expect("parses")))
            .collect();
        socket(&layer(&parsed, &kind), &SpecContext::system("web.socket"))
    }

    #[test]
    fn a_typical_socket_unit() {
        let s = build(&[(
            "web.socket",
            "[Unit]\nDescription=web socket\n[Socket]\nListenStream=80\nListenStream=127.0.0.1:8080\n\
             ListenStream=[::1]:8443\nListenDatagram=/run/%N.dgram\nListenSequentialPacket=@seq\n\
             FileDescriptorName=http\nSocketMode=0600\nBacklog=128\nAccept=no\nNoDelay=yes\n\
             [Install]\nWantedBy=sockets.target\n",
        )])
        .unwrap();
        let addrs: Vec<_> = s
            .listen
            .iter()
            .map(|l| (l.kind, l.address.clone()))
            .collect();
        assert_eq!(
            addrs,
            vec![
                (SocketKind::Stream, SocketAddress::Port(80)),
                (
                    SocketKind::Stream,
                    SocketAddress::Inet("127.0.0.1:8080".parse().unwrap())
                ),
                (
                    SocketKind::Stream,
                    SocketAddress::Inet("[::1]:8443".parse().unwrap())
                ),
                (
                    SocketKind::Datagram,
                    SocketAddress::Unix("/run/web.dgram".into())
                ),
                (
                    SocketKind::SequentialPacket,
                    SocketAddress::Abstract("seq".into())
                ),
            ]
        );
        assert_eq!(
            (s.fd_name.as_str(), s.socket_mode, s.backlog),
            ("http", 0o600, 128)
        );
        assert_eq!(s.unsupported, vec!["NoDelay"]);
        assert_eq!(s.install.wanted_by, vec!["sockets.target"]);
        assert_eq!(s.unit.description.as_deref(), Some("web socket"));
    }

    #[test]
    fn defaults_and_resets() {
        let s = build(&[
            (
                "web.socket",
                "[Socket]\nListenStream=80\nListenDatagram=53\n",
            ),
            (
                "web.socket.d/x.conf",
                "[Socket]\nListenDatagram=\nListenStream=/run/web.sock\n",
            ),
        ])
        .unwrap();
        assert_eq!(s.listen.len(), 1);
        assert_eq!(
            (s.fd_name.as_str(), s.socket_mode, s.backlog),
            ("web.socket", 0o666, 4096)
        );
    }

    #[test]
    fn refusals() {
        let cases = [
            ("[Socket]\nListenStream=80\nAccept=yes\n", "per connection"),
            ("[Socket]\nListenStream=0\n", "port"),
            ("[Socket]\nListenStream=example.com:80\n", "expected PORT"),
            ("[Socket]\nListenSequentialPacket=80\n", "unix sockets only"),
            (
                "[Socket]\nListenStream=80\nFileDescriptorName=a:b\n",
                "without ':'",
            ),
            ("[Socket]\nBacklog=1\n", "no ListenStream="),
        ];
        for (text, want) in cases {
            let e = build(&[("web.socket", text)]).expect_err(text);
            assert!(e.iter().any(|e| e.contains(want)), "{text:?}: {e:?}");
        }
    }
}

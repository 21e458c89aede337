//! Where an outbound call may connect. An organization's admin chooses the
//! host of an integration or webhook, so a host that resolves to the bank's
//! own network (loopback, private ranges, link-local and cloud metadata,
//! unique-local IPv6, and IPv4 wrapped in IPv6) is refused unless an
//! operator put it on the allowlist. The check is on the addresses the name
//! resolves to at connect time, not on the name, so a DNS answer cannot
//! smuggle an internal address past it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// The URL is not http(s) or has no host.
    #[error("Only http and https addresses with a host name can be called.")]
    NotHttp,
    /// Plain http to a host that is not allowlisted.
    #[error("Only https addresses can be called (plain http only to allowlisted hosts).")]
    NotHttps,
    /// SMTP without TLS to a host that is not allowlisted.
    #[error(
        "A mail server is reached over STARTTLS or TLS (plain text only to allowlisted hosts)."
    )]
    PlainSmtp,
    /// The host is, or resolves to, an address inside the bank's network.
    #[error("{host} is an internal address; only public hosts can be called.")]
    Internal {
        /// The host as written.
        host: String,
    },
    /// The name did not resolve.
    #[error("{host} could not be resolved.")]
    Unresolved {
        /// The host as written.
        host: String,
    },
}

/// Hosts an operator admits although they are internal (tests, providers on
/// the bank's premises): exact names or IP literals, compared without case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    hosts: Vec<String>,
}

impl Allowlist {
    /// An allowlist of `hosts` (e.g. from a comma-separated setting).
    pub fn new<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>) -> Self {
        Allowlist {
            hosts: hosts
                .into_iter()
                .map(|h| h.as_ref().trim().trim_matches(['[', ']']).to_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Whether `host` (a name or IP literal) is on the list.
    pub fn admits(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']).to_lowercase();
        self.hosts.contains(&host)
    }
}

/// Whether `ip` lies inside a network an outside caller must never reach.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata among them
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
}

/// The IPv4 address an IPv6 address stands for: mapped (::ffff:a.b.c.d),
/// compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:ab:cd::).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail());
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// Checks a URL before any connection: http(s) with a host, https unless the
/// host is allowlisted, and an IP literal host (in any of the forms a URL
/// parser accepts: decimal, octal, hex, IPv6) not internal unless
/// allowlisted. Names are checked when they resolve ([`resolve`]).
pub fn check_url(url: &reqwest::Url, allowlist: &Allowlist) -> Result<(), DestinationError> {
    let host = url.host_str().ok_or(DestinationError::NotHttp)?;
    let allowed = allowlist.admits(host);
    match url.scheme() {
        "https" => {}
        "http" if allowed => {}
        "http" => return Err(DestinationError::NotHttps),
        _ => return Err(DestinationError::NotHttp),
    }
    // the URL parser has already written IPv4 in dotted form
    let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
    match literal {
        Some(ip) if is_internal(ip) && !allowed => Err(DestinationError::Internal {
            host: host.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The addresses `host` resolves to, all of them public (or the host
/// allowlisted): one internal answer refuses the whole name, so a resolver
/// that mixes answers cannot steer a connection inside.
pub async fn resolve(
    host: &str,
    port: u16,
    allowlist: &Allowlist,
) -> Result<Vec<SocketAddr>, DestinationError> {
    let unresolved = || DestinationError::Unresolved {
        host: host.to_string(),
    };
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| unresolved())?
        .collect();
    if addresses.is_empty() {
        return Err(unresolved());
    }
    if !allowlist.admits(host) && addresses.iter().any(|a| is_internal(a.ip())) {
        return Err(DestinationError::Internal {
            host: host.to_string(),
        });
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn the_bank_s_own_networks_are_internal() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "2002:c0a8:0101::1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
    }

    #[test]
    fn public_addresses_are_not_internal() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn ip_literals_in_any_written_form_are_checked() {
        let none = Allowlist::default();
        for written in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://0177.0.0.1/",
            "https://[::ffff:7f00:1]/",
            "https://169.254.169.254/latest/meta-data/",
        ] {
            assert!(
                matches!(
                    check_url(&url(written), &none),
                    Err(DestinationError::Internal { .. })
                ),
                "{written}"
            );
        }
    }

    #[test]
    fn plain_http_and_other_schemes_are_refused_unless_allowlisted() {
        let none = Allowlist::default();
        assert_eq!(
            check_url(&url("http://api.example.com/"), &none),
            Err(DestinationError::NotHttps)
        );
        assert_eq!(
            check_url(&url("ftp://api.example.com/"), &none),
            Err(DestinationError::NotHttp)
        );
        assert_eq!(check_url(&url("https://api.example.com/x"), &none), Ok(()));
        let local = Allowlist::new(["127.0.0.1", "Mail.Internal"]);
        assert_eq!(check_url(&url("http://127.0.0.1:8025/"), &local), Ok(()));
        assert_eq!(check_url(&url("http://mail.internal/"), &local), Ok(()));
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_and_allowlisting_admits_it() {
        assert_eq!(
            resolve("localhost", 443, &Allowlist::default()).await,
            Err(DestinationError::Internal {
                host: "localhost".into()
            })
        );
        let admitted = resolve("localhost", 443, &Allowlist::new(["localhost"]))
            .await
            .unwrap();
        assert!(admitted.iter().all(|a| a.ip().is_loopback()));
    }
}

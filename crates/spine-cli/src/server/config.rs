//! How `spine serve` protects itself and its host: timeouts, caps and the Host allowlist.
//!
//! One value, [`ServerConfig`], built from `spine serve`'s flags (or by tests, with sub-second
//! timeouts), read by the router (request timeout, expensive-request cap, Host check) and the
//! accept loop (header and idle timeouts, connection cap). The defaults live here, once: clap
//! shows them in `--help` from these constants.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use axum::http::uri::Authority;

/// Seconds a client has to send a complete request head (request line and headers): from the
/// connection's opening for its first request, from the first byte of each later one. A client
/// that trickles its headers (slow-loris) is cut off after this.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Seconds a handler may spend reading a request body. No route reads one (the API is GET
/// only); an unread body is discarded after the answer.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;
/// Seconds a keep-alive connection may sit with no byte sent or received before the server
/// closes it: idle connections hold a file descriptor and a slot of `--max-connections`.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30;
/// Seconds a request may take before it is answered 503 with `Retry-After`.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Connections served at once; past it a new connection is answered 503 and closed. Well below
/// the usual 1,024 open files per process, so the server never runs out of descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Expensive requests (the doctor, metrics, the anomaly list) answered at once; past it they
/// are answered 503 with `Retry-After` at once rather than queued.
pub const DEFAULT_MAX_EXPENSIVE: usize = 4;

/// `Retry-After` of a request refused by a cap: a slot frees as soon as one answer is sent.
pub const RETRY_AFTER_BUSY_SECS: u64 = 1;
/// `Retry-After` of a request that ran past the request timeout: the database is slow, and
/// retrying at once would only add to its load.
pub const RETRY_AFTER_TIMEOUT_SECS: u64 = 5;

/// The Host names every server answers to: loopback, under the names a local client uses.
pub const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The server's limits. [`Default`] is what `spine serve` runs with when given no flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// See [`DEFAULT_HEADER_TIMEOUT_SECS`].
    pub header_timeout: Duration,
    /// See [`DEFAULT_BODY_TIMEOUT_SECS`].
    pub body_timeout: Duration,
    /// See [`DEFAULT_IDLE_TIMEOUT_SECS`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_REQUEST_TIMEOUT_SECS`].
    pub request_timeout: Duration,
    /// See [`DEFAULT_MAX_CONNECTIONS`]; at least 1.
    pub max_connections: usize,
    /// See [`DEFAULT_MAX_EXPENSIVE`]; at least 1.
    pub max_expensive: usize,
    /// The Host names answered; any other is refused with 421.
    pub allowed_hosts: AllowedHosts,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_expensive: DEFAULT_MAX_EXPENSIVE,
            allowed_hosts: AllowedHosts::loopback(),
        }
    }
}

/// The Host names the server answers to, any port.
///
/// A browser visiting an attacker's page can be made to send requests to the loopback API
/// under the attacker's own name, once that name's DNS answer is switched to 127.0.0.1 (DNS
/// rebinding); the browser then lets the page read the answers, because to it they come from
/// the page's own origin. The request still carries the attacker's name in `Host`, so
/// answering only the names we know defeats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// [`LOOPBACK_HOSTS`] only.
    pub fn loopback() -> AllowedHosts {
        AllowedHosts {
            names: LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect(),
        }
    }

    /// [`LOOPBACK_HOSTS`] and `extra` (each checked as `--allow-host` checks it).
    pub fn with(extra: &[String]) -> Result<AllowedHosts, String> {
        let mut hosts = AllowedHosts::loopback();
        for name in extra {
            let name = parse_host_name(name)?;
            if !hosts.names.contains(&name) {
                hosts.names.push(name);
            }
        }
        Ok(hosts)
    }

    /// The names, normalised (lower case, IPv6 in brackets), loopback first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether `authority` (a `Host` header value or a request URI's authority, with or
    /// without a port) names an allowed host. Anything malformed, or with user information,
    /// is not.
    pub fn allows(&self, authority: &str) -> bool {
        host_of(authority).is_some_and(|host| self.names.contains(&host))
    }
}

/// The host part of `authority`, normalised as [`parse_host_name`] does; `None` when it does
/// not parse as `host[:port]`.
fn host_of(authority: &str) -> Option<String> {
    if authority.contains('@') {
        return None;
    }
    let parsed = Authority::from_str(authority).ok()?;
    let host = parsed.host();
    // Without user information the authority is the host, then `:port` or nothing; the
    // parser is lenient about what follows the colon, this is not.
    let port = authority.strip_prefix(host)?;
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if host.is_empty() || !port_ok {
        return None;
    }
    Some(normalise(host))
}

/// Lower case; IP addresses in their canonical text (IPv6 in brackets), so `[0:0::1]` and
/// `[::1]` are the same name.
fn normalise(host: &str) -> String {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<Ipv6Addr>()
    {
        return format!("[{ip}]");
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return format!("[{ip}]");
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip.to_string();
    }
    host.to_ascii_lowercase()
}

/// An `--allow-host` value: a DNS name or an IP address, without a port (every port is
/// answered: the port says nothing about who is asking). Returned normalised.
pub fn parse_host_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    let bare_ipv6 = s.parse::<Ipv6Addr>().is_ok();
    let valid = !s.is_empty()
        && !s.contains('@')
        && (bare_ipv6
            || Authority::from_str(s)
                .is_ok_and(|a| a.port().is_none() && !a.host().is_empty() && a.host() == s));
    if !valid {
        return Err(format!(
            "`{s}` is not a host name: give a DNS name or an IP address without a port \
             (e.g. spine.example.com, 10.0.0.5, [fd00::5]); every port is answered"
        ));
    }
    Ok(normalise(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_allowed_on_any_port_and_nothing_else() {
        let hosts = AllowedHosts::loopback();
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:18080",
            "[::1]",
            "[::1]:8080",
            "[0:0:0:0:0:0:0:1]:80",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.2",
            "::1",
            "",
            ":8080",
            "localhost:port",
            "user@localhost",
            "localhost@evil.example",
            "evil.example#localhost",
            "localhost/x",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn allow_host_adds_names_without_ports() {
        let hosts = AllowedHosts::with(&[
            "Spine.Example.com".to_string(),
            "10.0.0.5".to_string(),
            "fd00::5".to_string(),
            "localhost".to_string(),
        ])
        .unwrap();
        assert_eq!(
            hosts.names(),
            [
                "localhost",
                "127.0.0.1",
                "[::1]",
                "spine.example.com",
                "10.0.0.5",
                "[fd00::5]"
            ]
        );
        assert!(hosts.allows("spine.example.com:443"));
        assert!(hosts.allows("[fd00::5]:8080"));
        assert!(!hosts.allows("example.com"));
        for bad in ["spine.example.com:8080", "", "a b", "user@host", "http://x"] {
            let err = parse_host_name(bad).unwrap_err();
            assert!(err.contains("without a port"), "{bad}: {err}");
        }
    }
}

//! `@ipMatch`: is the value an IP address inside one of these networks? Used
//! on `REMOTE_ADDR` for allow- and deny-lists.
//!
//! ModSecurity semantics followed: the parameter lists IPv4 and IPv6
//! addresses and CIDR blocks (`192.168.1.1`, `10.0.0.0/8`, `::1`,
//! `2001:db8::/32`), comma-separated within an entry as in SecLang; a
//! network's host bits are ignored (`10.1.2.3/8` means `10.0.0.0/8`). The
//! value (whitespace-trimmed) must parse as a whole address; anything else,
//! including an address with a port or a zone, does not match.
//!
//! One extension: an IPv4-mapped IPv6 value (`::ffff:10.1.2.3`, which a
//! dual-stack listener reports for IPv4 clients) is also tested against the
//! IPv4 networks, so an IPv4 deny-list cannot be sidestepped by the socket
//! family.
//!
//! Parsing is `std::net` plus our own prefix handling; any malformed entry
//! fails the rule at load time with the entry named. Lookup is a linear scan
//! of (network, mask) pairs, a few instructions each: fine for allow-lists of
//! hundreds of entries, not meant for reputation feeds of millions.

use std::net::IpAddr;

use super::OpMatch;

/// A set of IPv4 and IPv6 networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    /// (network address, netmask), host bits of the address cleared.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// The netmask with the top `prefix` of 32 bits set (`prefix` <= 32).
fn mask_v4(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}

/// The netmask with the top `prefix` of 128 bits set (`prefix` <= 128).
fn mask_v6(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix).unwrap_or(0)
}

impl IpSet {
    /// Parses addresses and CIDRs: `10.0.0.0/8`, `192.168.1.1`, `::1`,
    /// `fd00::/8`. Entries may also hold comma-separated lists.
    ///
    /// # Errors
    /// A message naming the first entry that is not an address or CIDR, or
    /// whose prefix length is not 0..=32 (IPv4) / 0..=128 (IPv6); or that no
    /// entry was given.
    pub fn parse(list: &[String]) -> Result<IpSet, String> {
        let mut set = IpSet {
            v4: Vec::new(),
            v6: Vec::new(),
        };
        for entry in list
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a.trim(), Some(p.trim())),
                None => (entry, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{entry}` is not an IP address or CIDR"))?;
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => width,
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    match p.parse::<u32>() {
                        Ok(n) if n <= width => n,
                        _ => return Err(format!("`{entry}`: prefix length must be 0..={width}")),
                    }
                }
                Some(_) => return Err(format!("`{entry}`: prefix length is not a number")),
            };
            match addr {
                IpAddr::V4(a) => {
                    let mask = mask_v4(prefix);
                    set.v4.push((u32::from(a) & mask, mask));
                }
                IpAddr::V6(a) => {
                    let mask = mask_v6(prefix);
                    set.v6.push((u128::from(a) & mask, mask));
                }
            }
        }
        if set.v4.is_empty() && set.v6.is_empty() {
            return Err("no addresses given".to_string());
        }
        Ok(set)
    }

    /// Matches when the trimmed value is an address inside one of the
    /// networks. The match covers the whole value.
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        let addr: IpAddr = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
        let hit = match addr {
            IpAddr::V4(a) => self.contains_v4(u32::from(a)),
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                self.v6.iter().any(|&(net, mask)| bits & mask == net)
                    || a.to_ipv4_mapped()
                        .is_some_and(|v4| self.contains_v4(u32::from(v4)))
            }
        };
        hit.then(OpMatch::whole)
    }

    fn contains_v4(&self, bits: u32) -> bool {
        self.v4.iter().any(|&(net, mask)| bits & mask == net)
    }
}

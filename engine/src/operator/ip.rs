//! `@ipMatch`: is the value an address inside one of these networks? IPv4 and
//! IPv6, single addresses or CIDR blocks, parsed once at load.

use std::net::IpAddr;

use super::OpMatch;

/// A set of networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    /// (network address as 128 bits, prefix length, is IPv4)
    nets: Vec<(u128, u8, bool)>,
}

fn bits(addr: IpAddr) -> (u128, bool) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), true),
        IpAddr::V6(a) => (u128::from(a), false),
    }
}

fn mask(value: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(width - prefix);
    (value >> shift) << shift
}

impl IpSet {
    /// Parses `10.0.0.0/8`, `192.168.1.1`, `::1`, `fd00::/8`.
    ///
    /// # Errors
    /// A message naming the entry that is not an address or CIDR.
    pub fn parse(list: &[String]) -> Result<IpSet, String> {
        let mut nets = Vec::new();
        for entry in list
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (entry, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{entry}` is not an IP address or CIDR"))?;
            let (value, v4) = bits(addr);
            let width = if v4 { 32 } else { 128 };
            let prefix = match prefix {
                None => width,
                Some(p) => match p.parse::<u8>() {
                    Ok(p) if p <= width => p,
                    _ => return Err(format!("`{entry}`: prefix must be 0..{width}")),
                },
            };
            nets.push((mask(value, prefix, width), prefix, v4));
        }
        if nets.is_empty() {
            return Err("no addresses given".to_string());
        }
        Ok(IpSet { nets })
    }

    /// Matches when the (trimmed) value parses as an address inside a network.
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        let text = std::str::from_utf8(value).ok()?.trim();
        let addr: IpAddr = text.parse().ok()?;
        let (value, v4) = bits(addr);
        let width = if v4 { 32 } else { 128 };
        self.nets
            .iter()
            .any(|&(net, prefix, net_v4)| net_v4 == v4 && mask(value, prefix, width) == net)
            .then(OpMatch::whole)
    }
}

//! IP network functions over IPv4 and IPv6 CIDR prefixes, with addresses held as `u128` so one
//! code path serves both families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hcl::Value;

use super::{int_arg, str_arg, value_to_int};

#[derive(Clone, Copy)]
struct Net {
    /// network address (host bits cleared)
    base: u128,
    len: u32,
    /// 32 or 128
    bits: u32,
}

fn mask(len: u32, bits: u32) -> u128 {
    let all = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    if len == 0 { 0 } else { all & !((1u128 << (bits - len)) - 1) & all }
}

fn host_mask(len: u32, bits: u32) -> u128 {
    let all = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    all & !mask(len, bits)
}

fn parse(prefix: &str) -> Result<Net, String> {
    let bad = || format!("invalid CIDR expression: invalid CIDR address: {prefix}");
    let (addr, len) = prefix.split_once('/').ok_or_else(bad)?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    let (value, bits) = match addr.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    if len > bits {
        return Err(bad());
    }
    Ok(Net { base: value & mask(len, bits), len, bits })
}

fn addr_text(value: u128, bits: u32) -> String {
    if bits == 32 {
        // a 32-bit network never holds more than 32 bits
        Ipv4Addr::from(value as u32).to_string()
    } else {
        Ipv6Addr::from(value).to_string()
    }
}

/// `cidrhost(prefix, hostnum)`: a negative host number counts back from the end of the range.
pub(super) fn cidrhost(args: &[Value]) -> Result<Value, String> {
    let net = parse(&str_arg(args, 0, "prefix")?)?;
    let hostnum = int_arg(args, 1, "hostnum")?;
    let host_bits = net.bits - net.len;
    let size: i128 = if host_bits >= 127 { i128::MAX } else { 1i128 << host_bits };
    let index = if hostnum < 0 { size + i128::from(hostnum) } else { i128::from(hostnum) };
    if index < 0 || index >= size {
        return Err(format!(
            "prefix of {} does not accommodate a host numbered {hostnum}",
            net.len
        ));
    }
    Ok(Value::String(addr_text(net.base | index as u128, net.bits)))
}

/// `cidrnetmask(prefix)`; an IPv6 prefix gives its mask in IPv6 notation, as Packer does.
pub(super) fn cidrnetmask(args: &[Value]) -> Result<Value, String> {
    let net = parse(&str_arg(args, 0, "prefix")?)?;
    Ok(Value::String(addr_text(mask(net.len, net.bits), net.bits)))
}

fn subnet(net: Net, newbits: i64, netnum: i64) -> Result<Net, String> {
    if newbits < 0 {
        return Err("newbits must be non-negative".to_string());
    }
    let new_len = i64::from(net.len) + newbits;
    if new_len > i64::from(net.bits) {
        return Err(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            net.len
        ));
    }
    let new_len = new_len as u32;
    let limit: i128 = 1i128 << newbits.min(126);
    if netnum < 0 || i128::from(netnum) >= limit {
        return Err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
        ));
    }
    let shift = net.bits - new_len;
    let offset = if shift >= 128 { 0 } else { (netnum as u128) << shift };
    Ok(Net { base: net.base | offset, len: new_len, bits: net.bits })
}

fn net_text(net: Net) -> String {
    format!("{}/{}", addr_text(net.base, net.bits), net.len)
}

pub(super) fn cidrsubnet(args: &[Value]) -> Result<Value, String> {
    let net = parse(&str_arg(args, 0, "prefix")?)?;
    let newbits = int_arg(args, 1, "newbits")?;
    let netnum = int_arg(args, 2, "netnum")?;
    subnet(net, newbits, netnum).map(|n| Value::String(net_text(n)))
}

/// `cidrsubnets(prefix, newbits...)`: consecutive subnets, each aligned to its own size, as
/// Terraform allocates them.
pub(super) fn cidrsubnets(args: &[Value]) -> Result<Value, String> {
    let net = parse(&str_arg(args, 0, "prefix")?)?;
    let all = host_mask(0, net.bits);
    // the address just past the previous subnet, or None when the space wrapped around
    let mut cursor: Option<u128> = Some(net.base);
    let mut out = Vec::new();
    for v in &args[1..] {
        let newbits = value_to_int(v, "newbits")?;
        if newbits < 1 {
            return Err("invalid value for \"newbits\" parameter: must extend prefix by at least one bit".to_string());
        }
        let len = i64::from(net.len) + newbits;
        if len > i64::from(net.bits) {
            let family = if net.bits == 32 { "IPv4" } else { "IPv6" };
            return Err(format!(
                "invalid value for \"newbits\" parameter: would extend prefix to {len} bits, which is too long for an {family} address"
            ));
        }
        let len = len as u32;
        let no_space = || {
            format!(
                "invalid value for \"newbits\" parameter: not enough remaining address space for a subnet with a prefix of {len} bits after {}",
                out.last().and_then(Value::as_str).unwrap_or(&net_text(net))
            )
        };
        let start = cursor.ok_or_else(no_space)?;
        // align up to the subnet's size
        let hm = host_mask(len, net.bits);
        let aligned = if start & hm == 0 { Some(start) } else { (start | hm).checked_add(1).filter(|a| *a <= all) };
        let Some(aligned) = aligned else { return Err(no_space()) };
        if aligned & mask(net.len, net.bits) != net.base {
            return Err(no_space());
        }
        let sub = Net { base: aligned, len, bits: net.bits };
        out.push(Value::String(net_text(sub)));
        cursor = (aligned | hm).checked_add(1).filter(|a| *a <= all);
    }
    Ok(Value::Array(out))
}

/// `cidrcontains(prefix, address_or_prefix)`: whether the second lies wholly inside the first.
pub(super) fn cidrcontains(args: &[Value]) -> Result<Value, String> {
    let outer_text = str_arg(args, 0, "containing_prefix")?;
    let inner_text = str_arg(args, 1, "contained_ip_or_prefix")?;
    let outer = parse(&outer_text)?;
    let inner = if inner_text.contains('/') {
        parse(&inner_text)?
    } else {
        match inner_text.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Net { base: u128::from(u32::from(a)), len: 32, bits: 32 },
            Ok(IpAddr::V6(a)) => Net { base: u128::from(a), len: 128, bits: 128 },
            Err(_) => return Err(format!("invalid IP address: {inner_text}")),
        }
    };
    if outer.bits != inner.bits {
        return Err(format!("address family mismatch: {outer_text} vs. {inner_text}"));
    }
    let inside = inner.len >= outer.len && inner.base & mask(outer.len, outer.bits) == outer.base;
    Ok(Value::Bool(inside))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn hosts() {
        assert_eq!(call("cidrhost", vec![s("10.12.112.0/20"), n(16.0)]), s("10.12.112.16"));
        assert_eq!(call("cidrhost", vec![s("10.12.112.0/20"), n(268.0)]), s("10.12.113.12"));
        assert_eq!(call("cidrhost", vec![s("10.12.112.0/20"), n(-1.0)]), s("10.12.127.255"));
        assert_eq!(call("cidrhost", vec![s("fd00:fd12:3456:7890:00a2::/72"), n(34.0)]), s("fd00:fd12:3456:7890::22"));
        assert_eq!(
            call_err("cidrhost", vec![s("10.0.0.0/30"), n(4.0)]),
            "prefix of 30 does not accommodate a host numbered 4"
        );
        assert_eq!(
            call_err("cidrhost", vec![s("10.0.0.0"), n(1.0)]),
            "invalid CIDR expression: invalid CIDR address: 10.0.0.0"
        );
    }

    #[test]
    fn containment() {
        assert_eq!(call("cidrcontains", vec![s("10.0.0.0/8"), s("10.1.2.3")]), hcl::Value::Bool(true));
        assert_eq!(call("cidrcontains", vec![s("10.0.0.0/8"), s("10.1.0.0/16")]), hcl::Value::Bool(true));
        assert_eq!(call("cidrcontains", vec![s("10.0.0.0/16"), s("10.0.0.0/8")]), hcl::Value::Bool(false));
        assert_eq!(call("cidrcontains", vec![s("fd00::/8"), s("fd12::1")]), hcl::Value::Bool(true));
        assert_eq!(
            call_err("cidrcontains", vec![s("10.0.0.0/8"), s("2001:db8::1")]),
            "address family mismatch: 10.0.0.0/8 vs. 2001:db8::1"
        );
    }

    #[test]
    fn netmasks() {
        assert_eq!(call("cidrnetmask", vec![s("172.16.0.0/12")]), s("255.240.0.0"));
        assert_eq!(call("cidrnetmask", vec![s("10.0.0.0/0")]), s("0.0.0.0"));
        assert_eq!(call("cidrnetmask", vec![s("10.0.0.0/32")]), s("255.255.255.255"));
        assert_eq!(call("cidrnetmask", vec![s("fd00::/64")]), s("ffff:ffff:ffff:ffff::"));
        assert!(call_err("cidrnetmask", vec![s("10.0.0.0/33")]).starts_with("invalid CIDR expression"));
    }

    #[test]
    fn subnets() {
        assert_eq!(call("cidrsubnet", vec![s("172.16.0.0/12"), n(4.0), n(2.0)]), s("172.18.0.0/16"));
        assert_eq!(call("cidrsubnet", vec![s("10.1.2.0/24"), n(4.0), n(15.0)]), s("10.1.2.240/28"));
        assert_eq!(call("cidrsubnet", vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(162.0)]), s("fd00:fd12:3456:7800:a200::/72"));
        assert_eq!(
            call_err("cidrsubnet", vec![s("10.0.0.0/30"), n(3.0), n(0.0)]),
            "insufficient address space to extend prefix of 30 by 3"
        );
        assert_eq!(
            call_err("cidrsubnet", vec![s("10.0.0.0/24"), n(2.0), n(4.0)]),
            "prefix extension of 2 does not accommodate a subnet numbered 4"
        );
    }

    #[test]
    fn consecutive_subnets() {
        assert_eq!(
            call("cidrsubnets", vec![s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]),
            strs(&["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"])
        );
        assert_eq!(
            call("cidrsubnets", vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(16.0), n(16.0), n(32.0)]),
            strs(&["fd00:fd12:3456:7800::/72", "fd00:fd12:3456:7800:100::/72", "fd00:fd12:3456:7800:200::/72", "fd00:fd12:3456:7800:300::/88"])
        );
        assert_eq!(call("cidrsubnets", vec![s("10.0.0.0/8")]), strs(&[]));
        assert_eq!(
            call_err("cidrsubnets", vec![s("10.0.0.0/24"), n(1.0), n(1.0), n(1.0)]),
            "invalid value for \"newbits\" parameter: not enough remaining address space for a subnet with a prefix of 25 bits after 10.0.0.128/25"
        );
        assert_eq!(
            call_err("cidrsubnets", vec![s("10.0.0.0/30"), n(3.0)]),
            "invalid value for \"newbits\" parameter: would extend prefix to 33 bits, which is too long for an IPv4 address"
        );
    }
}

//! Contract ids (`ns:pkg@1.2.3`) and the one rule for which plugin version
//! serves which host.

use std::fmt;

/// A WIT package id split into name and version: `wasmplug:demo@1.0.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageId<'a> {
    /// `ns:pkg`.
    pub name: &'a str,
    /// The version, when the id has one.
    pub version: Option<semver::Version>,
}

impl<'a> PackageId<'a> {
    /// Parses `ns:pkg@1.2.3` (a package) or `ns:pkg/iface@1.2.3` (an
    /// interface or export name, whose package is taken). `None` when it is
    /// neither (no `:`, or a version that is not semver).
    pub fn parse(id: &'a str) -> Option<Self> {
        let (path, version) = match id.split_once('@') {
            Some((path, v)) => (path, Some(semver::Version::parse(v).ok()?)),
            None => (id, None),
        };
        let name = path.split_once('/').map_or(path, |(pkg, _)| pkg);
        name.contains(':').then_some(PackageId { name, version })
    }

    /// Whether a plugin exporting `self` can serve a host built against
    /// `host`: the same package, and versions semver-compatible the way the
    /// component model matches them (same major; same minor while major is
    /// 0). Both backends check contracts with this.
    pub fn serves(&self, host: &PackageId<'_>) -> bool {
        if self.name != host.name {
            return false;
        }
        match (&self.version, &host.version) {
            (Some(p), Some(h)) if h.major == 0 => p.major == 0 && p.minor == h.minor,
            (Some(p), Some(h)) => p.major == h.major,
            (p, h) => p == h,
        }
    }

    /// [`serves`](Self::serves) on two ids given as text; ids that do not
    /// parse serve only when they are equal.
    pub fn compatible(plugin: &str, host: &str) -> bool {
        match (PackageId::parse(plugin), PackageId::parse(host)) {
            (Some(p), Some(h)) => p.serves(&h),
            _ => plugin == host,
        }
    }
}

impl fmt::Display for PackageId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PackageId;

    #[test]
    fn parses_packages_and_interfaces() {
        let p = PackageId::parse("wasmplug:demo/api@1.2.0").unwrap();
        assert_eq!(p.name, "wasmplug:demo");
        assert_eq!(p.version, Some(semver::Version::new(1, 2, 0)));
        assert_eq!(p.to_string(), "wasmplug:demo@1.2.0");
        assert_eq!(PackageId::parse("wasmplug:demo").unwrap().version, None);
        assert!(PackageId::parse("plain-export").is_none());
        assert!(PackageId::parse("a:b@not-semver").is_none());
    }

    #[test]
    fn semver_compatibility() {
        let host = PackageId::parse("a:b@1.1.0").unwrap();
        assert!(PackageId::parse("a:b/i@1.0.0").unwrap().serves(&host));
        assert!(PackageId::parse("a:b/i@1.9.3").unwrap().serves(&host));
        assert!(!PackageId::parse("a:b/i@2.0.0").unwrap().serves(&host));
        assert!(!PackageId::parse("a:c/i@1.1.0").unwrap().serves(&host));
        let zero = PackageId::parse("a:b@0.2.1").unwrap();
        assert!(PackageId::parse("a:b/i@0.2.9").unwrap().serves(&zero));
        assert!(!PackageId::parse("a:b/i@0.3.0").unwrap().serves(&zero));
    }

    #[test]
    fn compatibility_of_ids_as_text() {
        assert!(PackageId::compatible("a:b@1.2.0", "a:b@1.0.0"));
        assert!(!PackageId::compatible("a:b@2.0.0", "a:b@1.0.0"));
        assert!(!PackageId::compatible("a:c@1.0.0", "a:b@1.0.0"));
        assert!(PackageId::compatible("a:b@0.3.1", "a:b@0.3.0"));
        assert!(!PackageId::compatible("a:b@0.4.0", "a:b@0.3.0"));
        assert!(!PackageId::compatible("a:b@1.x", "a:b@1.0.0"));
        assert!(PackageId::compatible("odd", "odd"));
    }
}

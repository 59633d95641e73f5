import Foundation
package import RetryPlanner

/// Reads time zones from the system's tz database (TZif files), once, at config time.
package enum SystemZones {
    /// The tz database directory: `$TZDIR`, else `/usr/share/zoneinfo`.
    package static var directory: String {
        ProcessInfo.processInfo.environment["TZDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
    }

    /// Loads one zone by its IANA name (`Europe/Paris`); `UTC` needs no file.
    package static func load(_ name: String) throws(ZoneError) -> ZoneRules {
        if name == "UTC" || name == "Etc/UTC" { return .utc }
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
            throw ZoneError(description: "invalid time zone name \"\(name)\"")
        }
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ZoneError(description: "unknown time zone \"\(name)\" (no file \(path))")
        }
        do {
            return try ZoneRules(name: name, tzif: [UInt8](data))
        } catch {
            throw ZoneError(description: "time zone \"\(name)\": \(error.description)")
        }
    }

    /// Loads several zones into one planner table, in order.
    package static func table(_ names: [String]) throws(ZoneError) -> ZoneTable {
        var zones: [ZoneRules] = []
        for name in names { zones.append(try load(name)) }
        return ZoneTable(zones)
    }
}

extension SystemZones {
    /// ``all()``, read on first use and kept for the life of the process: the table a loaded
    /// configuration carries (``ConfigSnapshot/zones``) and the daemon plans with, so that neither a
    /// reload nor the daemon's start reads the tz database again.
    package static let database = all()

    /// Every zone of the tz database (TZif files; `posix/` and `right/` copies skipped), UTC first.
    /// The planner then needs no file access for any customer's zone.
    package static func all() -> ZoneTable {
        var zones: [ZoneRules] = [.utc]
        let root = directory
        guard let walker = FileManager.default.enumerator(atPath: root) else { return ZoneTable(zones) }
        var names: [String] = []
        while let path = walker.nextObject() as? String {
            if path.hasPrefix("posix") || path.hasPrefix("right") || path.hasPrefix("Etc/UTC") || path == "UTC" { continue }
            guard let first = path.first, first.isUppercase else { continue }
            names.append(path)
        }
        for name in names.sorted() {
            guard let data = FileManager.default.contents(atPath: root + "/" + name), data.count > 44,
                  data.prefix(4) == Data("TZif".utf8), let zone = try? ZoneRules(name: name, tzif: [UInt8](data)) else { continue }
            zones.append(zone)
        }
        return ZoneTable(zones)
    }
}

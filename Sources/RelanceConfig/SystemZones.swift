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
            throw ZoneError(message: "invalid time zone name \"\(name)\"")
        }
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ZoneError(message: "unknown time zone \"\(name)\" (no file \(path))")
        }
        do {
            return try ZoneRules(name: name, tzif: [UInt8](data))
        } catch {
            throw ZoneError(message: "time zone \"\(name)\": \(error.description)")
        }
    }

    /// Loads several zones into one planner table, in order.
    package static func table(_ names: [String]) throws(ZoneError) -> ZoneTable {
        var zones: [ZoneRules] = []
        for name in names { zones.append(try load(name)) }
        return ZoneTable(zones)
    }
}

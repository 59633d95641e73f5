import Foundation
package import RetryPlanner

/// A validated configuration: immutable, swapped whole on reload.
package struct ConfigSnapshot: Sendable {
    package let settings: Settings
    /// The files read, the main one first.
    package let files: [String]
    /// FNV-1a 64 of every file's bytes, in hex: changes whenever any file does.
    package let digest: String
    /// The time zones the configuration was checked against, compiled for the planner: every zone
    /// of the system's tz database (``SystemZones/database``) unless the loader was given others.
    package let zones: ZoneTable

    package var policy: Policy { settings.policy }
}

/// Loads `retry.toml` (and the files it includes), validates everything, and returns either a
/// snapshot or every mistake at once. Nothing is ever partially loaded.
package enum ConfigLoader {
    /// Reads a file from disk; `nil` when it cannot be read.
    package typealias FileReader = @Sendable (String) -> String?

    package static let diskReader: FileReader = { path in
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether `name` is a time zone: one of `zones`, else a zone file of the system's tz database
    /// that parses (`Etc/UTC`, a name the table spells otherwise).
    static func zoneExists(_ name: String, in zones: ZoneTable) -> Bool {
        zones.index(of: name) != nil || (try? SystemZones.load(name)) != nil
    }

    package static func load(path: String, read: FileReader = diskReader, zones: ZoneTable = SystemZones.database) throws(ConfigError) -> ConfigSnapshot {
        guard let text = read(path) else {
            throw ConfigError(issues: [ConfigIssue(file: path, path: "", message: "cannot read the file (missing or unreadable)")])
        }
        return try load(text: text, file: path, read: read, zones: zones)
    }

    /// Loads from text; `file` names it in errors and anchors relative includes.
    package static func load(text: String, file: String, read: FileReader = diskReader, zones: ZoneTable = SystemZones.database) throws(ConfigError) -> ConfigSnapshot {
        try load(text: text, file: file, read: read, zones: zones, diagnostics: Diagnostics())
    }

    /// Loads from text, recording into `diagnostics` (``acceptedKeys`` reads the sections it opened).
    static func load(text: String, file: String, read: FileReader, zones: ZoneTable, diagnostics: Diagnostics) throws(ConfigError) -> ConfigSnapshot {
        var files = [file]
        var digest = FNV()
        digest.add(text)
        guard let root = section(text: text, file: file, diagnostics: diagnostics) else {
            throw ConfigError(issues: diagnostics.issues)
        }
        var segments = root.tables("segment")
        var visited: Set<String> = [file]
        collectIncludes(from: root, file: file, read: read, diagnostics: diagnostics, visited: &visited, files: &files, digest: &digest, segments: &segments)
        let settings = ConfigReader(diagnostics: diagnostics, zoneExists: { zoneExists($0, in: zones) }).read(root: root, segments: segments)
        if !diagnostics.issues.isEmpty { throw ConfigError(issues: diagnostics.issues) }
        return ConfigSnapshot(settings: settings, files: files, digest: digest.hex, zones: zones)
    }

    static func section(text: String, file: String, diagnostics: Diagnostics) -> Section? {
        switch TOMLSyntax.parse(text, file: file) {
        case .failure(let issue):
            diagnostics.issues.append(issue)
            return nil
        case .success(let node):
            guard case .table(let entries) = node.value else { return nil }
            return Section(entries: entries, path: "", file: file, position: nil, diagnostics: diagnostics)
        }
    }

    /// `include = ["segments.d/*.toml"]`: files (relative to the including file) that add `[[segment]]` tables.
    static func collectIncludes(
        from parent: Section, file: String, read: FileReader, diagnostics: Diagnostics,
        visited: inout Set<String>, files: inout [String], digest: inout FNV, segments: inout [Section]
    ) {
        guard parent.has("include") else { return }
        let directory = (file as NSString).deletingLastPathComponent
        for (i, pattern) in parent.strings("include").enumerated() {
            let matches = expand(pattern, relativeTo: directory)
            if matches.isEmpty && !pattern.contains("*") {
                parent.error("include[\(i)]", "cannot read included file \"\(pattern)\"")
                continue
            }
            for path in matches {
                guard visited.insert(path).inserted else {
                    parent.error("include[\(i)]", "\"\(pattern)\" includes \"\(path)\" again (include cycle)")
                    continue
                }
                guard let text = read(path) else {
                    parent.error("include[\(i)]", "cannot read included file \"\(path)\"")
                    continue
                }
                files.append(path)
                digest.add(text)
                guard let child = section(text: text, file: path, diagnostics: diagnostics) else { continue }
                segments += child.tables("segment")
                collectIncludes(from: child, file: path, read: read, diagnostics: diagnostics, visited: &visited, files: &files, digest: &digest, segments: &segments)
                for key in child.entries.keys.sorted() where key != "segment" && key != "include" {
                    child.error(key, "an included file may only add [[segment]] tables (and include others)")
                }
            }
        }
    }

    /// Resolves a pattern: a plain path, or `*` in the last component (sorted matches).
    static func expand(_ pattern: String, relativeTo directory: String) -> [String] {
        let full = pattern.hasPrefix("/") ? pattern : (directory.isEmpty ? pattern : directory + "/" + pattern)
        guard full.contains("*") else { return FileManager.default.fileExists(atPath: full) ? [full] : [] }
        let dir = (full as NSString).deletingLastPathComponent
        let glob = (full as NSString).lastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { matches($0, glob) }.sorted().map { dir + "/" + $0 }
    }

    static func matches(_ name: String, _ glob: String) -> Bool {
        let parts = glob.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return name == glob }
        guard name.hasPrefix(parts[0]), name.hasSuffix(parts[parts.count - 1]), name.count >= parts[0].count + parts[parts.count - 1].count else { return false }
        var rest = Substring(name.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count))
        for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
            guard let r = rest.range(of: middle) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }
}

/// FNV-1a 64.
struct FNV {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ text: String) {
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
        value ^= 0xff
        value = value &* 0x0000_0100_0000_01b3
    }
    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

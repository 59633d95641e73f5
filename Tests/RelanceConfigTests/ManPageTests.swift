import Foundation
import RelanceConfig
import Testing
import TestSupport

/// The tables and keys retry.toml(5) documents, read from its roff: a `.SS "[table]"` heading,
/// then a `\fBkey\fR = value` line after each `.TP` or `.TQ`.
struct ManPage {
    var headings: Set<String> = []
    var keys: Set<String> = []

    init(roff: String) {
        var table = ""
        var tagNext = false
        for line in roff.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(".SS ") {
                let heading = line.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                headings.insert(heading)
                table = heading == "Top level" ? "" : heading.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            } else if tagNext, line.hasPrefix("\\fB"), let end = line.range(of: "\\fR") {
                let key = String(line[line.index(line.startIndex, offsetBy: 3)..<end.lowerBound])
                keys.insert(table.isEmpty ? key : "\(table).\(key)")
            }
            tagNext = line == ".TP" || line == ".TQ"
        }
    }

    /// The page `scripts/man-retry-toml` writes from the shipped config.
    static func shipped() throws -> ManPage {
        let script = repoRoot.appendingPathComponent("scripts/man-retry-toml").path
        let config = repoRoot.appendingPathComponent("config/retry.toml").path
        let child = try Child(["python3", script, "--date", "2026-01-01", config])
        let roff = String(decoding: child.readAll(), as: UTF8.self)
        try #require(child.wait() == 0, "scripts/man-retry-toml failed")
        return ManPage(roff: roff)
    }
}

@Suite("retry.toml(5)")
struct ManPageTests {
    @Test func loaderListsItsKeys() {
        let names = Set(ConfigLoader.acceptedKeys.map(\.description))
        #expect(names.isSuperset(of: ["include", "daemon.state_dir", "segment.match.amount_min", "segment.calendar.jitter",
                                      "segment.retry_later.retry", "notices.level.channel"]))
        let kinds = Dictionary(ConfigLoader.acceptedKeys.map { ($0.description, $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds["segment"] == .arrayOfTables && kinds["notices.level"] == .arrayOfTables)
        #expect(kinds["segment.match"] == .table && kinds["daemon"] == .table && kinds["daemon.workers"] == .value)
        // Read only to be refused: not accepted.
        #expect(names.isDisjoint(with: ["provider.api_key", "segment.consent_revoked", "segment.calendar.time_zone"]))
    }

    @Test func everyKeyTheLoaderAcceptsIsInThePage() throws {
        let page = try ManPage.shipped()
        let missing = ConfigLoader.acceptedKeys.filter { key in
            switch key.kind {
            case .value: !page.keys.contains(key.description)
            case .table: !page.headings.contains("[\(key)]")
            case .arrayOfTables: !page.headings.contains("[[\(key)]]")
            }
        }
        #expect(missing.isEmpty, "retry.toml(5) lacks \(missing.map(\.description)); document them in config/retry.toml")
    }

    @Test func everyKeyInThePageIsAccepted() throws {
        let page = try ManPage.shipped()
        let accepted = Set(ConfigLoader.acceptedKeys.filter { $0.kind == .value }.map(\.description))
        let unknown = page.keys.subtracting(accepted).sorted()
        #expect(unknown.isEmpty, "retry.toml(5) documents keys the loader rejects: \(unknown)")
    }
}

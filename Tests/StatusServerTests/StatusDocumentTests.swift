import Foundation
import Testing
@testable import StatusServer
import TestSupport

/// The `/status` document type against the documented example, and its summary.
@Suite struct StatusDocumentTests {
    private static let example = URL(fileURLWithPath: repositoryRoot + "/docs/status.example.json")

    private func loadExample() throws -> StatusDocument {
        try StatusDocument.decode(Array(try Data(contentsOf: Self.example)))
    }

    @Test func theDocumentedExampleDecodes() throws {
        let doc = try loadExample()
        #expect(doc.provider.state == "backing_off")
        #expect(doc.recoveryRateByAmount.last?.maxMinor == nil)
        #expect(doc.recoveryRateByAmount.first?.maxMinor == 999)
        #expect(doc.charges.inFlight == 3)
        #expect(doc.spool.reason == nil)
    }

    @Test func encodingWritesEveryKeyWithNullForNone() throws {
        let doc = try loadExample()
        let bytes = try doc.encode()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""reason":null"#))
        #expect(text.contains(#""max_minor":null"#))
        #expect(text.contains(#""last_reload_error":"retry.toml:12"#))
        #expect(text.contains(#""in_flight":3"#))
        #expect(try StatusDocument.decode(bytes) == doc)
        // The same keys as the example, at every level.
        let mine = try JSONSerialization.jsonObject(with: Data(bytes))
        let theirs = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.example))
        #expect(jsonKeyPaths(mine) == jsonKeyPaths(theirs))
    }

    @Test func aMissingFieldIsAnError() throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.example)) as? [String: Any])
        object["charges"] = nil
        let bytes = Array(try JSONSerialization.data(withJSONObject: object))
        #expect(throws: DecodingError.self) { try StatusDocument.decode(bytes) }
    }

    @Test func summaryShowsEachTopic() throws {
        let text = try loadExample().summary()
        let expected = [
            "relanced 0.4.0, pid 4242, up 3d 4h 2m (since 2026-03-02T08:00:00Z)",
            "config      /etc/relance/retry.toml, digest 9c1f4e2ab07d3e55, loaded 2026-03-02T08:00:00Z",
            "            last reload failed: retry.toml:12: [ladder.card] steps: expected an array of durations",
            "provider    stripe: backing off, last success 2026-03-05T12:01:51Z",
            "charges     scheduled 1520, in flight 3, waiting 212, recovered 4310, exhausted 987, closed 140, held 1",
            "  held      in_1PxQ7 (customer cus_QfA2): dispute, since 2026-03-05T12:02:00Z, until released",
            "due backlog 7",
            "attempts    96 last hour, 2210 last day",
            "recoveries  31 last hour, 640 last day",
            "  >= 100.00         1597       1136   71.1%",
            "spool       18 events pending",
            "  2026-03-05T11:58:02Z  provider: HTTP 429 rate_limit",
        ]
        let lines = text.split(separator: "\n").map(String.init)
        for line in expected { #expect(lines.contains(line), "missing line: \(line)\n\(text)") }
    }

    @Test(arguments: [(0.0, "0s"), (59.9, "59s"), (61, "1m 1s"), (3_600, "1h 0m"), (90_061, "1d 1h 1m")])
    func uptimeSpans(seconds: Double, text: String) {
        #expect(StatusDocument.span(seconds) == text)
    }
}

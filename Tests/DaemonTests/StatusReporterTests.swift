@testable import Daemon
import Foundation
import Spool
import StatusServer
import TestSupport
import Testing

/// The daemon's `/status` document: the `StatusDocument` that `relancectl status` decodes.
@Suite("Status document")
struct StatusReporterTests {
    @Test func theReporterWritesTheDocumentedSchema() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, charges) = try await engineWithTwoDaysOfFailures(dir)
        engine.signals.noteError("provider: HTTP 429 rate_limit")
        // A customer's dispute holds their charges: counted, and listed.
        let held = try await engine.hold(.customer(charges[0].customer.id), reason: "dispute", until: nil)
        #expect(held.changed.contains(charges[0].id))
        // A customer held as a whole with no charge yet (a payment plan agreed by phone) is listed too.
        let planned = try await engine.hold(.customer("cus_phone_plan"), reason: "payment plan", until: engine.clock.now() + 30 * 86_400)
        #expect(planned.changed == ["cus_phone_plan"])
        let reporter = StatusReporter(store: engine.store, signals: engine.signals, clock: engine.clock, providerName: engine.provider.name, index: DueIndex(), spool: try SpoolWriter(directory: dir + "/spool"),
                                      config: ConfigState(path: dir + "/retry.toml", digest: "9c1f4e2ab07d3e55", loadedAt: engine.clock.now()),
                                      segmentNames: { ["default"] })
        let bytes = try await reporter.document()
        let doc = try StatusDocument.decode(bytes)
        let c = doc.charges
        #expect(c.scheduled + c.inFlight + c.waiting + c.recovered + c.exhausted + c.closed == charges.count)
        #expect(doc.recoveryRateByAmount.map(\.charges).reduce(0, +) == charges.count)
        // Each charge in the band of its amount, [min, max).
        let expected = StatusReporter.bands.map { band in charges.filter { $0.amount >= band.min && $0.amount < (band.max ?? .max) }.count }
        #expect(doc.recoveryRateByAmount.map(\.charges) == expected)
        #expect(expected.filter { $0 > 0 }.count >= 3, "the sample spans several bands: \(charges.map(\.amount))")
        #expect(doc.recoveryRateByAmount.map(\.minMinor) == [0, 1_000, 5_000, 20_000, 100_000])
        #expect(doc.recoveryRateByAmount.last?.maxMinor == nil && doc.recoveryRateByAmount.first?.maxMinor == 1_000)
        // Recovery by segment, weighted by amount: every charge's amount in its segment and currency.
        let bySegment = doc.recoveryBySegment ?? []
        for currency in Set(charges.map(\.currency)) {
            let failed = charges.filter { $0.currency == currency }.reduce(Int64(0)) { $0 + $1.amount }
            let row = bySegment.first { $0.currency == currency }
            #expect(row?.segment == "default" && row?.failedAmount == failed && row?.charges == charges.filter { $0.currency == currency }.count)
            #expect(row.map { $0.rate == Double($0.recoveredAmount) / Double($0.failedAmount) } == true)
        }
        #expect(doc.config.path == dir + "/retry.toml" && doc.provider.name == engine.provider.name && doc.timeScale == 1)
        #expect(doc.spool == StatusDocument.Spool(pendingEvents: doc.spool.pendingEvents, paused: false, reason: nil))
        #expect(doc.lastErrors.map(\.message) == ["provider: HTTP 429 rate_limit"])
        #expect(c.held == held.changed.count && doc.holds.map(\.charge).sorted() == held.changed.sorted())
        #expect(doc.holds.allSatisfy { $0.reason == "dispute" && $0.until == nil && $0.scope == "customer" })
        let customers = doc.heldCustomers ?? []
        #expect(customers.map(\.customer).sorted() == [charges[0].customer.id, "cus_phone_plan"].sorted(), "\(customers)")
        #expect(customers.first { $0.customer == "cus_phone_plan" }.map { $0.reason == "payment plan" && $0.until != nil } == true)
        #expect(doc.summary().contains("held      customer cus_phone_plan (next failures too): payment plan"))
        // Every key present (null for none), sorted, and the same keys as the documented example.
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"attempts":{"last_day":"#))
        for key in [#""last_reload_error":null"#, #""reason":null"#, #""max_minor":null"#, #""last_error":null"#] {
            #expect(text.contains(key), "missing \(key)")
        }
        let mine = try JSONSerialization.jsonObject(with: Data(bytes))
        let theirs = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/docs/status.example.json")))
        // A SQLite state lists no node: the node's fields are the example's (StatusDocumentTests decodes it).
        #expect(jsonKeyPaths(mine) == jsonKeyPaths(theirs).filter { !$0.hasPrefix("store.nodes.[].") })
        #expect(text.contains(#""store":{"kind":"sqlite","leases":[],"node":null,"nodes":[]}"#))
    }
}

import Deliver
import Foundation
import Logging
import RelanceConfig
import StatusServer
import Testing

@Suite("Spool intake")
struct IntakeTests {
    func settings(_ dir: String) -> Settings {
        var s = Settings()
        s.daemon.statusSocket = dir + "/relanced.sock"
        s.deliver.spoolDir = dir + "/spool"
        s.deliver.stateDir = dir + "/state"
        return s
    }

    func place(_ lines: [String], in dir: String, name: String = "0000000000000001-0000000000000002.jsonl") throws {
        try FileManager.default.createDirectory(atPath: dir + "/spool/new", withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/spool/new/" + name, atomically: true, encoding: .utf8)
    }

    @Test func aFullDiskStopsTakingFilesAndLosesNothing() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-intake-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = settings(dir)
        s.deliver.minFreeBytes = Int.max / 2  // "full": less free space than an exabyte
        try place([noticeLine(id: "in_1:3", charges: ["in_1"])], in: dir)
        let deliverer = try await Deliverer(settings: s, logger: Logger(label: "test"))
        _ = try await deliverer.tick()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/new").count == 1)
        let health = await DeliverStatus.route(StatusRequest(method: "GET", path: "/healthz", query: ""), deliverer: deliverer)
        #expect(health.status == 503)
        // Space returns: the file is taken.
        s.deliver.minFreeBytes = 0
        let roomy = try await Deliverer(settings: s, logger: Logger(label: "test"))
        _ = try await roomy.tick()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/new").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/cur") == ["0000000000000001-0000000000000002.jsonl"])
    }

    @Test func aMalformedLineGoesToFailedAloneAndItsFileMovesOn() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-intake-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try place(["{\"specversion\":\"1.0\"}", noticeLine(id: "in_1:3", charges: ["in_1"])], in: dir)
        let deliverer = try await Deliverer(settings: settings(dir), logger: Logger(label: "test"))
        _ = try await deliverer.tick()
        let failed = try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/failed")
        #expect(failed == ["0000000000000001-0000000000000002.jsonl.line1"])
        let text = try String(contentsOfFile: dir + "/spool/failed/" + failed[0], encoding: .utf8)
        #expect(text.hasPrefix("reason: malformed_event: no id\n{\"specversion\":\"1.0\"}\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/cur").count == 1)
        var metrics: [UInt8] = []
        deliverer.metrics.render(into: &metrics)
        #expect(String(decoding: metrics, as: UTF8.self).contains("relance_deliver_messages_total{channel=\"spool\",outcome=\"failed\"} 1"))
    }
}

import Foundation
import RelanceMetrics
import StatusServer
import TestSupport
import Testing

/// The real `relanced` (the executable built beside this test bundle) on a sandbox, scraped over its
/// status socket before it makes any attempt: `promtool check metrics` finds nothing to say, and
/// every documented family is there, the engine's at zero for its known labels.
@Suite("Metrics export")
struct MetricsExportTests {
    static let relanced = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("relanced").path

    /// Runs `command` in the shell; returns its exit status and everything it wrote (stdout and stderr).
    func shell(_ command: String) async throws -> (status: Int32, output: String) {
        let child = try Child(["/bin/sh", "-c", command + " 2>&1"])
        let output = try await offPool { child.readAll() }
        return (try await offPool { child.wait() }, String(decoding: output, as: UTF8.self))
    }

    @Test("a fresh daemon's /metrics passes promtool with no warning and has every family at zero before any attempt")
    func freshDaemonMetrics() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/retry.toml"
        try """
            [daemon]
            state_dir = "\(dir)/state"
            spool_dir = "\(dir)/spool"
            status_socket = "\(dir)/run/relanced.sock"
            time_scale = 1

            [sandbox]
            seed = 5
            customers = 50
            failures_per_day = 100
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try Child([Self.relanced, "--config", config])
        defer { daemon.stop() }
        let client = StatusClient(socketPath: dir + "/run/relanced.sock", timeout: .seconds(5))
        let deadline = ContinuousClock.now + .seconds(60)
        while (try? await client.get("/healthz"))?.status != 200 {
            #expect(ContinuousClock.now < deadline, "relanced did not answer /healthz within 60 s")
            if ContinuousClock.now >= deadline { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let response = try await client.get("/metrics")
        #expect(response.status == 200)
        let text = String(decoding: response.body, as: UTF8.self)
        try text.write(toFile: dir + "/metrics.txt", atomically: true, encoding: .utf8)

        let lint = try await shell("promtool check metrics < '\(dir)/metrics.txt'")
        #expect(lint.status == 0 && lint.output.isEmpty, "promtool: \(lint.output)")

        let lines = Set(text.split(separator: "\n").map(String.init))
        for family in RelanceMetric.families {
            #expect(lines.contains("# HELP \(family.name) \(family.help)"), "no help for \(family.name)")
            #expect(lines.contains("# TYPE \(family.name) \(family.type)"), "no \(family.type) \(family.name)")
        }
        for series in [
            #"relance_attempts_total{outcome="succeeded",decline_class="none"} 0"#,
            #"relance_attempts_total{outcome="declined",decline_class="retry_later"} 0"#,
            #"relance_recovered_amount_total{currency="EUR",segment="default"} 0"#,
            #"relance_failed_amount_total{currency="EUR",segment="default"} 0"#,
            #"relance_open_amount{currency="EUR",age="60d+"} 0.0"#,
            #"relance_time_to_recover_seconds_count{segment="default"} 0"#,
            #"relance_recoveries_total{after_notice_level="none",method="default",policy="learned"} 0"#,
            #"relance_compliance_blocks_total{rule="visa_reattempt_limit"} 0"#,
            #"relance_provider_requests_total{endpoint="sandbox.pay",status="ok"} 0"#,
            #"relance_dispatch_lag_seconds_count 0"#,
            #"relance_build_info{version="\#(try await statusVersion(client))"} 1.0"#,
        ] {
            #expect(lines.contains(series), "no \(series)")
        }
        let values = Dictionary(text.split(separator: "\n").filter { $0.hasPrefix("process_") }.compactMap { line -> (String, Double)? in
            let parts = line.split(separator: " ")
            return parts.count == 2 ? (String(parts[0]), Double(parts[1]) ?? -1) : nil
        }, uniquingKeysWith: { a, _ in a })
        #expect((values["process_cpu_seconds_total"] ?? -1) > 0)
        #expect((values["process_resident_memory_bytes"] ?? 0) > 1_000_000)
        #expect((values["process_open_fds"] ?? 0) >= 3)
        let now = Date().timeIntervalSince1970
        #expect(((now - 120)...now).contains(values["process_start_time_seconds"] ?? 0))
    }

    func statusVersion(_ client: StatusClient) async throws -> String {
        try StatusDocument.decode(try await client.get("/status").body).version
    }
}

import ArgumentParser
import Foundation
import PlannerWorkload
import RelanceConfig
import RetryPlanner

/// `relancectl bench`: measure components with ordinary tools.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark a component.",
        subcommands: [PlannerBench.self, HTTPBench.self, IngestBenchCommand.self, DispatchBenchCommand.self, ReplanBenchCommand.self,
                      LearningBenchCommand.self, ReportBenchCommand.self]
    )
}

/// `relancectl bench planner --charges N --seed S`: plans N synthetic charges in the batch form and
/// prints one line with decisions=, seconds= and decisions_per_sec= (time spent planning only).
struct PlannerBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "planner", abstract: "Plan N synthetic charges; print the rate.")

    @Option(help: "Number of charges.")
    var charges: Int = 1_000_000

    @Option(help: "Workload seed.")
    var seed: UInt64 = 42

    @Option(help: "Planning passes over the whole batch (the best pass is reported).")
    var passes: Int = 5

    @Flag(help: "Plan with the learned policy on too, and print both rates side by side (and their ratio).")
    var learning = false

    func run() throws {
        guard charges > 0, passes > 0 else { throw ValidationError("--charges and --passes must be positive") }
        let zones = try SystemZones.table(PlannerWorkload.zoneNames)
        let workload = PlannerWorkload.make(charges: charges, seed: seed, zones: zones)
        if learning {
            let off = Self.best(workload, passes: passes), on = Self.best(workload.withLearning(), passes: passes)
            print("decisions=\(charges) learning_off_per_sec=\(Int(Double(charges) / off.seconds)) learning_on_per_sec=\(Int(Double(charges) / on.seconds))"
                  + " on_over_off_time=\(String(format: "%.2f", on.seconds / off.seconds)) learned=\(on.learned) explored=\(on.explored) holdout=\(on.holdout)")
            return
        }
        let decisions = UnsafeMutableBufferPointer<Decision>.allocate(capacity: charges)
        defer { decisions.deallocate() }
        var best = Double.infinity
        let clock = ContinuousClock()
        for _ in 0..<passes {
            let elapsed = clock.measure { workload.run(into: decisions) }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            best = min(best, seconds)
        }
        var attempts = 0, waits = 0, stops = 0
        var checksum: Int64 = 0
        for d in decisions {
            switch d.kind {
            case .attempt: attempts += 1
            case .waitForCustomer: waits += 1
            case .stop: stops += 1
            }
            checksum = checksum &+ d.at &* 31 &+ Int64(d.method)
        }
        let rate = Double(charges) / best
        print(
            "decisions=\(charges) seconds=\(String(format: "%.4f", best)) decisions_per_sec=\(Int(rate))"
                + " state_bytes_per_charge=\(MemoryLayout<ChargeState>.stride) method_bytes=\(MemoryLayout<MethodState>.stride)"
                + " ledger_entry_bytes=\(MemoryLayout<LedgerEntry>.stride) attempts=\(attempts) waits=\(waits) stops=\(stops) checksum=\(checksum)"
        )
    }
}

extension PlannerBench {
    /// The best of `passes` over the workload, and how its attempts were chosen.
    static func best(_ workload: PlannerWorkload, passes: Int) -> (seconds: Double, learned: Int, explored: Int, holdout: Int) {
        let decisions = UnsafeMutableBufferPointer<Decision>.allocate(capacity: workload.charges.count)
        defer { decisions.deallocate() }
        var best = Double.infinity
        for _ in 0..<passes {
            let elapsed = ContinuousClock().measure { workload.run(into: decisions) }
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return (best, decisions.count { $0.policy == .learned }, decisions.count { $0.policy == .exploration }, decisions.count { $0.policy == .holdout })
    }
}

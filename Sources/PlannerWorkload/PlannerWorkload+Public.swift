#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import RelanceConfig
import RetryPlanner

/// A `public` face of ``PlannerWorkload`` for the separate `Benchmarks/` package, which cannot see
/// `package` declarations of this one.
///
/// It owns the seeded workload and a decision buffer allocated once, in `init`, so ``run()`` plans
/// every charge without allocating anything of its own: whatever allocates during `run()` is the
/// planner's.
public final class PlannerBenchmarkWorkload {
    /// Why the workload could not be built (a time zone the tz database does not have, say).
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    private let workload: PlannerWorkload
    private let decisions: UnsafeMutableBufferPointer<Decision>

    /// Builds `charges` synthetic charges from `seed` over ``PlannerWorkload/zoneNames``, read from
    /// the system's tz database (`$TZDIR`, else `/usr/share/zoneinfo`), as `relancectl bench planner` does.
    /// `learning`: the learned policy on (``PlannerWorkload/withLearning(outcomes:)``), to compare with it off.
    public init(charges: Int, seed: UInt64, learning: Bool = false) throws {
        precondition(charges > 0, "charges must be positive")
        let zones: ZoneTable
        do { zones = try SystemZones.table(PlannerWorkload.zoneNames) } catch { throw LoadError(description: error.description) }
        let made = PlannerWorkload.make(charges: charges, seed: seed, zones: zones)
        workload = learning ? made.withLearning() : made
        decisions = .allocate(capacity: charges)
        decisions.initialize(repeating: Decision(at: 0, kind: .stop))
    }

    deinit {
        decisions.deallocate()
    }

    /// The number of charges planned by each ``run()``.
    public var count: Int { workload.charges.count }

    /// Plans every charge into the preallocated buffer and returns how many decisions are attempts
    /// (so the work cannot be optimised away).
    @discardableResult
    public func run() -> Int {
        workload.run(into: decisions)
        var attempts = 0
        for decision in decisions where decision.kind == .attempt { attempts &+= 1 }
        return attempts
    }

    /// Bytes of planner state per charge (`ChargeState`), as `relancectl bench planner` prints.
    public static var planningStateBytesPerCharge: Int { MemoryLayout<ChargeState>.stride }
}

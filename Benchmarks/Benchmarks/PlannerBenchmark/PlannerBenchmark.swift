import Benchmark
import PlannerWorkload

// The planner's batch path (`Planner.planBatch` through `PlannerWorkload.run(into:)`) on the same
// seeded workload as `relancectl bench planner`. The workload and its decision buffer are built in
// `setup`, outside the measured region; an iteration is one pass over every charge.

let benchmarks: @Sendable () -> Void = {
    /// A decision allocates nothing in steady state: every iteration (a whole batch) must make no
    /// malloc call. The stored p90 in `Thresholds/` is 0 and the tolerance here is 0, so
    /// `swift package benchmark thresholds check` fails on the first allocation.
    let noAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0]),
    ]

    /// wallClock and throughput are what is read; mallocCountTotal is what is gated. `instructions`
    /// needs perf counters: where `perf_event_open` is refused it is simply left out of the results.
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .cpuTotal, .mallocCountTotal, .instructions, .peakMemoryResident]

    // 1M charges, seed 42. scalingFactor .mega: an iteration is 1M decisions, so throughput reads
    // as decisions per second and wallClock as time per decision (`--scale` shows raw per-batch figures).
    Benchmark(
        "Planner.batch.1M",
        configuration: .init(
            metrics: metrics,
            warmupIterations: 1,
            scalingFactor: .mega,
            maxDuration: .seconds(10),
            maxIterations: 25,
            thresholds: noAllocations
        )
    ) { benchmark, workload in
        precondition(workload.count == BenchmarkScalingFactor.mega.rawValue)
        blackHole(workload.run())
    } setup: {
        try PlannerBenchmarkWorkload(charges: 1_000_000, seed: 42)
    }

    // 10k charges, seed 42, for quick runs: a batch per iteration (no scaling, so throughput is
    // batches per second: multiply by 10,000 for decisions per second).
    Benchmark(
        "Planner.batch.10k",
        configuration: .init(
            metrics: metrics,
            warmupIterations: 3,
            scalingFactor: .one,
            maxDuration: .seconds(2),
            maxIterations: 10_000,
            thresholds: noAllocations
        )
    ) { benchmark, workload in
        blackHole(workload.run())
    } setup: {
        try PlannerBenchmarkWorkload(charges: 10_000, seed: 42)
    }
}

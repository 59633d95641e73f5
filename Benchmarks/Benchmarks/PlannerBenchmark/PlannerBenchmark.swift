import Benchmark
import PlannerWorkload

// The planner's batch path (`Planner.planBatch` through `PlannerWorkload.run(into:)`) on the same
// seeded workload as `relancectl bench planner`. The workload and its decision buffer are built in
// `setup`, outside the measured region; an iteration is one pass over every charge, and
// `PlannerBenchmarkWorkload.run()` allocates nothing of its own.

let benchmarks: @Sendable () -> Void = {
    /// A decision allocates nothing in steady state: no iteration (a whole batch) may make a malloc
    /// call. `Thresholds/*.p90.json` store 0 for mallocCountTotal and the tolerance here is 0, so
    /// `swift package benchmark thresholds check` fails on the first allocation. The check reads the
    /// raw per-iteration count, not the per-decision figure the table shows for the 1M batch.
    let noAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0]),
    ]

    /// Decisions per second of each iteration, to the decision: the built-in throughput is rounded
    /// to whole iterations per second first, so for a 1M batch (~6 per second) it is only good to
    /// about ±0.5M decisions/s. Recorded after the measured region ends.
    let decisionsPerSecond = BenchmarkMetric.custom("Decisions / s", polarity: .prefersLarger, useScalingFactor: false)

    /// No OS-stats metric here (cpuTotal, peakMemoryResident, syscalls, threads, and instructions,
    /// which goes through the same producer): on Linux the harness reads /proc/self/stat and
    /// /proc/self/io into fresh buffers and Strings at the start and at the end of every measured
    /// region, and the malloc interposer counts those 16 allocations as the benchmark's. Perf
    /// counters are not available on this machine anyway (`instructions` would be left out).
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, decisionsPerSecond]

    func planAll(_ benchmark: Benchmark, _ workload: PlannerBenchmarkWorkload) {
        let clock = ContinuousClock()
        let start = clock.now
        blackHole(workload.run())
        let elapsed = start.duration(to: clock.now)
        benchmark.stopMeasurement()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if seconds > 0 { benchmark.measurement(decisionsPerSecond, Int(Double(workload.count) / seconds)) }
    }

    // Each benchmark twice, with the learned policy off and on (`[learning] mode = "on"`, a learner
    // snapshot of 200,000 outcomes): side by side in one run, so that the cost of learning is read
    // from the same machine at the same moment. Both must allocate nothing.
    for learning in [false, true] {
        let suffix = learning ? ".learning" : ""

        // 1M charges, seed 42. scalingFactor .mega: an iteration is 1M decisions, so throughput reads in
        // decisions per second and wallClock in time per decision.
        Benchmark(
            "Planner.batch.1M" + suffix,
            configuration: .init(
                metrics: metrics,
                units: [decisionsPerSecond: .kilo],
                warmupIterations: 1,
                scalingFactor: .mega,
                maxDuration: .seconds(10),
                maxIterations: 25,
                thresholds: noAllocations
            )
        ) { benchmark, workload in
            planAll(benchmark, workload)
        } setup: {
            try PlannerBenchmarkWorkload(charges: 1_000_000, seed: 42, learning: learning)
        }

        // 10k charges, seed 42, for quick runs. One batch per iteration and no scaling factor (none is
        // 10,000): wallClock and throughput are per batch; `Decisions / s` is per decision.
        Benchmark(
            "Planner.batch.10k" + suffix,
            configuration: .init(
                metrics: metrics,
                units: [decisionsPerSecond: .kilo],
                warmupIterations: 3,
                scalingFactor: .one,
                maxDuration: .seconds(2),
                maxIterations: 10_000,
                thresholds: noAllocations
            )
        ) { benchmark, workload in
            planAll(benchmark, workload)
        } setup: {
            try PlannerBenchmarkWorkload(charges: 10_000, seed: 42, learning: learning)
        }
    }
}

import Foundation
import Logging
import Providers
import Store
import TestSupport
import Testing

/// Nodes on one database share its buckets of customers by lease; a dead node's leases expire and
/// the others take them; one node polls; a node that lost its session sends no provider request.
@Suite("Node guard")
struct NodeGuardTests {
    @Test func twoNodesShareTheBucketsAndTheSurvivorTakesTheDeadOnesOver() async throws {
        let endpoint = try await PostgresServer.migratedDatabase(prefix: "node_guard")
        let logger = Logger(label: "test.guard")
        let a = try await NodeGuard.join(endpoint, node: "a", lease: 5, logger: logger)
        #expect(a.held.count == NodeGuard.buckets)
        #expect(a.takeAcquired().allSatisfy { $0.seconds == 0 }, "free buckets: no lease to wait for")
        #expect(a.polls)
        #expect(a.fenced(lease: 7) == nil)
        let b = try await NodeGuard.join(endpoint, node: "b", lease: 5, logger: logger)
        // Nothing is free yet: b waits for a to give its extra buckets up (marked, then given up, at
        // a's next beats), and takes them at its own.
        #expect(b.held.isEmpty)
        #expect(!b.polls)
        // (On a loaded host a beat may come late for the other's count: a few more rounds then.)
        var renewed = ContinuousClock.now
        for _ in 0..<8 where !(a.held.count == 32 && b.held.count == 32) {
            try await a.beatOnce()
            try await a.beatOnce()
            renewed = ContinuousClock.now
            try await b.beatOnce()
        }
        #expect(a.held.count == 32 && b.held.count == 32)
        #expect(a.held.isDisjoint(with: b.held))
        try #require(!b.held.isEmpty)
        // (b's own background beat may have taken some of them before this one: the order is the beats'.)
        #expect(b.takeAcquired().sorted { $0.bucket < $1.bucket } == b.held.sorted().map { Handover(bucket: $0, seconds: 0) }, "given up by a: no lease to wait for")
        let moved = b.held.sorted()[0]
        #expect(a.fenced(lease: moved) != nil, "a node sends nothing for a bucket it gave up")

        let aHeld = a.held
        // The server ends a's session, as it would a partitioned node's: fenced at once.
        let uri = try PostgresServer.url()
        _ = try await offPool { try PostgresServer.psql(uri, "SELECT pg_terminate_backend(\(a.backend))") }
        #expect(await eventually(seconds: 3) { a.fenced(lease: a.held.sorted()[0]) != nil })
        // Within the lease, a's buckets are still its own: b takes none of them (when the host is too
        // loaded for this beat to come within the lease, there is nothing to see).
        try await b.beatOnce()
        if ContinuousClock.now - renewed < .seconds(4) { #expect(b.held.count == 32) }
        // Past the lease, a counts no more: b takes every bucket, and the poller's lock.
        for _ in 0..<6 {
            try await Task.sleep(for: .seconds(1))
            try await b.beatOnce()
        }
        #expect(b.held.count == NodeGuard.buckets)
        #expect(b.polls)
        // Those that expired in a's hands wait for a's lease; any of b's own that expired meanwhile (a
        // loaded host beating late) came back without one.
        let expired = b.takeAcquired()
        // (A bucket b took from a and then let expire itself, beating late, comes back again without one.)
        var first: [Int: Double] = [:]
        for h in expired where first[h.bucket] == nil { first[h.bucket] = h.seconds }
        #expect(aHeld.allSatisfy { first[$0] == 5 }, "expired in a's hands: a may still be sending until its lease; \(expired)")
        #expect(expired.allSatisfy { $0.seconds == 5 || $0.seconds == 0 } && first.allSatisfy { aHeld.contains($0.key) || $0.value == 0 }, "\(expired)")
        await b.close()
    }

    /// Two nodes taking slots of one rate limit at once, one or two at a time: together they keep to
    /// it in every second, and together they use all of it (neither is held to half).
    @Test func twoNodesShareOneRateWindow() async throws {
        let endpoint = try await PostgresServer.migratedDatabase(prefix: "rate_window")
        let logger = Logger(label: "test.rate")
        var stores: [PostgresChargeStore] = []
        for node in ["a", "b"] {
            let store = try await PostgresChargeStore.open(endpoint, logger: logger)
            store.watch = try await NodeGuard.join(endpoint, node: node, lease: 10, logger: logger)
            stores.append(store)
        }
        let rate = 10
        let end = ContinuousClock.now + .seconds(4)
        // Each slot taken between `asked` and `got` (the server's clock decides within): rate + 1 slots
        // taken within one second for sure (from the first ask to the last answer) break the limit,
        // whatever the delays of a loaded host.
        typealias Take = (asked: ContinuousClock.Instant, got: ContinuousClock.Instant)
        let times = try await withThrowingTaskGroup(of: [Take].self) { group in
            for store in stores {
                // One of each node's takers takes two slots at a time (a read right before a POST, and the POST).
                for count in [2, 1, 1] {
                    group.addTask {
                        var sent: [Take] = []
                        while ContinuousClock.now < end {
                            let asked = ContinuousClock.now
                            let wait = try await store.takeRateSlot(rate: rate, count: count, spread: count > 1 ? RateWindow.groupSpread : 0) ?? 1
                            if wait == 0 {
                                let got = ContinuousClock.now
                                sent += Array(repeating: (asked, got), count: count)
                            } else {
                                try await Task.sleep(for: .milliseconds(Int64(wait * 1_000) + 1))
                            }
                        }
                        return sent
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }.sorted { $0.got < $1.got }
        }
        var tightest = Duration.seconds(10)
        for i in times.indices where i + rate < times.count {
            let window = times[i...(i + rate)]
            tightest = min(tightest, window.map(\.got).max()! - window.map(\.asked).min()!)
        }
        #expect(tightest >= .seconds(1), "\(rate + 1) slots within \(tightest)")
        #expect(times.count >= 25, "\(times.count) slots in 4 s at \(rate)/s")
        for store in stores {
            await store.watch?.close()
            store.close()
        }
    }

    /// Polls `condition` every 50 ms for at most `seconds`.
    func eventually(seconds: Double, _ condition: @Sendable () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }
}

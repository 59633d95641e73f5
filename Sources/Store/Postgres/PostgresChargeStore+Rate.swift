extension PostgresChargeStore {
    /// Seconds added to the window: a request reaches the provider a little after its slot was taken
    /// (up to 0.1 s later than another node's on a loaded host: 26 in one second were seen at 0.05).
    static let rateMargin = 0.1

    /// One window for every node (`rate_window`): a slot is free when the request `rate` places
    /// before it went at least a second (and the margin) ago, by the server's clock. The row's lock
    /// serialises the nodes' takes; a take is one statement, beside the writes (not in their turn).
    package func takeRateSlot(rate: Int) async throws -> Double? {
        guard watch != nil else { return nil }
        let rate = Int64(max(1, rate)), margin = Self.rateMargin
        return try await onConnection { link in
            let taken = try link.first("""
                UPDATE rate_window SET times = times[greatest(1, cardinality(times) - $1 + 2):cardinality(times)] || extract(epoch FROM clock_timestamp())::float8
                WHERE id = 1 AND (cardinality(times) < $1 OR times[cardinality(times) - $1 + 1] <= extract(epoch FROM clock_timestamp()) - 1 - $2)
                RETURNING 1
                """, [.int(rate), .real(margin)])
            if taken != nil { return 0 }
            let wait = try link.first("""
                SELECT times[cardinality(times) - $1 + 1] + 1 + $2 - extract(epoch FROM clock_timestamp())::float8 FROM rate_window WHERE id = 1
                """, [.int(rate), .real(margin)])?.optionalDouble(0)
            return max(0.001, wait ?? 0.001)
        }
    }
}

extension PostgresChargeStore {
    /// Seconds added to the window: a request reaches the provider a little after its slot was taken
    /// (up to 0.1 s later than another node's on a loaded host: 26 in one second were seen at 0.05).
    static let rateMargin = 0.1

    /// One window for every node (`rate_window`): `count` slots are free together when the request
    /// `rate - count + 1` places before them went at least a second (and the margin) ago, by the
    /// server's clock. Slots taken together count from the end of their `spread`, and
    /// times never go back. The row's lock serialises the nodes' takes; a take is one statement, beside the
    /// writes (not in their turn).
    package func takeRateSlot(rate: Int, count: Int, spread: Double) async throws -> Double? {
        guard watch != nil else { return nil }
        let rate = Int64(max(1, rate)), margin = Self.rateMargin
        let n = Int64(min(max(1, count), Int(rate)))
        return try await onConnection { link in
            let taken = try link.first("""
                UPDATE rate_window SET times = times[greatest(1, cardinality(times) - $1 + $3 + 1):cardinality(times)]
                    || array_fill(greatest(extract(epoch FROM clock_timestamp())::float8 + $4, times[cardinality(times)]), ARRAY[$3::int])
                WHERE id = 1 AND (cardinality(times) < $1 - $3 + 1 OR times[cardinality(times) - $1 + $3] <= extract(epoch FROM clock_timestamp()) - 1 - $2)
                RETURNING 1
                """, [.int(rate), .real(margin), .int(n), .real(n > 1 ? spread : 0)])
            if taken != nil { return 0 }
            let wait = try link.first("""
                SELECT times[cardinality(times) - $1 + $3] + 1 + $2 - extract(epoch FROM clock_timestamp())::float8 FROM rate_window WHERE id = 1
                """, [.int(rate), .real(margin), .int(n)])?.optionalDouble(0)
            return max(0.001, wait ?? 0.001)
        }
    }
}

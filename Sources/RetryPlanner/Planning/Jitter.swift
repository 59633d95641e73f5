/// Deterministic jitter: the same charge and attempt always get the same offset, different
/// charges spread out, so retries do not stampede the provider at ladder boundaries.
package enum Jitter {
    /// SplitMix64's finalizer.
    @inline(__always)
    package static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// An offset in `0...range` seconds for a charge's attempt.
    @inline(__always)
    package static func offset(idHash: UInt64, attempt: UInt8, range: Int64) -> Int64 {
        guard range > 0 else { return 0 }
        let r = mix(idHash ^ (UInt64(attempt) &* 0x2545_f491_4f6c_dd1d))
        // Lemire's multiply-shift maps r onto 0...range without a division.
        return Int64(r.multipliedFullWidth(by: UInt64(range) + 1).high)
    }
}

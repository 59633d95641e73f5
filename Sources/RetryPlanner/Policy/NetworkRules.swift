/// The card-network and bank-debit limits the planner never breaks.
///
/// Defaults are the safe values from public acquirer documentation; the networks revise them
/// every year or two, so each is a setting (`[network_rules]` in `retry.toml`).
///
/// | rule | default |
/// |---|---|
/// | Visa categories 2-4 reattempts per card | 15 in a rolling 30 days (may be raised to 20) |
/// | Mastercard declines per card | 10 in 24 hours |
/// | Mastercard same card and amount | 35 in 30 days |
/// | Mastercard MAC 02 wait | 72 hours |
/// | Mastercard MAC 24-30 waits | 1 h, 24 h, 2 d, 4 d, 6 d, 8 d, 10 d |
/// | ACH R01/R09 reinitiations | 2 within 180 days |
/// | SEPA AM04/MS03 retries | 2 within 42 days |
///
/// The issuer counts the customer's own attempts too (a hosted invoice page, a portal), and Relance
/// learns of those only at its next poll. So Relance's own attempts stop `customerReserve` short of
/// each card limit: a customer who pays between two polls cannot push one of ours over it.
package struct NetworkRules: Sendable, Hashable {
    package var visaReattemptLimit: Int = 15
    package var visaWindow: Int64 = 30 * 86_400
    /// Apply the Visa reattempt limit to Amex, Discover and unknown brands too (the safe choice).
    package var visaLimitForOtherNetworks: Bool = true
    package var mastercardDeclineLimit: Int = 10
    package var mastercardDeclineWindow: Int64 = 86_400
    package var mastercardSameAmountLimit: Int = 35
    package var mastercardSameAmountWindow: Int64 = 30 * 86_400
    package var mac02Wait: Int64 = 72 * 3_600
    /// Waits for MAC 24, 25, ..., 30.
    package var macRetryAfter: [Int64] = [3_600, 86_400, 2 * 86_400, 4 * 86_400, 6 * 86_400, 8 * 86_400, 10 * 86_400]
    package var achReinitiationLimit: Int = 2
    package var achWindow: Int64 = 180 * 86_400
    package var sepaRetryLimit: Int = 2
    package var sepaWindow: Int64 = 42 * 86_400
    /// Card-limit headroom left for attempts Relance cannot see yet (the customer's own).
    package var customerReserve: Int = 2

    package init() {}

    /// The minimum wait a Merchant Advice Code imposes after the decline that carried it (0 if none).
    package func macWait(_ mac: UInt8) -> Int64 {
        switch mac {
        case 2: return mac02Wait
        case 24...30:
            let index = Int(mac) - 24
            return index < macRetryAfter.count ? macRetryAfter[index] : 0
        default: return 0
        }
    }

    /// The hot-path form: fixed-size, no references.
    var compiled: CompiledRules {
        var waits = (Int64(0), Int64(0), Int64(0), Int64(0), Int64(0), Int64(0), Int64(0), Int64(0))
        waits.0 = mac02Wait
        withUnsafeMutableBytes(of: &waits) { raw in
            let slots = raw.bindMemory(to: Int64.self)
            for (i, w) in macRetryAfter.prefix(7).enumerated() { slots[i + 1] = w }
        }
        let ours = { (limit: Int) in Int32(max(1, limit - customerReserve)) }
        return CompiledRules(
            visaLimit: ours(visaReattemptLimit), visaWindow: visaWindow, visaForOthers: visaLimitForOtherNetworks,
            mcDeclineLimit: ours(mastercardDeclineLimit), mcDeclineWindow: mastercardDeclineWindow,
            mcSameAmountLimit: ours(mastercardSameAmountLimit), mcSameAmountWindow: mastercardSameAmountWindow,
            macWaits: waits,
            achLimit: Int32(achReinitiationLimit), achWindow: achWindow,
            sepaLimit: Int32(sepaRetryLimit), sepaWindow: sepaWindow
        )
    }
}

/// ``NetworkRules`` flattened for the planner's inner loop.
struct CompiledRules: Sendable {
    var visaLimit: Int32
    var visaWindow: Int64
    var visaForOthers: Bool
    var mcDeclineLimit: Int32
    var mcDeclineWindow: Int64
    var mcSameAmountLimit: Int32
    var mcSameAmountWindow: Int64
    /// MAC 02, then MAC 24...30.
    var macWaits: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)
    var achLimit: Int32
    var achWindow: Int64
    var sepaLimit: Int32
    var sepaWindow: Int64

    @inline(__always)
    func macWait(_ mac: UInt8) -> Int64 {
        switch mac {
        case 2: return macWaits.0
        case 24: return macWaits.1
        case 25: return macWaits.2
        case 26: return macWaits.3
        case 27: return macWaits.4
        case 28: return macWaits.5
        case 29: return macWaits.6
        case 30: return macWaits.7
        default: return 0
        }
    }
}

/// How a card is funded, as the provider reports it (`card.funding` on Stripe): the learner pools
/// outcomes by it (a debit card draws on the account the salary lands in, a credit card does not).
package enum Funding: UInt8, Sendable, CaseIterable, Hashable {
    case unknown = 0
    case credit = 1
    case debit = 2
    case prepaid = 3

    package var key: String {
        switch self {
        case .unknown: "unknown"
        case .credit: "credit"
        case .debit: "debit"
        case .prepaid: "prepaid"
        }
    }

    /// A provider's funding string; anything else (or nothing) is `unknown`.
    package init(key: String) {
        self = Funding.allCases.first { $0.key == key.lowercased() } ?? .unknown
    }
}

/// A two-letter country code packed in 16 bits (0: unknown), as the planner's method view keeps it.
package enum CountryCode {
    package static func pack(_ code: String) -> UInt16 {
        let b = Array(code.uppercased().utf8)
        guard b.count == 2, b.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return 0 }
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }

    package static func unpack(_ value: UInt16) -> String {
        value == 0 ? "" : String(decoding: [UInt8(value >> 8), UInt8(value & 0xff)], as: UTF8.self)
    }
}

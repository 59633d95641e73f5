import COpenSSL

/// Stable identifiers: the same notices always make the same `Message-ID`.
package enum MessageID {
    /// `relance.<hash>@<domain of from>`: from the customer, the level and the earliest event id of a
    /// merged message, so a message composed again (after a crash) keeps its id and receivers deduplicate.
    package static func make(customer: String, level: String, earliestEvent: String, from: String) -> String {
        let digest = HMAC.sha256(key: [], message: Array("\(customer)\n\(level)\n\(earliestEvent)".utf8))
        let domain = from.split(separator: "@").last.map(String.init) ?? "relance.invalid"
        return "relance.\(hex(digest.prefix(16)))@\(domain)"
    }

    package static func hex<S: Sequence<UInt8>>(_ bytes: S) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// HMAC-SHA256 through OpenSSL's libcrypto.
package enum HMAC {
    package static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let keyBytes = key.isEmpty ? [0] : key
        let ok = keyBytes.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    copenssl_hmac_sha256(k.baseAddress, Int32(key.count), m.baseAddress, m.count, o.baseAddress)
                }
            }
        }
        precondition(ok == 1, "HMAC-SHA256 failed in libcrypto")
        return out
    }
}

import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// One journal entry laid out for sd_journal_sendv(3): `NAME=value` items in one buffer.
struct JournalEntry {
    /// The bytes of every item, back to back.
    let bytes: [UInt8]
    /// Where each item starts in `bytes` and its length.
    let items: [(offset: Int, count: Int)]

    init(fields: [(name: String, value: String)]) {
        var bytes: [UInt8] = []
        var items: [(offset: Int, count: Int)] = []
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: field.value.utf8)
            items.append((start, bytes.count - start))
        }
        self.bytes = bytes
        self.items = items
    }

    /// Sends the entry to journald; returns 0 or a negative errno (journald not running, say).
    @discardableResult
    func send() -> Int32 {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return -EINVAL }
            var vectors = items.map { item in
                iovec(iov_base: UnsafeMutableRawPointer(mutating: base + item.offset), iov_len: item.count)
            }
            return sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }
}

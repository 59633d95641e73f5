#if canImport(Glibc)
import Glibc
#endif

/// One name, one batch: a file in `new/` is never replaced.
///
/// The fsynced temporary file is linked into `new/` (`link(2)` fails with `EEXIST` where `rename(2)`
/// would silently replace a file a consumer has not taken yet). When the name is taken:
///
/// | file already in `new/` | what happens |
/// |---|---|
/// | the same bytes | the same batch written again (a crash before its events left the outbox): nothing more is written |
/// | other bytes | another batch under the same sequence numbers (the store lost its last commits in a power loss and handed them out again): the batch goes to `STEM_HASH.EXT`, HASH being 16 hex digits of FNV-1a 64 of its bytes, then `STEM_HASH-2.EXT`, ... |
///
/// The suffixed names sort right after the plain one (`_` comes after `.`) and before the next
/// sequence number's, so listing `new/` in name order still follows the sequence numbers.
extension SpoolWriter {
    /// Links `tmp` into `new/` under the first name from ``candidates(for:body:)`` that is free or
    /// already holds `body`; returns that name. The caller removes `tmp` and fsyncs `new/`. The bytes
    /// are compared and hashed only when the name is taken.
    func place(_ tmp: String, name: String, body: String) throws(SpoolError) -> String {
        var bytes: [UInt8]? = nil
        var candidates = [name]
        var next = 0
        while next < candidates.count {
            let candidate = candidates[next]
            next += 1
            let final = directory + "/new/" + candidate
            if link(tmp, final) == 0 { return candidate }
            let e = errno
            guard e == EEXIST else { throw SpoolError(code: e == ENOSPC || e == EDQUOT ? .noSpace : .rename, path: final, errno: e) }
            let mine = bytes ?? Array(body.utf8)
            bytes = mine
            if try Self.contents(of: final) == mine { return candidate }
            if candidates.count == 1 { candidates = Self.candidates(for: name, body: mine) }
        }
        throw SpoolError(code: .rename, path: directory + "/new/" + name, errno: EEXIST)
    }

    /// `name`, then `STEM_HASH.EXT` and `STEM_HASH-K.EXT` for K from 2 to 100.
    static func candidates(for name: String, body: [UInt8]) -> [String] {
        let dot = name.lastIndex(of: ".") ?? name.endIndex
        let (stem, ext) = (name[..<dot], name[dot...])
        let hash = String(fnv1a64(body), radix: 16)
        let tagged = stem + "_" + String(repeating: "0", count: 16 - hash.count) + hash
        return [name, tagged + ext] + (2...100).map { tagged + "-\($0)" + ext }
    }

    /// FNV-1a 64 of `bytes`.
    static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    /// The bytes of the file at `path`.
    static func contents(of path: String) throws(SpoolError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError(code: .read, path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SpoolError(code: .read, path: path, errno: errno) }
            if n == 0 { return bytes }
            bytes.append(contentsOf: buffer[0..<n])
        }
    }
}

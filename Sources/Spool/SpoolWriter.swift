#if canImport(Glibc)
import Glibc
#endif

/// Writes event batches into a Maildir-style spool: `tmp/NAME` is written and fsynced, linked into
/// `new/`, and `new/` is fsynced. Consumers take files from `new/`; nothing partial ever appears there.
/// The same batch always gets the same name, so a batch rewritten after a crash is written once; a
/// file in `new/` is never replaced by another batch (see `SpoolWriter+Place.swift`).
package struct SpoolWriter: Sendable {
    package let directory: String

    package init(directory: String) throws(SpoolError) {
        self.directory = directory
        for sub in ["", "/tmp", "/new", "/cur"] {
            let path = directory + sub
            if mkdir(path, 0o750) != 0 && errno != EEXIST { throw SpoolError(code: .create, path: path, errno: errno) }
        }
        // Half-written batches of a killed process: their events are still in the outbox and are written again.
        for name in Self.names(in: directory + "/tmp") { unlink(directory + "/tmp/" + name) }
    }

    package static func names(in path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Files waiting in `new/` for a consumer.
    package func pendingFiles() -> Int {
        Self.names(in: directory + "/new").filter { !$0.hasPrefix(".") }.count
    }

    /// Free bytes on the spool's file system.
    package func freeBytes() -> Int64 {
        var st = statvfs()
        guard statvfs(directory, &st) == 0 else { return .max }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    /// Writes one batch (`lines` joined by newlines) atomically into `new/`, under `name` unless that
    /// name holds another batch; returns the name used (see `place(_:name:body:)`).
    @discardableResult
    package func write(name: String, lines: [String]) throws(SpoolError) -> String {
        let tmp = directory + "/tmp/" + name
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SpoolError(code: errno == ENOSPC ? .noSpace : .create, path: tmp, errno: errno) }
        var body = lines.joined(separator: "\n")
        body.append("\n")
        var failure: SpoolError? = nil
        body.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = SpoolError(code: errno == ENOSPC || errno == EDQUOT ? .noSpace : .write, path: tmp, errno: errno)
                    return
                }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 {
            failure = SpoolError(code: errno == ENOSPC ? .noSpace : .sync, path: tmp, errno: errno)
        }
        close(fd)
        defer { unlink(tmp) }
        if let failure { throw failure }
        let placed = try place(tmp, name: name, body: body)
        try syncDirectory(directory + "/new")
        return placed
    }

    func syncDirectory(_ path: String) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError(code: .sync, path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SpoolError(code: .sync, path: path, errno: errno) }
    }
}

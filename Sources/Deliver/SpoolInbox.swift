import Foundation

/// The deliverer's copy of the spool, consumed Maildir-style.
///
/// Files are taken from `new/` in name order (the daemon names them by sequence number). Once every
/// event of a file is in the journal, the file moves to `cur/`. An event that cannot be delivered
/// is written alone to `failed/`, its first line giving the reason, the event on the second; its
/// file still moves on. Files written here are readable by the service's group only (0640).
package struct SpoolInbox: Sendable {
    package let directory: String

    package init(directory: String) throws(DeliverError) {
        self.directory = directory
        for sub in ["tmp", "new", "cur", "failed"] {
            do {
                try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o750])
            } catch {
                throw DeliverError(.io, "cannot create \(directory)/\(sub): \(error.localizedDescription)")
            }
        }
    }

    /// The files waiting in `new/`, oldest first.
    package func pending() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/new")) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Whether `new/` holds a file (cheaper than listing it all).
    package func hasNew() -> Bool {
        guard let dir = opendir(directory + "/new") else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { return true }
        }
        return false
    }

    /// The lines of a file in `new/`, nil when it vanished (taken by an earlier run that crashed after the move).
    package func lines(of name: String) throws(DeliverError) -> [String]? {
        let path = directory + "/new/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw DeliverError(.io, "cannot read \(path)") }
            return nil
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Moves a file from `new/` to `cur/`: every event of it is in the journal.
    package func done(_ name: String) throws(DeliverError) {
        guard rename(directory + "/new/" + name, directory + "/cur/" + name) == 0 else {
            if errno == ENOENT { return }
            throw DeliverError(.io, "cannot move \(name) to cur/: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `failed/NAME`: the reason, then the event line (or lines). The same name again replaces it.
    package func fail(name: String, reason: String, lines: [String]) throws(DeliverError) {
        let safe = String(name.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
        let oneLine = reason.replacingOccurrences(of: "\n", with: " ")
        let text = "reason: \(oneLine)\n" + lines.map { $0 + "\n" }.joined()
        try writeAtomically(Array(text.utf8), to: directory + "/failed/" + safe)
    }

    /// tmp/, fsync, rename, fsync the directory.
    func writeAtomically(_ bytes: [UInt8], to path: String) throws(DeliverError) {
        let temp = directory + "/tmp/" + (path as NSString).lastPathComponent + ".\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw DeliverError(.io, "cannot create \(temp): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                unlink(temp)
                throw DeliverError(.io, "cannot write \(temp): \(message)")
            }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temp, path) == 0 else {
            unlink(temp)
            throw DeliverError(.io, "cannot place \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    /// Free bytes on the file system holding `path`.
    package static func freeBytes(_ path: String) -> Int? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }
}

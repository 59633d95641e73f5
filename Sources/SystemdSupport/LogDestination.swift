#if canImport(Glibc)
import Glibc
#endif
package import Logging

/// Where the daemon's logs should go.
package enum LogDestination {
    /// True when stderr is the journal stream named by `JOURNAL_STREAM` ("device:inode" compared
    /// with fstat(2)), i.e. systemd connected stderr to journald and native entries are preferable.
    ///
    /// False when `JOURNAL_STREAM` is unset or malformed, or names another file (stderr was
    /// redirected by a shell or a wrapper, and the inherited variable is stale).
    package static func stderrIsJournal() -> Bool {
        guard let raw = getenv("JOURNAL_STREAM") else { return false }
        guard let (device, inode) = parse(String(cString: raw)) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Bootstraps the process's logging at `level`: native journal entries (PRIORITY and the
    /// structured fields) under `identifier` when stderr is the journal, plain lines on stderr otherwise.
    package static func bootstrap(identifier: String, level: Logger.Level) {
        let journal = stderrIsJournal()
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler(label: label, identifier: identifier)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Parses `"device:inode"` (two decimal numbers).
    static func parse(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}

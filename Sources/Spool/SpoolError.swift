#if canImport(Glibc)
import Glibc
#endif

/// A spool write that failed, with the system's own text.
package struct SpoolError: Error, Sendable, CustomStringConvertible {
    package enum Code: Sendable { case create, write, read, sync, rename, noSpace }
    package let code: Code
    package let path: String
    package let errno: Int32

    package init(code: Code, path: String, errno: Int32) {
        self.code = code
        self.path = path
        self.errno = errno
    }

    package var description: String {
        let text = String(cString: strerror(errno))
        switch code {
        case .create: return "cannot create \(path): \(text)"
        case .write: return "cannot write \(path): \(text)"
        case .read: return "cannot read \(path): \(text)"
        case .sync: return "cannot fsync \(path): \(text)"
        case .rename: return "cannot link into \(path): \(text)"
        case .noSpace: return "spool disk full at \(path): \(text)"
        }
    }

    /// True when the disk (or quota) is full: the caller pauses and retries later.
    package var isDiskFull: Bool { code == .noSpace || errno == ENOSPC || errno == EDQUOT }
}

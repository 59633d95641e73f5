#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket file's life on disk: make room before bind, set mode and group after, remove at shutdown.
///
/// Only a socket is ever deleted: a regular file, directory or link at the path is an error, so a
/// wrong setting cannot destroy data.
enum UnixSocketFile {
    /// Creates the parent directory if needed and unlinks a stale socket left by an earlier run.
    static func prepare(_ path: String) throws(StatusServerError) {
        try makeParent(of: path)
        var st = stat()
        guard lstat(path, &st) == 0 else {
            let e = errno
            if e == ENOENT { return }
            throw StatusServerError(.socketSetup, "cannot inspect status socket path \(path): \(errorText(e))")
        }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw StatusServerError(.pathNotSocket, "status socket path \(path) exists and is not a socket; refusing to delete it")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StatusServerError(.socketSetup, "cannot remove stale status socket \(path): \(errorText(errno))")
        }
    }

    /// Applies the mode and, when named, the group; returns the socket's inode for `remove`.
    static func finish(_ path: String, mode: UInt32, group: String) throws(StatusServerError) -> UInt64 {
        if !group.isEmpty {
            guard let entry = getgrnam(group) else {
                throw StatusServerError(.unknownGroup, "status socket group \"\(group)\" does not exist on this host")
            }
            guard chown(path, uid_t.max, entry.pointee.gr_gid) == 0 else {
                throw StatusServerError(.socketSetup, "cannot give status socket \(path) to group \(group): \(errorText(errno))")
            }
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            throw StatusServerError(.socketSetup, "cannot chmod status socket \(path) to \(String(mode, radix: 8)): \(errorText(errno))")
        }
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw StatusServerError(.socketSetup, "status socket \(path) vanished after bind: \(errorText(errno))")
        }
        return UInt64(st.st_ino)
    }

    /// Unlinks the socket if the path still holds the one this process created (same inode).
    static func remove(_ path: String, inode: UInt64) {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK, UInt64(st.st_ino) == inode else { return }
        unlink(path)
    }

    /// `mkdir -p` of the path's directory, mode 0755.
    private static func makeParent(of path: String) throws(StatusServerError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let dir = path[..<slash]
        var current = dir.hasPrefix("/") ? "" : "."
        for part in dir.split(separator: "/") where part != "." {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw StatusServerError(.socketSetup, "cannot create status socket directory \(current): \(errorText(errno))")
            }
        }
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit so a thousand clients at once do not hit
    /// `EMFILE` (each connection is one descriptor). Returns the soft limit now in force.
    @discardableResult
    static func raiseFileLimit() -> UInt64 {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}

import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// The listening sockets systemd passed by socket activation (sd_listen_fds(3)).
package enum SocketActivation {
    /// The passed descriptors with their `FileDescriptorName=` (systemd's "unknown" when unnamed).
    ///
    /// Empty when nothing was passed or `LISTEN_PID` names another process. Unsets `LISTEN_PID`,
    /// `LISTEN_FDS` and `LISTEN_FDNAMES`, so children do not claim the sockets; call it once at
    /// startup. The descriptors already have `FD_CLOEXEC` set by libsystemd.
    package static func listenFDs() -> [(fd: Int32, name: String)] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        defer {
            if let names {
                var index = 0
                while let name = names[index] {
                    free(name)
                    index += 1
                }
                free(names)
            }
        }
        guard count > 0 else { return [] }
        return (0..<Int(count)).map { index in
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            return (fd: SD_LISTEN_FDS_START + Int32(index), name: name)
        }
    }
}

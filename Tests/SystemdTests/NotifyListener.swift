#if canImport(Glibc)
import Glibc
#endif

/// A real `AF_UNIX` `SOCK_DGRAM` socket playing systemd's notification socket.
final class NotifyListener {
    let fd: Int32
    /// The `NOTIFY_SOCKET` value naming this socket: a file path, or `@name` when abstract.
    let address: String
    private let path: String?

    /// Binds a socket in a fresh temporary directory, or in the abstract namespace.
    init(abstract: Bool = false) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ListenerError(step: "socket", errno: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name: [UInt8]
        if abstract {
            let unique = "relance-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            self.address = "@" + unique
            self.path = nil
            name = [0] + Array(unique.utf8)
        } else {
            var template = Array("/tmp/relance-notify-XXXXXX".utf8CString)
            guard let directory = mkdtemp(&template) else { throw ListenerError(step: "mkdtemp", errno: errno) }
            let path = String(cString: directory) + "/notify.sock"
            self.address = path
            self.path = path
            name = Array(path.utf8) + [0]
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + name.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw ListenerError(step: "bind", errno: errno) }
    }

    deinit {
        close(fd)
        if let path {
            unlink(path)
            rmdir(String(path.dropLast("/notify.sock".count)))
        }
    }

    /// The next datagram, or nil when none arrives within `milliseconds`.
    func receive(within milliseconds: Int32 = 2_000) -> String? {
        var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, milliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

struct ListenerError: Error, CustomStringConvertible {
    let step: String
    let errno: Int32
    var description: String { "\(step): \(String(cString: strerror(errno)))" }
}

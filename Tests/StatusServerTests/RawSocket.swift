import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A blocking POSIX socket for tests: sends raw bytes (garbage included) and reads raw answers.
final class RawSocket {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One HTTP response as read off the wire.
    struct Response: Sendable {
        var statusLine: String
        var headers: [String: String]
        var body: [UInt8]
        var status: Int { Int(statusLine.split(separator: " ")[1]) ?? 0 }
    }

    let fd: Int32
    private var pending: [UInt8] = []

    init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in unixPath.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw Failure(description: "connect \(unixPath): \(String(cString: strerror(e)))") }
        setTimeout(seconds: 10)
    }

    init(tcpPort: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(tcpPort).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw Failure(description: "connect tcp \(tcpPort): \(String(cString: strerror(e)))") }
        setTimeout(seconds: 10)
    }

    deinit { close(fd) }

    func setTimeout(seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Reads more bytes; `false` at end of stream. Throws on timeout or error.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 {
            let e = errno
            if e == ECONNRESET { return false }
            throw Failure(description: "recv: \(String(cString: strerror(e)))")
        }
        pending += chunk[..<n]
        return n > 0
    }

    /// Reads one response (head, then `Content-Length` bytes of body unless `head` is set).
    func readResponse(head: Bool = false) throws -> Response {
        let marker: [UInt8] = Array("\r\n\r\n".utf8)
        var end: Int?
        while end == nil {
            end = pending.indices.dropLast(3).first { pending[$0..<$0 + 4].elementsEqual(marker) }
            if end == nil, try !fill() { throw Failure(description: "end of stream before a response head (\(pending.count) bytes)") }
        }
        let lines = String(decoding: pending[..<end!], as: UTF8.self).components(separatedBy: "\r\n")
        pending.removeFirst(end! + 4)
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = head ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        while pending.count < length {
            if try !fill() { throw Failure(description: "end of stream inside a body") }
        }
        let body = Array(pending[..<length])
        pending.removeFirst(length)
        return Response(statusLine: lines[0], headers: headers, body: body)
    }

    /// Waits for the peer to close; true when it did (EOF or reset), false on timeout with the connection open.
    func waitForClose() -> Bool {
        while true {
            do { if try !fill() { return true } } catch { return false }
        }
    }
}

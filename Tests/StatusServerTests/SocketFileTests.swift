import Foundation
import Logging
import Testing
@testable import StatusServer
import TestSupport

/// The socket file on disk, and the TCP listener.
@Suite struct SocketFileTests {
    private func mode(_ path: String) -> UInt32? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return UInt32(st.st_mode)
    }

    @Test func socketIsCreatedWithMode0660InANewDirectoryAndRemovedAtShutdown() async throws {
        var socketPath = ""
        try await withServer { _, path in
            socketPath = path
            let m = try #require(mode(path))
            #expect(m & UInt32(S_IFMT) == UInt32(S_IFSOCK))
            #expect(m & 0o777 == 0o660)
        }
        #expect(mode(socketPath) == nil, "the socket file must be gone after shutdown")
    }

    @Test func aStaleSocketIsReplaced() async throws {
        let path = temporaryDirectory() + "/stale.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        try #require(rc == 0)
        let server = StatusServer(configuration: .init(unixSocketPath: path), logger: Logger(label: "t"), handler: testRoutes)
        try await server.bind()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            #expect(try await rawGet(path, target: "/status").status == 200)
            group.cancelAll()
            try await group.waitForAll()
        }
        #expect(mode(path) == nil)
    }

    @Test func aRegularFileAtTheSocketPathIsNeverDeleted() async throws {
        let path = temporaryDirectory() + "/important.txt"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        let server = StatusServer(configuration: .init(unixSocketPath: path), logger: Logger(label: "t"), handler: testRoutes)
        await #expect(throws: StatusServerError.self) { try await server.bind() }
        do { try await server.bind() } catch let error as StatusServerError {
            #expect(error.code == .pathNotSocket)
            #expect(error.description.contains(path))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }

    @Test func theSocketIsGivenTheConfiguredGroup() async throws {
        let group = try #require(getgrnam("daemon") ?? getgrgid(getegid()))
        let name = String(cString: group.pointee.gr_name)
        let gid = group.pointee.gr_gid
        try await withServer({ $0.socketGroup = name }) { _, path in
            var st = stat()
            try #require(lstat(path, &st) == 0)
            #expect(st.st_gid == gid)
        }
    }

    @Test func anInheritedListeningSocketIsServedAndItsFileLeftAlone() async throws {
        let path = temporaryDirectory() + "/activated.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(rc == 0 && listen(fd, 128) == 0)
        var configuration = StatusServerConfiguration(unixSocketPath: path)
        configuration.inheritedSocket = fd
        let server = StatusServer(configuration: configuration, logger: Logger(label: "t"), handler: testRoutes)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            #expect(try await rawGet(path, target: "/echo?activated").body == Array("GET activated".utf8))
            group.cancelAll()
            try await group.waitForAll()
        }
        #expect(mode(path) != nil, "the socket file belongs to whoever created the inherited socket")
    }

    @Test func anUnknownGroupIsAClearError() async throws {
        var configuration = StatusServerConfiguration(unixSocketPath: temporaryDirectory() + "/g.sock")
        configuration.socketGroup = "no-such-group-relance"
        let server = StatusServer(configuration: configuration, logger: Logger(label: "t"), handler: testRoutes)
        do {
            try await server.bind()
            Issue.record("bind with an unknown group succeeded")
        } catch let error as StatusServerError {
            #expect(error.code == .unknownGroup)
            #expect(error.description.contains("no-such-group-relance"))
        }
        #expect(mode(configuration.unixSocketPath) == nil, "a failed bind leaves no socket behind")
    }

    @Test func tcpListenerOnAnEphemeralLoopbackPort() async throws {
        try await withServer({ $0.tcpListen = "127.0.0.1:0" }) { server, _ in
            let port = try #require(server.tcpPort)
            #expect(port > 0)
            let response: RawSocket.Response = try await offPool {
                let socket = try RawSocket(tcpPort: port)
                try socket.send("GET /echo?tcp HTTP/1.1\r\nHost: x\r\n\r\n")
                return try socket.readResponse()
            }
            #expect(String(decoding: response.body, as: UTF8.self) == "GET tcp")
        }
    }

    @Test(arguments: ["127.0.0.1", "nohost:", ":9464", "[::1]:99999"])
    func badTcpAddressesAreRejected(address: String) {
        var configuration = StatusServerConfiguration(unixSocketPath: "")
        configuration.tcpListen = address
        #expect(throws: StatusServerError.self) { try configuration.tcpHostPort() }
    }
}

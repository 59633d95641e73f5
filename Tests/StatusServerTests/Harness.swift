import Foundation
import Logging
import ServiceLifecycle
@testable import StatusServer
import TestSupport

/// A fresh directory under the system temp dir (short, so socket paths stay under 108 bytes).
func temporaryDirectory() -> String {
    let path = "/tmp/ss-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The routes the tests serve: `/status` JSON, `/slow` after a delay, `/echo` the query, else 404.
@Sendable func testRoutes(_ request: StatusRequest) async -> StatusResponse {
    switch request.path {
    case "/status":
        return .json(Array(#"{"ok":true}"#.utf8))
    case "/slow":
        try? await Task.sleep(for: .milliseconds(Int(request.query) ?? 2_000))
        return .text("slow\n")
    case "/echo":
        return .text("\(request.method) \(request.query)")
    default:
        return .text("not found\n", status: 404)
    }
}

/// Binds a server on a temp socket, runs it in a service group while `body` runs, then shuts it
/// down gracefully and waits for `run()` to return.
func withServer(
    _ adjust: (inout StatusServerConfiguration) -> Void = { _ in },
    handler: @escaping @Sendable (StatusRequest) async -> StatusResponse = testRoutes,
    _ body: (StatusServer, String) async throws -> Void
) async throws {
    let path = temporaryDirectory() + "/run/status.sock"
    var configuration = StatusServerConfiguration(unixSocketPath: path)
    adjust(&configuration)
    var logger = Logger(label: "status-test")
    logger.logLevel = .warning
    let server = StatusServer(configuration: configuration, logger: logger, handler: handler)
    try await server.bind()
    let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body(server, path)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// One request on a new raw connection, answered and read whole.
func rawGet(_ path: String, target: String, method: String = "GET") async throws -> RawSocket.Response {
    try await offPool {
        let socket = try RawSocket(unixPath: path)
        try socket.send("\(method) \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return try socket.readResponse(head: method == "HEAD")
    }
}


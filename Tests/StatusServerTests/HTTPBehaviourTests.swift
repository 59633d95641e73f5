import Foundation
import Testing
@testable import StatusServer
import TestSupport

/// The HTTP side of the server, spoken to over raw sockets.
@Suite struct HTTPBehaviourTests {
    @Test func routesThroughTheHandler() async throws {
        try await withServer { _, path in
            let status = try await rawGet(path, target: "/status")
            #expect(status.status == 200)
            #expect(status.headers["content-type"] == "application/json")
            #expect(String(decoding: status.body, as: UTF8.self) == #"{"ok":true}"#)
            let echo = try await rawGet(path, target: "/echo?a=1&b=2")
            #expect(String(decoding: echo.body, as: UTF8.self) == "GET a=1&b=2")
            #expect(echo.headers["connection"] == "close")
        }
    }

    @Test func unknownPathIs404AndOtherMethodsAre405() async throws {
        try await withServer { _, path in
            #expect(try await rawGet(path, target: "/nope").status == 404)
            let post = try await rawGet(path, target: "/status", method: "POST")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET, HEAD")
            #expect(try await rawGet(path, target: "/status", method: "DELETE").status == 405)
        }
    }

    @Test func headGetsLengthButNoBody() async throws {
        try await withServer { _, path in
            let answer: (RawSocket.Response, RawSocket.Response) = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try socket.send("HEAD /status HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?after HTTP/1.1\r\nHost: x\r\n\r\n")
                return (try socket.readResponse(head: true), try socket.readResponse())
            }
            #expect(answer.0.status == 200)
            #expect(answer.0.headers["content-length"] == "11")
            // Had the HEAD answer carried a body, it would be read here as the next status line.
            #expect(String(decoding: answer.1.body, as: UTF8.self) == "GET after")
        }
    }

    @Test func keepAliveServesTwoRequestsOnOneConnection() async throws {
        try await withServer { _, path in
            let bodies: [String] = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try socket.send("GET /echo?first HTTP/1.1\r\nHost: x\r\n\r\n")
                let first = try socket.readResponse()
                try socket.send("GET /echo?second HTTP/1.1\r\nHost: x\r\n\r\n")
                let second = try socket.readResponse()
                return [first, second].map { String(decoding: $0.body, as: UTF8.self) }
            }
            #expect(bodies == ["GET first", "GET second"])
        }
    }

    @Test func garbageGets400AndCloseAndTheNextClientIsServed() async throws {
        try await withServer { _, path in
            let (statusLine, closed) = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try socket.send([0x16, 0x03, 0x01, 0x00, 0xff] + Array("\u{0}garbage \r\n\r\n".utf8))
                return (try socket.readResponse().statusLine, socket.waitForClose())
            }
            #expect(statusLine.hasPrefix("HTTP/1.1 400"))
            #expect(closed)
            #expect(try await rawGet(path, target: "/status").status == 200)
        }
    }

    @Test(arguments: ["line", "header", "many headers"])
    func oversizedHeadIsRejected(part: String) async throws {
        try await withServer({ $0.maxRequestHeadBytes = 1_024 }) { _, path in
            let long = String(repeating: "a", count: 4_000)
            let many = (0..<200).map { "X-H\($0): 0123456789\r\n" }.joined()
            let request = switch part {
            case "line": "GET /\(long) HTTP/1.1\r\nHost: x\r\n\r\n"
            case "header": "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(long)\r\n\r\n"
            default: "GET / HTTP/1.1\r\nHost: x\r\n\(many)\r\n"
            }
            let (status, closed) = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try? socket.send(request)
                return (try socket.readResponse().status, socket.waitForClose())
            }
            #expect(status == 400)
            #expect(closed)
            #expect(try await rawGet(path, target: "/status").status == 200)
        }
    }

    @Test func requestBodyIsIgnoredAndAnOversizedOneClosesTheConnection() async throws {
        try await withServer({ $0.maxRequestBodyBytes = 1_000 }) { _, path in
            let small: Int = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try socket.send("GET /echo?b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
                return try socket.readResponse().status
            }
            #expect(small == 200)
            let closed: Bool = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try socket.send("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
                try? socket.send([UInt8](repeating: 0x41, count: 5_000))
                return socket.waitForClose()
            }
            #expect(closed)
        }
    }
}

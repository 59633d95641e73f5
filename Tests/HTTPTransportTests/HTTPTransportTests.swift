import Foundation
import HTTPTransport
import Testing

/// Requests and responses against the Python peer on loopback.
@Suite struct HTTPTransportTests {
    @Test func postRoundTripsMethodHeadersAndBody() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let body = Array(#"{"charge":"ch_1","amount":1250}"#.utf8)
        let request = HTTPRequest(
            method: "POST", url: peer.url("/echo?x=1"),
            headers: [("Content-Type", "application/json"), ("Idempotency-Key", "k-42"), ("X-Empty", "")], body: body)
        let response = try await transport.send(request)
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        let echo = try Echo(response)
        #expect(echo.method == "POST")
        #expect(echo.path == "/echo?x=1")
        #expect(echo.body == String(decoding: body, as: UTF8.self))
        #expect(echo.header("Idempotency-Key") == "k-42")
        #expect(echo.header("X-Empty") == "")
        #expect(echo.header("Content-Length") == "\(body.count)")
        #expect(echo.header("User-Agent") == "relance")
        #expect(echo.header("Expect") == nil)
    }

    @Test(arguments: ["GET", "PUT", "DELETE", "PATCH"])
    func otherMethodsAreSentAsGiven(method: String) async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let body: [UInt8] = method == "GET" ? [] : Array("payload".utf8)
        let response = try await transport.send(HTTPRequest(method: method, url: peer.url("/echo"), headers: [("X-Which", method)], body: body))
        let echo = try Echo(response)
        #expect(echo.method == method)
        #expect(echo.header("x-which") == method)
        #expect(echo.body == String(decoding: body, as: UTF8.self))
        #expect(echo.header("Content-Type") == nil)
    }

    @Test func headRequestGetsHeadersOnly() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let response = try await transport.send(HTTPRequest(method: "HEAD", url: peer.url("/big?bytes=5000")))
        #expect(response.status == 200)
        #expect(response.header("Content-Length") == "5000")
        #expect(response.body.isEmpty)
    }

    @Test func non2xxIsAResponseAndHeaderLookupIgnoresCase() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let response = try await transport.send(HTTPRequest(url: peer.url("/status?code=503&retry_after=7")))
        #expect(response.status == 503)
        #expect(response.header("retry-after") == "7")
        #expect(response.header("RETRY-AFTER") == "7")
        #expect(response.header("Retry-After") == "7")
        #expect(response.header("x-dup") == "two")
        #expect(response.headers.filter { $0.name == "X-Dup" }.map(\.value) == ["one", "two"])
        #expect(response.header("Retry-Aftex") == nil)
        #expect(String(decoding: response.body, as: UTF8.self) == "status\n")
    }

    @Test func twoHundredConcurrentRequestsAreEachAnsweredWithTheirOwnBody() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let request = HTTPRequest(method: "POST", url: peer.url("/echo?i=\(i)"), body: Array("request \(i)".utf8))
                    let echo = try Echo(try await transport.send(request))
                    return echo.body == "request \(i)" && echo.path == "/echo?i=\(i)"
                }
            }
            return try await group.reduce(into: 0) { count, ok in count += ok ? 1 : 0 }
        }
        #expect(answered == 200)
    }

    @Test func connectionsAreReused() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport(configuration: .with { $0.maxConnectionsPerHost = 4 })
        for _ in 0..<10 {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await transport.send(HTTPRequest(url: peer.url("/echo"))).status } }
                for try await status in group { #expect(status == 200) }
            }
        }
        let stats = try await peer.stats(using: transport)
        #expect(stats.requests == 101)
        #expect(stats.connections <= 4)
    }
}

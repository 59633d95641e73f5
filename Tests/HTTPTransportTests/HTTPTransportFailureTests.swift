import Foundation
import HTTPTransport
import Testing

/// Requests that get no response: each fails with its own kind and curl's text.
@Suite struct HTTPTransportFailureTests {
    /// Sends and returns the error, recording an issue when a response came back instead.
    func failure(_ transport: HTTPTransport, _ request: HTTPRequest) async -> HTTPError? {
        do {
            let response = try await transport.send(request)
            Issue.record("expected an error, got status \(response.status)")
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["/delay?seconds=20", "/drip?bytes=30"])
    func slowAnswerTimesOut(path: String) async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport(configuration: .with { $0.requestTimeout = 1.5 })
        let started = ContinuousClock.now
        let error = try #require(await failure(transport, HTTPRequest(url: peer.url(path))))
        #expect(error.kind == .timeout)
        #expect(error.curlCode == 28)
        #expect(error.message.hasPrefix("Timeout was reached"))
        #expect(error.message.contains("timed out after"))
        #expect(!error.neverSent)
        // Well before the 20 s answer, with room for a machine loaded by other suites.
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func refusedConnectionWasNeverSent() async throws {
        let peer = try await HTTPPeer.start()
        let url = peer.url("/echo")
        peer.stop()
        let transport = try HTTPTransport()
        let error = try #require(await failure(transport, HTTPRequest(method: "POST", url: url, body: [1, 2, 3])))
        #expect(error.kind == .connect)
        #expect(error.curlCode == 7)
        #expect(error.neverSent)
        #expect(error.message.hasPrefix("Couldn't connect to server"))
    }

    @Test(arguments: ["/big?bytes=5000", "/big?bytes=50000&chunked=1"])
    func bodyOverTheLimitIsTooLarge(path: String) async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport(configuration: .with { $0.maxResponseBytes = 4096 })
        let error = try #require(await failure(transport, HTTPRequest(url: peer.url(path))))
        #expect(error.kind == .tooLarge)
        let fits = try await transport.send(HTTPRequest(url: peer.url("/big?bytes=4096&chunked=1")))
        #expect(fits.body.count == 4096)
    }

    @Test func connectionClosedMidResponseIsATransportError() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let error = try #require(await failure(transport, HTTPRequest(url: peer.url("/close"))))
        #expect(error.kind == .transport)
        #expect(error.curlCode == 18)
        #expect(!error.neverSent)
        #expect(error.message.contains("Transferred a partial file"))
    }

    @Test func cancellingTheTaskCancelsTheRequest() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let task = Task { try await transport.send(HTTPRequest(url: peer.url("/delay?seconds=10"))) }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - started < .seconds(6))
        #expect(result.failureKind == .cancelled)
        #expect(try await transport.send(HTTPRequest(url: peer.url("/echo"))).status == 200)
    }

    @Test func shutdownFailsInFlightAndLaterRequests() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let inFlight = Task { try await transport.send(HTTPRequest(url: peer.url("/delay?seconds=10"))) }
        try await Task.sleep(for: .milliseconds(300))
        transport.shutdown()
        transport.shutdown()
        #expect(await inFlight.result.failureKind == .shutdown)
        let later = try #require(await failure(transport, HTTPRequest(url: peer.url("/echo"))))
        #expect(later.kind == .shutdown)
    }

    @Test(arguments: [
        HTTPRequest(url: "ftp://127.0.0.1/file"),
        HTTPRequest(url: "http://127.0.0.1/ space"),
        HTTPRequest(method: "GET POST", url: "http://127.0.0.1/"),
        HTTPRequest(url: "http://127.0.0.1/", headers: [("X-Split", "a\r\nInjected: yes")]),
        HTTPRequest(url: "http://127.0.0.1/", headers: [("Bad Name", "a")]),
    ])
    func malformedRequestsAreRejected(request: HTTPRequest) async throws {
        let transport = try HTTPTransport()
        let error = try #require(await failure(transport, request))
        #expect(error.kind == .invalidRequest)
        #expect(error.neverSent)
    }
}

extension Result where Failure == any Error {
    /// The kind of the error, nil for a success or an error of another type.
    var failureKind: HTTPError.Kind? {
        if case .failure(let error) = self { return (error as? HTTPError)?.kind }
        return nil
    }
}

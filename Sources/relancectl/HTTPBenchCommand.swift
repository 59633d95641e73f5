import ArgumentParser
import Foundation
import HTTPTransport

/// `relancectl bench http --url URL --connections N --duration S`: keeps N GETs in flight through one
/// `HTTPTransport` for S seconds and prints one line with requests=, seconds=, requests_per_sec= and errors=.
///
/// Every answer must be a 200; anything else (another status, a transport error) counts as an error
/// and makes the command exit non-zero.
struct HTTPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "GET a URL with N requests in flight; print the rate.")

    @Option(help: "URL to GET (keep-alive).")
    var url: String

    @Option(help: "Requests kept in flight (also the connection limit to the host).")
    var connections: Int = 32

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    func run() async throws {
        guard connections > 0, duration > 0 else { throw ValidationError("--connections and --duration must be positive") }
        var settings = HTTPTransport.Configuration()
        settings.maxConnectionsPerHost = connections
        let transport = try HTTPTransport(configuration: settings)
        defer { transport.shutdown() }
        let request = HTTPRequest(url: url)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: .milliseconds(Int64(duration * 1000)))
        // The workers run on the transport's own thread: no thread hop between a response and the next request.
        let tally = await withTaskExecutorPreference(transport.taskExecutor) { await withTaskGroup(of: Tally.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var tally = Tally()
                    while clock.now < deadline {
                        do {
                            let response = try await transport.send(request)
                            if response.status == 200 { tally.ok += 1 } else { tally.fail("status \(response.status)") }
                        } catch {
                            tally.fail("\(error)")
                        }
                    }
                    return tally
                }
            }
            return await group.reduce(into: Tally()) { $0.add($1) }
        } }
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = tally.ok + tally.errors
        print("requests=\(total) seconds=\(String(format: "%.3f", seconds)) requests_per_sec=\(Int(Double(total) / seconds)) errors=\(tally.errors)")
        if let first = tally.firstError {
            FileHandle.standardError.write(Data("first error: \(first)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Answers counted by one worker of the benchmark.
private struct Tally: Sendable {
    var ok = 0
    var errors = 0
    var firstError: String?

    mutating func fail(_ reason: String) {
        errors += 1
        if firstError == nil { firstError = reason }
    }

    mutating func add(_ other: Tally) {
        ok += other.ok
        errors += other.errors
        firstError = firstError ?? other.firstError
    }
}

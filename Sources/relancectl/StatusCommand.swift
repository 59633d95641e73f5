import ArgumentParser
import Foundation
import RelanceConfig
import StatusServer
import Store

/// `relancectl status`: ask the running daemon for its `/status` document over the status socket.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running daemon's status (uptime, config, provider, charges, backlog, recovery) from its status socket."
    )

    @Option(help: "The status socket (default: [daemon] status_socket of the config).")
    var socket: String?

    @Option(help: "The config whose status_socket to use when --socket is not given.")
    var config: String = defaultConfigPath

    @Flag(help: "Print the raw /status JSON document instead of the summary.")
    var json = false

    @Option(help: "Seconds to wait for the daemon's answer.")
    var timeout: Double = 5

    @Flag(help: "List the nodes that work on the config's PostgreSQL database, with their last heartbeat (read from the database).")
    var cluster = false

    func run() async throws {
        if cluster { return try await listNodes() }
        let path = try socket ?? loadOrExit(config).settings.daemon.statusSocket
        let response: StatusResponse
        do {
            response = try await StatusClient(socketPath: path, timeout: .milliseconds(Int(timeout * 1_000))).get("/status")
        } catch {
            printError("relancectl: cannot read the daemon's status: \(error.description)")
            throw ExitCode(1)
        }
        guard response.status == 200 else {
            printError("relancectl: the daemon answered \(response.status) on \(path): \(String(decoding: response.body.prefix(500), as: UTF8.self))")
            throw ExitCode(1)
        }
        if json {
            FileHandle.standardOutput.write(Data(response.body))
            if response.body.last != UInt8(ascii: "\n") { print() }
            return
        }
        do {
            print(try StatusDocument.decode(response.body).summary())
        } catch {
            printError("relancectl: the status document from \(path) does not match the expected schema: \(error)")
            throw ExitCode(1)
        }
    }

    /// The `nodes` table of the config's database: each node's host, pid, start and heartbeat age.
    func listNodes() async throws {
        try await withPostgresStore(config, for: "status --cluster", checkSchema: true) { store, settings in
            let nodes = try await store.clusterNodes()
            let lease = Double(settings.store.leaseSeconds)
            print("NODE".padding(toLength: 24, withPad: " ", startingAt: 0) + "HOST".padding(toLength: 24, withPad: " ", startingAt: 0)
                  + "PID".padding(toLength: 9, withPad: " ", startingAt: 0) + "STARTED".padding(toLength: 27, withPad: " ", startingAt: 0) + "HEARTBEAT")
            for n in nodes {
                let beat = String(format: "%.1f s ago", n.heartbeatAge) + (n.heartbeatAge > lease ? " (down: beyond the lease)" : ", \(n.role), \(n.leases) buckets")
                print(n.name.padding(toLength: 24, withPad: " ", startingAt: 0) + n.host.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(n.pid).padding(toLength: 9, withPad: " ", startingAt: 0) + n.startedAt.padding(toLength: 27, withPad: " ", startingAt: 0) + beat)
            }
            if nodes.isEmpty { print("no node has worked on this database yet") }
        }
    }
}

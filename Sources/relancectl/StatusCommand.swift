import ArgumentParser
import Foundation
import RelanceConfig
import StatusServer

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

    func run() async throws {
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
}

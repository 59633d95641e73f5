import ArgumentParser
import Foundation
import RelanceConfig
import StatusServer

/// Where the admin commands go: `--socket`, or `[daemon] admin_socket` of `--config`.
struct AdminSocketOptions: ParsableArguments {
    @Option(help: "The admin socket (default: [daemon] admin_socket of the config).")
    var socket: String?

    @Option(help: "The config whose admin_socket to use when --socket is not given.")
    var config: String = defaultConfigPath

    @Option(help: "Seconds to wait for the daemon's answer.")
    var timeout: Double = 5

    /// Sends the command; prints what the daemon did, or its error (exit 1).
    func send(_ path: String, _ command: [String: String]) async throws {
        let socketPath = try socket ?? loadOrExit(config).settings.daemon.adminSocket
        let body = Array(try JSONSerialization.data(withJSONObject: command, options: [.sortedKeys]))
        let response: StatusResponse
        do {
            response = try await StatusClient(socketPath: socketPath, timeout: .milliseconds(Int(timeout * 1_000))).post(path, json: body)
        } catch {
            printError("relancectl: cannot reach the daemon's admin socket: \(error.description)")
            throw ExitCode(1)
        }
        let answer = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status == 200 else {
            printError("relancectl: \(answer["error"] as? String ?? String(decoding: response.body.prefix(500), as: UTF8.self))")
            throw ExitCode(1)
        }
        let changed = answer["changed"] as? [String] ?? [], unchanged = answer["unchanged"] as? [String] ?? []
        if !changed.isEmpty { print("done: \(changed.joined(separator: ", "))") }
        if !unchanged.isEmpty { print("already so: \(unchanged.joined(separator: ", "))") }
    }
}

/// `relancectl hold CHARGE | --customer ID --reason TEXT [--until TIME]`.
struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Hold a charge, or all of a customer's charges: no attempt and no notice, the max_span clock stopped, until released or --until.",
        discussion: "Written to the daemon's store before it answers; the same hold again changes nothing. A customer's hold also holds their next failures."
    )

    @Argument(help: "The charge (Stripe: the invoice id).")
    var charge: String?

    @Option(help: "Hold every open charge of this customer instead.")
    var customer: String?

    @Option(help: "Why (a dispute, a promise by phone, a payment plan): shown in the events and in relancectl status.")
    var reason: String

    @Option(help: "When the hold ends by itself, RFC 3339 (2026-12-24T09:00:00Z).")
    var until: String?

    @OptionGroup var admin: AdminSocketOptions

    func validate() throws {
        guard (charge == nil) != (customer == nil) else { throw ValidationError("name a charge or --customer, not both") }
        guard !reason.isEmpty else { throw ValidationError("--reason must not be empty") }
    }

    func run() async throws {
        var command = ["reason": reason]
        if let charge { command["charge"] = charge }
        if let customer { command["customer"] = customer }
        if let until { command["until"] = until }
        try await admin.send("/hold", command)
    }
}

/// `relancectl release CHARGE | --customer ID`.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "End a hold (a charge's, or every hold of a customer's charges); the charges are planned again at once."
    )

    @Argument(help: "The charge.")
    var charge: String?

    @Option(help: "Release every held charge of this customer instead.")
    var customer: String?

    @OptionGroup var admin: AdminSocketOptions

    func validate() throws {
        guard (charge == nil) != (customer == nil) else { throw ValidationError("name a charge or --customer, not both") }
    }

    func run() async throws {
        try await admin.send("/release", charge.map { ["charge": $0] } ?? ["customer": customer ?? ""])
    }
}

/// `relancectl promise CHARGE --on DATE`.
struct PromiseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promise",
        abstract: "Record the customer's promise to pay a charge on a date: held until then, attempted that day at their preferred hour.",
        discussion: "Stripe's /pay takes no amount: a promise is for the whole charge."
    )

    @Argument(help: "The charge.")
    var charge: String

    @Option(help: "The day, YYYY-MM-DD, in the customer's time zone.")
    var on: String

    @OptionGroup var admin: AdminSocketOptions

    func run() async throws {
        try await admin.send("/promise", ["charge": charge, "on": on])
    }
}

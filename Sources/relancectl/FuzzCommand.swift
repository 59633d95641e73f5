import ArgumentParser
import ConfigFuzz
import Foundation
import RelanceConfig

/// `relancectl fuzz config`: feed random and mutated inputs to a parser; prints one summary line.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Feed random and mutated inputs to a parser (robustness check).",
        subcommands: [FuzzConfig.self, FuzzStripe.self]
    )
}

struct FuzzConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Fuzz the retry.toml loader.")

    @Option(help: "Number of inputs.") var inputs: Int = 1_000_000
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "A valid retry.toml to mutate (repeatable).") var sample: [String] = ["config/retry.toml"]
    @Option(help: "Write each input to this file before parsing it (to keep the one that crashes).") var keepLast: String?

    func run() throws {
        let texts = sample.compactMap { ConfigLoader.diskReader($0) }
        guard !texts.isEmpty else { throw ValidationError("no readable --sample file") }
        var fuzzer = ConfigFuzzer(seed: seed, seedTexts: texts)
        let clock = ContinuousClock()
        var report = ConfigFuzzer.Report()
        let elapsed = clock.measure { report = fuzzer.run(count: inputs) { text in
            if let keepLast { _ = FileManager.default.createFile(atPath: keepLast, contents: Data(text.utf8)) }
        } }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("\(report) crashes=0 hangs=0 seconds=\(String(format: "%.1f", seconds))")
        if report.emptyErrors > 0 { throw ExitCode(1) }
    }
}

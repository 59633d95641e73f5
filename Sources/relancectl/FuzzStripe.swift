import ArgumentParser
import Foundation
import Providers

/// `relancectl fuzz stripe-json`: random and mutated Stripe answers through the adapter's decoding.
struct FuzzStripe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stripe-json", abstract: "Fuzz the Stripe adapter's decoding of provider answers.")

    @Option(help: "Number of inputs.") var inputs: Int = 1_000_000
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Write each input to this file before decoding it (to keep the one that crashes).") var keepLast: String?

    func run() throws {
        var generator = AnswerMutator(seed: seed, samples: StripeAnswers.samples.map { Array($0.utf8) })
        var accepted = 0, rejected = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<inputs {
                let input = generator.next()
                if let keepLast { _ = FileManager.default.createFile(atPath: keepLast, contents: Data(input)) }
                if StripeAnswers.interpret(input) > 0 { accepted += 1 } else { rejected += 1 }
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("inputs=\(inputs) decoded=\(accepted) rejected=\(rejected) crashes=0 hangs=0 seconds=\(String(format: "%.1f", seconds))")
    }
}

/// Deterministic mutations of JSON answers: byte flips, cuts, splices, hostile tokens, deep nesting.
struct AnswerMutator {
    var state: UInt64
    let samples: [[UInt8]]
    let tokens: [[UInt8]] = [
        "null", "true", "0", "-1", "1e309", "99999999999999999999999", "\"\"", "\"\\u0000\"", "\"\\ud800\"", "[]", "{}",
        "\"card\"", "\"sepa_debit\"", "\"paid\"", "{\"id\":1}", "\"data\":", ",", ":", "\"", "\\", "\u{FEFF}", "NaN",
    ].map { Array($0.utf8) }

    init(seed: UInt64, samples: [[UInt8]]) {
        state = seed
        self.samples = samples
    }

    mutating func random() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(random() % UInt64(n)) }

    mutating func next() -> [UInt8] {
        var bytes = samples[below(samples.count)]
        switch below(20) {
        case 0:
            // Deep nesting: a parser that recurses without a limit would overflow the stack.
            let depth = 1 + below(100_000)
            return Array(repeating: UInt8(ascii: below(2) == 0 ? "[" : "{"), count: depth)
        case 1:
            return (0..<below(256)).map { _ in UInt8(truncatingIfNeeded: random()) }
        default:
            for _ in 0...below(4) {
                guard !bytes.isEmpty else { break }
                let at = below(bytes.count)
                switch below(5) {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random())
                case 1: bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
                case 2: bytes.insert(contentsOf: tokens[below(tokens.count)], at: at)
                case 3: bytes = Array(bytes[0..<at])
                default:
                    let other = samples[below(samples.count)]
                    let from = below(other.count)
                    bytes.insert(contentsOf: other[from..<min(other.count, from + 1 + below(64))], at: at)
                }
            }
            return bytes
        }
    }
}

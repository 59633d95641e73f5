import ConfigFuzz
import Foundation
import RelanceConfig
import TestSupport
import Testing

@Suite("retry.toml robustness")
struct ConfigFuzzTests {
    /// A quick run in the test suite; `scripts/fuzz-config` runs a million inputs in release mode.
    @Test func randomAndMutatedInputsNeverCrash() async throws {
        // CPU-bound for seconds: on a thread of its own, not on the two-thread cooperative pool that every
        // other test (and the daemons they talk to) waits on.
        try await offPool { try Self.randomAndMutatedInputsNeverCrashWork() }
    }

    static func randomAndMutatedInputsNeverCrashWork() throws {
        let shipped = try String(contentsOf: repoRoot.appendingPathComponent("config/retry.toml"), encoding: .utf8)
        var fuzzer = ConfigFuzzer(seed: 2026, seedTexts: [shipped])
        let report = fuzzer.run(count: 2_000)
        #expect(report.inputs == 2_000)
        #expect(report.configs + report.errors == report.inputs)
        #expect(report.emptyErrors == 0)
        // The mutations are mild enough that some inputs still load.
        #expect(report.configs > 50 && report.errors > 500)
    }

    /// Inputs that crashed the TOML library before the syntax check existed.
    @Test("Known library crashers are clean errors", arguments: ["[:", "[ =", "x = [\n[}]]", "[\u{FFFD}]", "[[%]]", "a = {b = }", "x = [1,,2]", "x = 1979-13-01", "x = 0x", "x = 1__0"])
    func knownCrashers(text: String) throws {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(text: text, file: "x.toml", read: { _ in nil }) }
    }

    @Test("Well-formed TOML passes the syntax check", arguments: [
        "a = 1\nb = -0\nc = +3_000\nd = 0xdead_beef\ne = 0o17\nf = 0b101\n",
        "a = 1.5\nb = -2e10\nc = 6.02E+23\nd = inf\ne = -nan\n",
        "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00.999-07:00\nc = 1979-05-27\nd = 07:32:00\n",
        "a = \"\\u00e9\\t\"\nb = 'C:\\path'\nc = \"\"\"\nline \\\n  joined\"\"\"\"\nd = '''\nraw ''\n'''\n",
        "[a.\"b c\".'d']\nx = [ [1, 2], [\"a\", { k = \"v\" }], ]\ny = { p.q = 1, r = [] }\n[[t]]\n[[t]]\n",
        "# comment é\nkey = \"é\" # trailing\r\n",
    ])
    func wellFormed(text: String) {
        // Keys are unknown to retry.toml, but the text must reach the library: no syntax error.
        do {
            _ = try ConfigLoader.load(text: text, file: "x.toml", read: { _ in nil })
        } catch {
            #expect(!error.description.contains("TOML syntax error"), "\(error)")
        }
    }
}

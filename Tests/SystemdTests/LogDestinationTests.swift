#if canImport(Glibc)
import Glibc
#endif
import SystemdSupport
import Testing

extension EnvironmentTests {
    /// Whether stderr is the journal stream systemd named in `JOURNAL_STREAM`.
    @Suite struct LogDestinationTests {
        /// stderr's own "device:inode", offset by `inodeDelta` to name another file.
        func stderrStream(inodeDelta: UInt64 = 0) throws -> String {
            var info = stat()
            try #require(fstat(STDERR_FILENO, &info) == 0)
            return "\(info.st_dev):\(UInt64(info.st_ino) + inodeDelta)"
        }

        @Test func trueWhenJournalStreamNamesStderr() throws {
            let stream = try stderrStream()
            #expect(withEnvironment(["JOURNAL_STREAM": stream]) { LogDestination.stderrIsJournal() })
        }

        @Test func falseWhenUnset() {
            #expect(!withEnvironment(["JOURNAL_STREAM": nil]) { LogDestination.stderrIsJournal() })
        }

        @Test func falseWhenItNamesAnotherFile() throws {
            let other = try stderrStream(inodeDelta: 1)
            var info = stat()
            try #require(fstat(STDERR_FILENO, &info) == 0)
            let otherDevice = "\(UInt64(info.st_dev) + 1):\(info.st_ino)"
            for value in [other, otherDevice, "", "garbage", "12", "1:2:3", try stderrStream() + "x"] {
                #expect(!withEnvironment(["JOURNAL_STREAM": value]) { LogDestination.stderrIsJournal() }, "\(value)")
            }
        }
    }
}

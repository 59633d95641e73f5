#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Every test that changes the process environment, run one at a time (setenv is not thread-safe).
@Suite(.serialized) struct EnvironmentTests {}

/// Runs `body` with `changes` applied to the environment (nil unsets), then restores what was there.
func withEnvironment<T>(_ changes: [String: String?], _ body: () throws -> T) rethrows -> T {
    var saved: [String: String?] = [:]
    for (name, value) in changes {
        saved[name] = getenv(name).map { String(cString: $0) }
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
    defer {
        for (name, value) in saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
    return try body()
}

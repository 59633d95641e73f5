#if canImport(Glibc)
import Glibc
#endif
import RelanceMetrics

/// The process metrics every Prometheus client exports, read from `/proc` at each scrape (Linux;
/// elsewhere none are shown).
///
/// | metric | from |
/// |---|---|
/// | `process_cpu_seconds_total` | `/proc/self/stat` utime + stime, in clock ticks |
/// | `process_resident_memory_bytes` | `/proc/self/statm` resident pages × page size |
/// | `process_open_fds` | the entries of `/proc/self/fd` (less the one that lists them) |
/// | `process_start_time_seconds` | `/proc/self/stat` starttime (ticks after boot) + `btime` of `/proc/stat` |
package struct ProcessMetrics: Sendable, Equatable {
    package var cpuSeconds: Double
    package var residentBytes: Double
    package var openFDs: Double
    package var startTime: Double

    /// The process's figures now, or nil when `/proc` cannot be read.
    package static func read() -> ProcessMetrics? {
        guard let stat = text("/proc/self/stat"), let statm = text("/proc/self/statm"), let system = text("/proc/stat"),
              let boot = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })?.split(separator: " ").last.flatMap({ Double($0) }),
              let resident = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }),
              let times = parse(stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), bootTime: boot),
              let fds = openDescriptors()
        else { return nil }
        return ProcessMetrics(cpuSeconds: times.cpu, residentBytes: resident * Double(sysconf(Int32(_SC_PAGESIZE))),
                              openFDs: fds, startTime: times.start)
    }

    /// CPU seconds and start time from a `/proc/PID/stat` line: the fields after the command's
    /// closing parenthesis (the command may hold spaces and parentheses) start at field 3.
    static func parse(stat: String, ticksPerSecond: Double, bootTime: Double) -> (cpu: Double, start: Double)? {
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields 14 (utime), 15 (stime) and 22 (starttime), counted from 1.
        guard fields.count >= 20, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]) else { return nil }
        return ((user + system) / ticksPerSecond, bootTime + start / ticksPerSecond)
    }

    /// The families in Prometheus text form, with their help and type lines.
    package func emit(into buffer: inout [UInt8]) {
        let values: [(String, Double)] = [
            (RelanceMetric.processCPUSecondsTotal, cpuSeconds), (RelanceMetric.processResidentMemoryBytes, residentBytes),
            (RelanceMetric.processOpenFDs, openFDs), (RelanceMetric.processStartTimeSeconds, startTime),
        ]
        for (name, value) in values {
            guard let family = RelanceMetric.families.first(where: { $0.name == name }) else { continue }
            buffer.append(contentsOf: "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n\(name) \(value)\n".utf8)
        }
    }

    static func text(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(contentsOf: buffer[0..<n])
        }
    }

    static func openDescriptors() -> Double? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let dot = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] == UInt8(ascii: ".") }
            if !dot { count += 1 }
        }
        // The directory being listed is open too.
        return Double(max(0, count - 1))
    }
}

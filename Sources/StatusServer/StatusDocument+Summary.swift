import Foundation

extension StatusDocument {
    /// The readable form `relancectl status` prints: one topic a line, counts aligned.
    package func summary() -> String {
        var out: [String] = []
        out.append("relanced \(version), pid \(pid), up \(Self.span(uptimeSeconds)) (since \(startedAt))")
        out.append("time        \(virtualTime)" + (timeScale == 1 ? "" : " (virtual, \(timeScale)x)"))
        out.append("config      \(config.path), digest \(config.digest), loaded \(config.loadedAt)")
        if let error = config.lastReloadError { out.append("            last reload failed: \(error)") }
        out.append("provider    \(provider.name): \(provider.state.replacingOccurrences(of: "_", with: " "))"
            + ", last success \(provider.lastSuccessAt ?? "never")")
        if let error = provider.lastError { out.append("            last error: \(error)") }
        if let store, store.kind != "sqlite" {
            out.append("store       \(store.kind), node \(store.node ?? "?"), \(store.leases.count) of 64 buckets leased")
            for n in store.nodes {
                out.append("  node      \(n.name) (\(n.host), pid \(n.pid)): \(n.role), \(n.leases) buckets, heartbeat \(String(format: "%.1f", n.heartbeatAgeSeconds)) s ago")
            }
        }
        let c = charges
        out.append("charges     scheduled \(c.scheduled), in flight \(c.inFlight), waiting \(c.waiting), "
            + "recovered \(c.recovered), exhausted \(c.exhausted), closed \(c.closed), held \(c.held)")
        for h in holds {
            out.append("  held      \(h.charge) (\(h.scope == "customer" ? "customer \(h.customer)" : h.customer)): \(h.reason), since \(h.since)"
                + (h.until.map { ", until \($0)" } ?? ", until released"))
        }
        for h in heldCustomers ?? [] {
            out.append("  held      customer \(h.customer) (next failures too): \(h.reason), since \(h.since)"
                + (h.until.map { ", until \($0)" } ?? ", until released"))
        }
        out.append("due backlog \(dueBacklog)")
        out.append("attempts    \(attempts.lastHour) last hour, \(attempts.lastDay) last day")
        out.append("recoveries  \(recoveries.lastHour) last hour, \(recoveries.lastDay) last day")
        if !recoveryRateByAmount.isEmpty {
            out.append("recovery rate by amount:")
            let width = max(4, recoveryRateByAmount.map(\.band.count).max() ?? 0)
            out.append("  " + Self.pad("band", width) + "  charges  recovered    rate")
            for b in recoveryRateByAmount {
                out.append("  " + Self.pad(b.band, width) + Self.left(b.charges, 9) + Self.left(b.recovered, 11)
                    + Self.left(String(format: "%.1f%%", b.rate * 100), 8))
            }
        }
        out.append("spool       \(spool.pendingEvents) events pending"
            + (spool.paused ? ", PAUSED" + (spool.reason.map { ": \($0)" } ?? "") : ""))
        if lastErrors.isEmpty {
            out.append("last errors none")
        } else {
            out.append("last errors:")
            out += lastErrors.map { "  \($0.time)  \($0.message)" }
        }
        return out.joined(separator: "\n")
    }

    /// `3d 4h 12m`, `5m 3s`, `42s`.
    static func span(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        let (d, h, m, r) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60)
        if d > 0 { return "\(d)d \(h)h \(m)m" }
        if h > 0 { return "\(h)h \(m)m" }
        if m > 0 { return "\(m)m \(r)s" }
        return "\(r)s"
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    private static func left(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let s = value.description
        return s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
    }
}

/// `[store]`: SQLite in `[daemon] state_dir`, or a PostgreSQL server shared by several daemons.
extension ConfigReader {
    func store(_ t: Section) -> StoreSettings {
        var s = StoreSettings()
        let kind = t.choice("kind", default: s.kind.rawValue, StoreSettings.Kind.allCases.map(\.rawValue))
        s.kind = StoreSettings.Kind(rawValue: kind) ?? .sqlite
        let url = t.string("url", default: "")
        if url.isEmpty {
            if s.kind == .postgresql { t.error("url", "is required when kind = \"postgresql\" (postgresql://USER@HOST:PORT/DATABASE)") }
        } else if s.kind == .sqlite {
            t.error("url", "applies only to kind = \"postgresql\" (SQLite keeps its file in [daemon] state_dir)")
        } else {
            do throws(ConfigIssue) {
                s.url = try PostgresURL(parsing: url)
            } catch {
                t.error("url", error.message)
            }
        }
        s.passwordFile = t.string("password_file", default: "")
        if !s.passwordFile.isEmpty && s.kind == .sqlite {
            t.error("password_file", "applies only to kind = \"postgresql\"")
        } else if s.passwordFile.contains("\0") {
            t.error("password_file", "must not contain a NUL byte")
        }
        if t.has("password") {
            t.error("password", "secrets are never accepted inline: put the password in a file and set password_file")
            _ = t.string("password", default: "")
        }
        let named = t.has("node_name")
        s.nodeName = t.string("node_name", default: s.nodeName)
        if let problem = StoreSettings.nodeNameProblem(s.nodeName) {
            if named {
                t.error("node_name", problem)
            } else if s.kind == .postgresql {
                // The host name serves only where node names matter: SQLite has one node.
                t.error("node_name", "defaults to the host name \"\(s.nodeName)\", which is not \(StoreSettings.nodeNameRule): set node_name")
            }
        }
        s.leaseSeconds = t.duration("lease", default: s.leaseSeconds, in: StoreSettings.leaseRange,
                                    why: "a node's claim on work; under 5s a pause loses it, over 10m a dead node's work waits that long")
        t.finish()
        return s
    }
}

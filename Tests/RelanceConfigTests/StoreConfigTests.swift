import Foundation
import RelanceConfig
import Testing

/// The message of the issue `PostgresURL(parsing:)` throws, or nil when the text parses.
func urlError(_ text: String) -> String? {
    do {
        _ = try PostgresURL(parsing: text)
        return nil
    } catch {
        return error.description
    }
}

@Suite("[store] url")
struct PostgresURLTests {
    @Test func tcpWithEveryPart() throws {
        let url = try PostgresURL(parsing: "postgresql://app@db.example.com:6432/ledger?sslmode=require&application_name=relance-a&connect_timeout=5")
        #expect(url == PostgresURL(user: "app", database: "ledger", host: "db.example.com", port: 6432, sslMode: .require,
                                   applicationName: "relance-a", connectTimeout: 5))
        #expect(url.socketPath == nil)
    }

    @Test func defaultsOfUserDatabasePortAndSSL() throws {
        let url = try PostgresURL(parsing: "postgres://db.example.com")
        #expect(url.user == "relance" && url.database == "relance" && url.port == 5432 && url.sslMode == .prefer)
        #expect(url.host == "db.example.com" && url.socketDirectory == nil && url.applicationName == nil && url.connectTimeout == nil)
        // The database defaults to the user's name, as in libpq.
        #expect(try PostgresURL(parsing: "postgresql://billing@10.0.0.5/").database == "billing")
        #expect(try PostgresURL(parsing: "postgresql://10.0.0.5:5433/x").port == 5433)
    }

    @Test func socketDirectoryAsHostParameter() throws {
        let url = try PostgresURL(parsing: "postgresql://relance@/relance?host=/var/run/postgresql")
        #expect(url.host == nil && url.socketDirectory == "/var/run/postgresql" && url.port == 5432)
        #expect(url.socketPath == "/var/run/postgresql/.s.PGSQL.5432")
        let other = try PostgresURL(parsing: "postgresql:///relance?host=%2Ftmp%2Fpg%20one&port=5433")
        #expect(other.socketDirectory == "/tmp/pg one" && other.socketPath == "/tmp/pg one/.s.PGSQL.5433")
    }

    @Test func socketDirectoryAsPercentEncodedHost() throws {
        let url = try PostgresURL(parsing: "postgresql://%2Fvar%2Frun%2Fpostgresql/relance")
        #expect(url.socketDirectory == "/var/run/postgresql" && url.host == nil && url.database == "relance" && url.user == "relance")
        #expect(try PostgresURL(parsing: "postgresql://%2fsrv%2fpg:6000").socketPath == "/srv/pg/.s.PGSQL.6000")
    }

    @Test func percentDecodingOfUserHostAndDatabase() throws {
        let url = try PostgresURL(parsing: "postgresql://r%C3%A9mi%2Bops@db-1.internal/ventes%20%C3%A9t%C3%A9")
        #expect(url.user == "rémi+ops" && url.database == "ventes été" && url.host == "db-1.internal")
        #expect(urlError("postgresql://a%2@h/d") == "the user name has a % not followed by two hexadecimal digits (write % itself as %25)")
        #expect(urlError("postgresql://h/d%00") == "the database name must not contain control characters")
        #expect(urlError("postgresql://h/%FF") == "the database name is not UTF-8 once percent-decoded")
    }

    @Test func ipv6() throws {
        let url = try PostgresURL(parsing: "postgresql://relance@[2001:db8::1]:5433/relance")
        #expect(url.host == "2001:db8::1" && url.port == 5433)
        #expect(url.description == "postgresql://relance@[2001:db8::1]:5433/relance?sslmode=prefer")
        #expect(try PostgresURL(parsing: "postgresql:///x?host=::1").host == "::1")
        #expect(urlError("postgresql://[::1/x") == "an IPv6 address lacks its closing ]")
    }

    @Test func sslModes() throws {
        #expect(try PostgresURL(parsing: "postgresql://h?sslmode=disable").sslMode == .disable)
        #expect(try PostgresURL(parsing: "postgresql://h?sslmode=prefer").sslMode == .prefer)
        #expect(urlError("postgresql://h?sslmode=verify-full")
            == #"sslmode "verify-full" is not supported: use one of disable, prefer, require (require encrypts without checking the certificate)"#)
        #expect(urlError("postgresql://h?sslmode=strict") == #"sslmode must be one of disable, prefer, require, got "strict""#)
        #expect(urlError("postgresql:///x?host=/run/pg&sslmode=require")
            == #"sslmode "require" needs a TCP host: a Unix socket is never encrypted (use disable or prefer)"#)
    }

    @Test func unknownAndRepeatedParameters() {
        #expect(urlError("postgresql://h/d?ssl_mode=require")
            == #"unknown parameter "ssl_mode" (supported: host, port, sslmode, application_name, connect_timeout); did you mean "sslmode"?"#)
        #expect(urlError("postgresql://h/d?target_session_attrs=any")?.hasPrefix(#"unknown parameter "target_session_attrs" (supported: "#) == true)
        #expect(urlError("postgresql://h/d?sslmode=disable&sslmode=require") == #"parameter "sslmode" is given twice"#)
        #expect(urlError("postgresql://h/d?sslmode") == #"parameter "sslmode" has no value (write sslmode=VALUE)"#)
        #expect(urlError("postgresql://h/d?host=/run/pg") == "the host is given twice (in the address and as ?host=)")
        #expect(urlError("postgresql://h:5432/d?port=5433") == "the port is given twice (in the address and as ?port=)")
    }

    @Test("A password is refused and never repeated", arguments: [
        "postgresql://relance:hunter2@db/relance",
        "postgres://relance:hunter2@db:5432/relance?sslmode=require",
        "postgresql://:hunter2@db/relance",
        "postgresql://relance:hun/ter2@db/relance",
        "postgresql://relance:hun?ter2@db/relance",
        "postgresql://relance:hun@ter2@db/relance",
        "postgresql://relance:hunter2#@db/relance",
        "postgresql://relance@db/relance?password=hunter2",
        "postgresql://relance@db/relance?sslmode=disable&password=hunter2",
    ])
    func passwordRefused(text: String) throws {
        let message = try #require(urlError(text))
        #expect(message.contains("holds a password"), "\(message)")
        #expect(message.contains("password_file"))
        for fragment in ["hunter2", "hun", "ter2"] { #expect(!message.contains(fragment), "\(message)") }
    }

    @Test func passwordRefusedInTheConfigWithoutEcho() {
        let found = issues("[store]\nkind = \"postgresql\"\nurl = \"postgresql://relance:s3cr3t-pw@db/relance\"\nnode_name = \"n1\"\n")
        #expect(found == [#"retry.toml:3:1: store.url: holds a password (user:password@): remove it and put the password in a file named by password_file"#])
        #expect(!found.joined().contains("s3cr3t"))
    }

    @Test("Bad ports", arguments: ["0", "65536", "54x", "-1", "", "99999999999999999999999"])
    func badPort(port: String) {
        #expect(urlError("postgresql://db:\(port)/relance") == "the port must be a number from 1 to 65535, got \"\(port)\"")
        #expect(urlError("postgresql:///relance?host=/run/pg&port=\(port)") == "the port must be a number from 1 to 65535, got \"\(port)\"")
    }

    @Test func otherMistakes() {
        #expect(urlError("mysql://db/x")?.hasPrefix("must start with postgresql:// or postgres://") == true)
        #expect(urlError("host=db dbname=relance")?.hasPrefix("must start with postgresql:// or postgres://") == true)
        #expect(urlError("postgresql://db/relance ") == "must not contain spaces or control characters (percent-encode them: a space is %20)")
        #expect(urlError("postgresql:///relance")?.hasPrefix("names no host") == true)
        #expect(urlError("postgresql://a,b/relance") == "names several hosts: give one host only")
        #expect(urlError("postgresql://db_1!/x") == #"the host "db_1!" is not a host name or an address (a socket directory starts with /)"#)
        #expect(urlError("postgresql://db/x#frag") == "must not contain # (percent-encode it: %23)")
        #expect(urlError("postgresql://db/x?connect_timeout=0") == #"connect_timeout must be whole seconds from 1 to 600, got "0""#)
        #expect(urlError("postgresql://db/x?application_name=" + String(repeating: "a", count: 64))
            == "application_name must be 1 to 63 printable ASCII characters (PostgreSQL keeps 63)")
        let long = "/" + String(repeating: "d", count: 100)
        #expect(urlError("postgresql:///x?host=\(long)") == "the socket path \(long)/.s.PGSQL.5432 is longer than 107 bytes, the most a Unix socket address holds")
    }

    @Test("The description reads back to the same URL, without a password", arguments: [
        "postgresql://db.example.com",
        "postgresql://app@db.example.com:6432/ledger?sslmode=require&application_name=relance-a&connect_timeout=5",
        "postgresql://relance@/relance?host=/var/run/postgresql",
        "postgresql://%2Ftmp%2Fpg%20one:5433/v%C3%A9",
        "postgres://r%C3%A9mi%40ops@[::1]/a%2Fb?sslmode=disable&application_name=a%26b",
    ])
    func roundTrip(text: String) throws {
        let url = try PostgresURL(parsing: text)
        #expect(try PostgresURL(parsing: url.description) == url, "\(url)")
        #expect(url.description.hasPrefix("postgresql://"))
    }

    @Test func descriptionSpellsOutTheDefaults() throws {
        #expect(try PostgresURL(parsing: "postgres://db").description == "postgresql://relance@db:5432/relance?sslmode=prefer")
        #expect(try PostgresURL(parsing: "postgresql://%2Frun%2Fpg/x").description == "postgresql://relance@/x?host=/run/pg&port=5432&sslmode=prefer")
    }

    /// Random text around a password: whatever the mistake reported, the password is not in it.
    @Test func mutatedURLsNeverRepeatThePassword() {
        var state: UInt64 = 2026
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let alphabet = Array("ab:/@?#%&=[],. 09\u{0}é")
        let tails = ["db/relance", "[::1]:5432/x?sslmode=require", "/x?host=/run/pg", "db:99999/x", "db/x?frob=1", ""]
        for _ in 0..<2_000 {
            let noise = String((0..<next(6)).map { _ in alphabet[next(alphabet.count)] })
            let password = "Zq9" + noise + "Xv7"
            let text = ["postgresql://", "postgres://"][next(2)] + ["relance", "", "a%20b"][next(3)] + ":" + password + "@" + tails[next(tails.count)]
            let message = urlError(text)
            #expect(message != nil && !message!.contains("Zq9") && !message!.contains("Xv7"), "\(text): \(message ?? "parsed")")
        }
    }
}

@Suite("[store]")
struct StoreConfigTests {
    @Test func defaults() throws {
        let store = try load("").settings.store
        #expect(store == StoreSettings())
        #expect(store.kind == .sqlite && store.url == nil && store.passwordFile == "" && store.leaseSeconds == 30)
        #expect(store.nodeName == StoreSettings.hostName())
        #expect(try load("[store]\n").settings.store == StoreSettings())
    }

    @Test func postgresql() throws {
        let text = """
        [store]
        kind = "postgresql"
        url = "postgresql://relance@/relance?host=/var/run/postgresql"
        password_file = "relance-db-password"
        node_name = "relance-a"
        lease = "1m"
        """
        let store = try load(text).settings.store
        #expect(store.kind == .postgresql)
        #expect(store.url == PostgresURL(user: "relance", database: "relance", socketDirectory: "/var/run/postgresql"))
        #expect(store.passwordFile == "relance-db-password" && store.nodeName == "relance-a" && store.leaseSeconds == 60)
    }

    @Test func sectionMistakes() {
        #expect(issues("[store]\nkind = \"postgresql\"\nnode_name = \"a\"\n")
            == [#"retry.toml:1:1: store.url: is required when kind = "postgresql" (postgresql://USER@HOST:PORT/DATABASE)"#])
        #expect(issues("[store]\nurl = \"postgresql://db/relance\"\n")
            == [#"retry.toml:2:1: store.url: applies only to kind = "postgresql" (SQLite keeps its file in [daemon] state_dir)"#])
        #expect(issues("[store]\npassword_file = \"/etc/relance/db-password\"\n")
            == [#"retry.toml:2:1: store.password_file: applies only to kind = "postgresql""#])
        #expect(issues("[store]\nkind = \"mysql\"\n") == [#"retry.toml:2:1: store.kind: must be one of "sqlite", "postgresql", got "mysql""#])
        #expect(issues("[store]\nkind = \"postgresql\"\nurl = \"postgresql://db/x?sslmode=verify-ca\"\nnode_name = \"n1\"\n")
            == [#"retry.toml:3:1: store.url: sslmode "verify-ca" is not supported: use one of disable, prefer, require (require encrypts without checking the certificate)"#])
        #expect(issues("[store]\nkind = \"postgresql\"\nurl = \"postgresql://db/x?pool=4\"\nnode_name = \"n1\"\n")
            == [#"retry.toml:3:1: store.url: unknown parameter "pool" (supported: host, port, sslmode, application_name, connect_timeout); did you mean "port"?"#])
        #expect(issues("[store]\npasword_file = \"x\"\n") == [#"retry.toml:2:1: store.pasword_file: unknown key "pasword_file"; did you mean "password_file"?"#])
        #expect(issues("[store]\nurl = 5\n") == [#"retry.toml:2:1: store.url: expected a string, found an integer"#])
    }

    @Test func inlinePasswordIsRefusedWithoutEcho() {
        let found = issues("[store]\nkind = \"postgresql\"\nurl = \"postgresql://db/x\"\npassword = \"hunter2\"\nnode_name = \"n1\"\n")
        #expect(found == [#"retry.toml:4:1: store.password: secrets are never accepted inline: put the password in a file and set password_file"#])
    }

    @Test func leaseBounds() throws {
        #expect(try load("[store]\nlease = \"5s\"\n").settings.store.leaseSeconds == 5)
        #expect(try load("[store]\nlease = \"10m\"\n").settings.store.leaseSeconds == 600)
        #expect(try load("[store]\nlease = 90\n").settings.store.leaseSeconds == 90)
        let why = "a node's claim on work; under 5s a pause loses it, over 10m a dead node's work waits that long"
        #expect(issues("[store]\nlease = \"4s\"\n") == ["retry.toml:2:1: store.lease: must be between 5s and 10m (\(why)), got 4s"])
        #expect(issues("[store]\nlease = \"1h\"\n") == ["retry.toml:2:1: store.lease: must be between 5s and 10m (\(why)), got 1h"])
        #expect(issues("[store]\nlease = \"30\"\n") == [#"retry.toml:2:1: store.lease: "30" is not a duration (use 90s, 15m, 72h, 3d, 2w or 1h30m)"#])
    }

    @Test("Valid node names", arguments: ["a", "relance-a", "node_2.eu-west", String(repeating: "n", count: 63)])
    func validNodeName(name: String) throws {
        #expect(StoreSettings.nodeNameProblem(name) == nil)
        #expect(try load("[store]\nnode_name = \"\(name)\"\n").settings.store.nodeName == name)
    }

    @Test("Invalid node names", arguments: ["", "a b", "relance/a", "nœud", "a:b", String(repeating: "n", count: 64)])
    func invalidNodeName(name: String) {
        let problem = #"must be 1 to 63 characters of A-Z, a-z, 0-9, ".", "_" and "-", got "\#(name)""#
        #expect(StoreSettings.nodeNameProblem(name) == problem)
        #expect(issues("[store]\nnode_name = \"\(name)\"\n") == ["retry.toml:2:1: store.node_name: \(problem)"])
    }

    @Test func acceptedKeysAndNoInlinePassword() {
        let names = Set(ConfigLoader.acceptedKeys.map(\.description))
        #expect(names.isSuperset(of: ["store", "store.kind", "store.url", "store.password_file", "store.node_name", "store.lease"]))
        #expect(!names.contains("store.password"))
    }

    @Test func summaryAndDiff() throws {
        let a = try load("")
        let b = try load("[store]\nkind = \"postgresql\"\nurl = \"postgres://relance@db/relance?sslmode=require\"\npassword_file = \"db-pw\"\nnode_name = \"n1\"\n")
        #expect(ConfigSummary.render(a).contains("store: sqlite in ./var/state; node \(StoreSettings.hostName()), lease 30s"))
        let line = "postgresql at postgresql://relance@db:5432/relance?sslmode=require, password from db-pw; node n1, lease 30s"
        #expect(ConfigSummary.render(b).contains("store: " + line))
        #expect(ConfigSummary.diff(old: a, new: b) == ["~ store (applied at restart): sqlite; node \(StoreSettings.hostName()), lease 30s → \(line)"])
    }
}

@Suite("[store] password_file")
struct StorePasswordTests {
    func settings(_ passwordFile: String) -> StoreSettings {
        var s = StoreSettings()
        s.kind = .postgresql
        s.passwordFile = passwordFile
        return s
    }

    @Test func pathCredentialAndNone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-password-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "pa ss:wörd\n".write(toFile: dir + "/pw", atomically: true, encoding: .utf8)
        try "from-credential\r\n".write(toFile: dir + "/relance-db", atomically: true, encoding: .utf8)
        try "\n".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        try "alpha\nbeta\n".write(toFile: dir + "/lines", atomically: true, encoding: .utf8)

        #expect(try settings("").readPassword() == nil)
        #expect(try settings(dir + "/pw").readPassword(environment: [:]) == "pa ss:wörd")
        #expect(try settings("relance-db").readPassword(environment: ["CREDENTIALS_DIRECTORY": dir]) == "from-credential")
        #expect(throws: ConfigIssue.self) { try settings("relance-db").readPassword(environment: [:]) }
        #expect(throws: ConfigIssue.self) { try settings(dir + "/missing").readPassword() }
        #expect(throws: ConfigIssue.self) { try settings(dir + "/empty").readPassword() }
        do {
            _ = try settings(dir + "/lines").readPassword()
            Issue.record("two lines accepted")
        } catch {
            #expect(error.description.hasPrefix("store.password_file: the database password file "))
            #expect(!error.description.contains("alpha") && !error.description.contains("beta"))
        }
    }
}

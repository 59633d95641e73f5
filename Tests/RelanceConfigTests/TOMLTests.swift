import RelanceConfig
import Testing

/// The TOML error of a text (its full description), or nil when the text is well-formed TOML (its
/// keys may still be unknown to retry.toml).
func tomlError(_ text: String) -> String? {
    let found = issues(text)
    return found.count == 1 && found[0].contains("TOML syntax error") ? found[0] : nil
}

@Suite("TOML: what may be defined where")
struct TOMLDefinitionTests {
    @Test("A key, a table or an array of tables is defined once", arguments: [
        ("a = 1\na = 2\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined (line 1, column 1)"),
        ("a = 1\n\"a\" = 2\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined (line 1, column 1)"),
        ("a.\"b.c\" = 1\na.'b.c' = 2\n", "retry.toml:2:1: TOML syntax error: \"a.'b.c'\" is already defined (line 1, column 1)"),
        ("[daemon]\nworkers = 4\n  workers = 5\n", "retry.toml:3:3: TOML syntax error: \"workers\" is already defined (line 2, column 1)"),
        ("a.b = 1\na.b = 2\n", "retry.toml:2:1: TOML syntax error: \"a.b\" is already defined (line 1, column 1)"),
        ("[a]\n[a]\n", "retry.toml:2:1: TOML syntax error: the table \"a\" is already defined (line 1, column 1)"),
        ("[a.b]\n[a]\n[a]\n", "retry.toml:3:1: TOML syntax error: the table \"a\" is already defined (line 2, column 1)"),
        ("[a]\nb = 1\n[a.b]\n", "retry.toml:3:1: TOML syntax error: \"a.b\" is already defined as an integer (line 2, column 1), so it cannot be a table"),
    ])
    func definedOnce(text: String, expected: String) {
        #expect(issues(text) == [expected])
    }

    @Test("A table implied by a header may be defined later; sub-tables may follow their table", arguments: [
        "[a.b]\nx = 1\n[a]\ny = 2\n",
        "[a]\ny = 2\n[a.b]\nx = 1\n",
        "[a.b.c]\n[a]\nb.x = 1\n",
        "[a.b]\n[[a.c]]\n[a]\n",
    ])
    func impliedThenDefined(text: String) {
        #expect(tomlError(text) == nil)
    }

    @Test("Dotted keys define tables", arguments: [
        ("a.b = 1\na.c = 2\n", nil),
        ("[a]\nb.c = 1\n[a.b.d]\n", nil),
        ("a.b = 1\n[a]\n", "retry.toml:2:1: TOML syntax error: the table \"a\" is already defined (line 1, column 1)"),
        ("[a]\nb.c = 1\n[a.b]\n", "retry.toml:3:1: TOML syntax error: the table \"a.b\" is already defined (line 2, column 1)"),
        ("[a.b]\nx = 1\n[a]\nb.y = 2\n", "retry.toml:4:1: TOML syntax error: dotted key \"b.y\" cannot add to \"b\", already defined as a table (line 1, column 1)"),
        ("[a.b.c]\n[a]\nb.x = 1\n[a.b]\n", "retry.toml:4:1: TOML syntax error: the table \"a.b\" is already defined (line 1, column 1)"),
    ] as [(String, String?)])
    func dottedKeys(text: String, expected: String?) {
        #expect(tomlError(text) == expected)
    }

    @Test("Neither dotted keys nor headers reach into a value or an inline table", arguments: [
        ("a = 1\na.b = 2\n", "retry.toml:2:1: TOML syntax error: dotted key \"a.b\" cannot add to \"a\", already defined as an integer (line 1, column 1)"),
        ("a = { b = 1 }\na.c = 2\n", "retry.toml:2:1: TOML syntax error: dotted key \"a.c\" cannot add to \"a\", already defined as an inline table (line 1, column 1)"),
        ("x = 0\na = { b = 1 }\n  a.b.c = 2\n", "retry.toml:3:3: TOML syntax error: dotted key \"a.b.c\" cannot add to \"a\", already defined as an inline table (line 2, column 1)"),
        ("a = { b = 1 }\n[a]\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined as an inline table (line 1, column 1), so it cannot be a table"),
        ("a = { b = 1 }\n[a.c]\n", "retry.toml:2:1: TOML syntax error: \"a.c\" cannot be defined: \"a\" is an inline table (line 1, column 1), which cannot be extended"),
        ("a = 1\n[a.b]\n", "retry.toml:2:1: TOML syntax error: \"a.b\" cannot be defined: \"a\" is an integer (line 1, column 1), which cannot be extended"),
        ("a = [{}]\n[a.b]\n", "retry.toml:2:1: TOML syntax error: \"a.b\" cannot be defined: \"a\" is an array (line 1, column 1), which cannot be extended"),
        ("a = { b = { c = 1 }, b.d = 2 }\n", "retry.toml:1:22: TOML syntax error: dotted key \"b.d\" cannot add to \"b\", already defined as an inline table (line 1, column 7)"),
        ("a = { x = 1, x = 2 }\n", "retry.toml:1:14: TOML syntax error: \"x\" is already defined (line 1, column 7)"),
    ])
    func closedValues(text: String, expected: String) {
        #expect(issues(text) == [expected])
    }

    @Test("Dotted keys inside an inline table") func inlineDottedKeys() {
        #expect(tomlError("a = { b.c = 1, b.d = 2 }\n") == nil)
    }

    @Test("Arrays of tables and tables are not each other", arguments: [
        ("[a]\n[[a]]\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined as a table (line 1, column 1), so it cannot be an array of tables"),
        ("[[a]]\n[a]\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined as an array of tables (line 1, column 1), so it cannot be a table"),
        ("a = []\n[[a]]\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined as an array (line 1, column 1), so it cannot be an array of tables"),
        ("[a.b]\n[[a]]\n", "retry.toml:2:1: TOML syntax error: \"a\" is already defined as a table (line 1, column 1), so it cannot be an array of tables"),
        ("[[a]]\nb.c = 1\n[a.b]\n", "retry.toml:3:1: TOML syntax error: the table \"a.b\" is already defined (line 2, column 1)"),
        ("[[a]]\n[[a]]\nx.y = 1\n[a]\n", "retry.toml:4:1: TOML syntax error: \"a\" is already defined as an array of tables (line 1, column 1), so it cannot be a table"),
        ("[[a]]\n[b]\na.x = 1\n", nil),
        ("[t]\n[[t.a]]\n[t]\n", "retry.toml:3:1: TOML syntax error: the table \"t\" is already defined (line 1, column 1)"),
        ("[[t.a]]\n[t]\na.x = 1\n", "retry.toml:3:1: TOML syntax error: dotted key \"a.x\" cannot add to \"a\", already defined as an array of tables (line 1, column 1)"),
    ] as [(String, String?)])
    func arraysOfTables(text: String, expected: String?) {
        #expect(tomlError(text) == expected)
    }

    @Test func eachArrayOfTablesHeaderAddsATableTheNextHeadersContinue() throws {
        let text = "[[segment]]\nname = \"a\"\n[segment.match]\ntiers = [\"x\"]\n[[segment]]\nname = \"b\"\n[segment.match]\ntiers = [\"y\"]\n"
        let segments = try load(text).policy.segments
        #expect(segments.map(\.name) == ["a", "b", "default"])
        #expect(segments.map(\.match.tiers) == [["x"], ["y"], []])
        #expect(tomlError("[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2\n") == nil)
    }

    @Test("A grammar error anywhere comes before a key defined twice") func grammarFirst() {
        #expect(issues("a = 1\na = 2\nb = = 3\n") == ["retry.toml:3:5: TOML syntax error: expected a value, found \"=\""])
        // Then the first of the other problems, in text order.
        #expect(issues("a = 1\na = 2\n[b]\n[b]\n") == ["retry.toml:2:1: TOML syntax error: \"a\" is already defined (line 1, column 1)"])
    }
}

@Suite("TOML: values")
struct TOMLValueTests {
    @Test("Numbers beyond 64 bits and leap seconds are refused", arguments: [
        ("a = 9223372036854775808\n", "retry.toml:1:5: TOML syntax error: \"9223372036854775808\" is not representable in 64 bits"),
        ("a = 0x8000_0000_0000_0000\n", "retry.toml:1:5: TOML syntax error: \"0x8000_0000_0000_0000\" is not representable in 64 bits"),
        ("a = -9223372036854775809\n", "retry.toml:1:5: TOML syntax error: \"-9223372036854775809\" is not representable in 64 bits"),
        ("a = [1, 1e400]\n", "retry.toml:1:9: TOML syntax error: \"1e400\" is not representable in 64 bits"),
        ("a = 1979-05-27T07:32:60Z\n", "retry.toml:1:5: TOML syntax error: seconds must be between 0 and 59 (no leap second), got 60"),
        ("a = 07:32:00." + String(repeating: "1", count: 65) + "\n", "retry.toml:1:5: TOML syntax error: fractional seconds may have at most 64 digits"),
        ("a = 1." + String(repeating: "0", count: 127) + "\n", "retry.toml:1:5: TOML syntax error: numbers of more than 128 digits are not supported"),
        ("a = 0x" + String(repeating: "0", count: 128) + "1\n", "retry.toml:1:5: TOML syntax error: numbers of more than 128 digits are not supported"),
    ])
    func refusedValues(text: String, expected: String) {
        #expect(issues(text) == [expected])
    }

    @Test("Numbers at the limits are read", arguments: [
        "a = -9223372036854775808\n", "a = 9_223_372_036_854_775_807\n", "a = 0x7fff_ffff_ffff_ffff\n",
        "a = 0o777\n", "a = 0b1\n", "a = 1e-400\n", "a = -1." + String(repeating: "0", count: 126) + "\n",
        "a = 0x" + String(repeating: "0", count: 127) + "1\n", "a = 07:32:00." + String(repeating: "1", count: 64) + "\n", "a = 1.7976931348623157e308\n", "a = -inf\n", "a = +nan\n",
    ])
    func limits(text: String) {
        #expect(tomlError(text) == nil)
    }

    @Test func integersAndBooleansReachTheirKeys() throws {
        let s = try load("[daemon]\nworkers = +1_6\ntime_scale = 0x10\nspool_batch_events = 0o20\nspool_batch_ms = 0b10000\n[network_rules]\nvisa_limit_for_other_networks = false\n").settings
        #expect([s.daemon.workers, s.daemon.timeScale, s.daemon.spoolBatchEvents, s.daemon.spoolBatchMilliseconds] == [16, 16, 16, 16])
        #expect(s.policy.rules.visaLimitForOtherNetworks == false)
    }

    @Test func stringsAreDecoded() throws {
        let text = "[daemon]\nstate_dir = \"a\\tb\\u00e9\\U0001F600\\\\\\\"\"\nspool_dir = 'C:\\x'\nstatus_socket = \"\"\"\r\none\r\n  two \\\n   three\"\"\"\"\nstatus_socket_group = '''\nx''y'''\n"
        let d = try load(text).settings.daemon
        #expect(d.stateDir == "a\tbé😀\\\"")
        #expect(d.spoolDir == "C:\\x")
        #expect(d.statusSocket == "one\n  two three\"")
        #expect(d.statusSocketGroup == "x''y")
    }

    /// As the loader has always read them: a string ends at a NUL, a key with a NUL is left out.
    @Test func aNULEndsAStringAndHidesAKey() throws {
        #expect(try load("[daemon]\nstate_dir = \"a\\u0000b\"\n").settings.daemon.stateDir == "a")
        #expect(try load("[daemon]\n\"workers\\u0000x\" = 3\n").settings.daemon.workers == DaemonSettings().workers)
    }

    @Test func datesAndTimesHaveTheirKinds() {
        #expect(issues("[daemon]\nworkers = 1979-05-27\n") == ["retry.toml:2:1: daemon.workers: expected an integer, found a date"])
        #expect(issues("[daemon]\nworkers = 07:32:00.5\n") == ["retry.toml:2:1: daemon.workers: expected an integer, found a time"])
        #expect(issues("[daemon]\nworkers = 1979-05-27 07:32:00-07:00\n") == ["retry.toml:2:1: daemon.workers: expected an integer, found a date-time"])
        #expect(issues("[daemon]\nworkers = { a = 1 }\n") == ["retry.toml:2:1: daemon.workers: expected an integer, found a table"])
        #expect(issues("[daemon]\nworkers = []\n") == ["retry.toml:2:1: daemon.workers: expected an integer, found an array"])
    }
}

@Suite("TOML: positions")
struct TOMLPositionTests {
    @Test func keysInsideInlineTablesAndDottedKeysHaveTheirOwnPositions() {
        #expect(issues("[[segment]]\nname = \"a\"\nmatch = { tiers = [\"x\"], currencies = [\"EURO\"] }\n") == [
            #"retry.toml:3:26: segment[0].match.currencies[0]: expected an ISO 4217 code such as "EUR", got "EURO""#,
        ])
        #expect(issues("[daemon]\nfoo.bar = 1\n") == [#"retry.toml:2:1: daemon.foo: unknown key "foo""#])
        #expect(issues("x = 1\n[deamon.x]\n") == [
            #"retry.toml:2:1: deamon: unknown key "deamon"; did you mean "daemon"?"#,
            #"retry.toml:1:1: x: unknown key "x""#,
        ])
    }

    @Test func columnsCountCharactersNotBytes() {
        #expect(issues("# é\nx = \"é\" = 1\n") == ["retry.toml:2:9: TOML syntax error: expected the end of the line, found \"=\""])
        #expect(issues("[daemon]\n\"é\" = 1\n") == [#"retry.toml:2:1: daemon.é: unknown key "é""#])
    }

    @Test func inlineArraysOfTablesAreLocatedByElement() {
        #expect(issues("segment = [{ name = \"a\" }, { name = \"b\", max_attempts = 0 }]\n") == [
            "retry.toml:1:42: segment[1].max_attempts: must be between 1 and 100, got 0",
            #"retry.toml:1:28: segment[1]: segments "a" and "b" both match every charge; give one a [match]"#,
        ])
    }
}

extension Civil {
    /// RFC 3339 UTC text of an epoch second: `2026-11-23T10:00:00Z`.
    package static func rfc3339(_ t: Int64) -> String {
        let day = floorDiv(t, secondsPerDay)
        let (y, m, d) = date(days: day)
        let sod = t - day * secondsPerDay
        func pad(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(pad(Int64(m)))-\(pad(Int64(d)))T\(pad(sod / 3_600)):\(pad(sod % 3_600 / 60)):\(pad(sod % 60))Z"
    }
}

extension ZoneError {
    /// An error with the given message (used by the zone loader).
    package init(message: String) { self.description = message }
}

/// What segments match on, from the provider's customer record.
package struct CustomerInfo: Sendable, Hashable, Codable {
    package var id: String
    package var zone: String
    package var tier: String
    package var tags: [String]
    package var country: String

    package init(id: String, zone: String, tier: String, tags: [String], country: String) {
        self.id = id
        self.zone = zone
        self.tier = tier
        self.tags = tags
        self.country = country
    }
}

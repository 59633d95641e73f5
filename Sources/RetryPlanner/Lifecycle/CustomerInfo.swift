/// What segments match on, from the provider's customer record, and how to reach the customer.
package struct CustomerInfo: Sendable, Hashable, Codable {
    package var id: String
    package var zone: String
    package var tier: String
    package var tags: [String]
    package var country: String
    package var contact: Contact

    package init(id: String, zone: String, tier: String, tags: [String], country: String, contact: Contact = Contact()) {
        self.id = id
        self.zone = zone
        self.tier = tier
        self.tags = tags
        self.country = country
        self.contact = contact
    }
}

/// How to reach a customer, as the provider knows them (empty strings when it does not say).
package struct Contact: Sendable, Hashable, Codable {
    package var email: String
    package var name: String
    /// The customer's preferred locale (a BCP 47 tag such as `fr-FR`).
    package var locale: String

    package init(email: String = "", name: String = "", locale: String = "") {
        self.email = email
        self.name = name
        self.locale = locale
    }
}

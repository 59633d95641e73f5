import Foundation

/// Where the Stripe secret key comes from: a file, or a systemd credential, never the config itself.
///
/// `api_key_file` holding a `/` is a path; a bare name is a credential in `$CREDENTIALS_DIRECTORY`
/// (`LoadCredential=stripe-api-key:...`); empty means the credential `stripe-api-key`.
package enum StripeKey {
    package static let defaultCredential = "stripe-api-key"

    package static func load(apiKeyFile: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ProviderError) -> String {
        let path: String
        if apiKeyFile.contains("/") {
            path = apiKeyFile
        } else {
            let name = apiKeyFile.isEmpty ? defaultCredential : apiKeyFile
            guard let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty else {
                throw ProviderError(.unauthorized, "no Stripe key: [provider] api_key_file names the credential \"\(name)\" but CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit, or a path)")
            }
            path = dir + "/" + name
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProviderError(.unauthorized, "cannot read the Stripe key file \(path): \(String(cString: strerror(errno)))")
        }
        let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty else { throw ProviderError(.unauthorized, "the Stripe key file \(path) is empty") }
        guard !key.contains(where: { $0.isWhitespace || $0.isNewline }), key.utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else {
            throw ProviderError(.unauthorized, "the Stripe key file \(path) holds more than one printable token")
        }
        return key
    }
}

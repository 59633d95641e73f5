/// Why a file, an event or a message could not be delivered: one error type for the module.
package struct DeliverError: Error, CustomStringConvertible {
    package enum Code: String, Sendable {
        case malformedEvent = "malformed_event"
        case missingTemplate = "missing_template"
        case invalidAddress = "invalid_address"
        case refused
        case io
        case journal
        case secret
    }

    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { "\(code.rawValue): \(message)" }
}

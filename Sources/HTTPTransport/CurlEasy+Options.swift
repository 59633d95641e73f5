import CCurl

/// Typed setters over the shim's non-variadic `curl_easy_setopt` wrappers.
///
/// The result codes are ignored: they only report options unknown to an older libcurl or out of memory,
/// and either shows up as the transfer's own error.
extension CurlEasy {
    func set(_ option: CURLoption, _ value: Int) {
        _ = ccurl_easy_setopt_long(handle, option, value)
    }

    func set(_ option: CURLoption, offset: Int64) {
        _ = ccurl_easy_setopt_off_t(handle, option, curl_off_t(offset))
    }

    /// curl copies strings it is given, except for `CURLOPT_POSTFIELDS` (not used here).
    func set(_ option: CURLoption, string: String?) {
        _ = ccurl_easy_setopt_string(handle, option, string)
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) {
        _ = ccurl_easy_setopt_pointer(handle, option, pointer)
    }

    func set(_ option: CURLoption, callback: ccurl_data_callback) {
        _ = ccurl_easy_setopt_callback(handle, option, callback)
    }
}

/// `CURLOPT_WRITEFUNCTION`: appends body bytes, or stops the transfer (returns 0) past the size limit.
func curlWriteBody(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return length }
    if easy.body.count + length > easy.maxBody {
        easy.overLimit = true
        return 0
    }
    easy.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// `CURLOPT_HEADERFUNCTION`: keeps the header lines of the latest response; a status line starts a new one.
func curlWriteHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return length }
    let line = UnsafeRawBufferPointer(start: data, count: length)
    if line.starts(with: "HTTP/".utf8) {
        easy.headerBytes.removeAll(keepingCapacity: true)
    } else {
        easy.headerBytes.append(contentsOf: line)
    }
    return length
}

/// Splits raw header lines ("Name: value\r\n") into fields, in order.
enum HeaderLines {
    static func parse(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = line[..<colon]
            var value = line[(colon + 1)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            while let last = value.last, last == 0x20 || last == 0x09 || last == 0x0D { value = value.dropLast() }
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return fields
    }
}

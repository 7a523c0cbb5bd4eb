#pragma once
// Byte codecs without dependencies: SHA-256 digests (hex) and base64.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fool {

std::string sha256_hex(const void* data, std::size_t size);
std::string base64_encode(const std::uint8_t* data, std::size_t size);
// Throws fool::Error on characters outside the base64 alphabet.
std::vector<std::uint8_t> base64_decode(const std::string& text);

}  // namespace fool

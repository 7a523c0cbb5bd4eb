#pragma once
// Genome codec: the compact binary form of a genome, for checkpoints and for anything that moves
// genomes between processes. A direct genome is a 14-byte header and its C x H x W gene bytes (no
// base64: 3/4 of the JSON size); a CPPN genome packs its nodes (14 bytes each) and links (16 bytes
// each) little-endian. decode_genome checks every field and hands CPPN genomes to the encoding's own
// from_json, so whatever that validates applies to binary genomes too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fool/encoding/encoding.h"

namespace fool {

// Appends the binary form of `genome` (a genome of `encoding`) to `out`.
void encode_genome(const Encoding& encoding, const Genome& genome, std::vector<std::uint8_t>& out);
// Reads one genome of `encoding` from data[0, size). Throws fool::Error naming what is wrong (wrong
// encoding or shape, truncated, trailing bytes, broken network); never reads outside the range.
GenomePtr decode_genome(const Encoding& encoding, const std::uint8_t* data, std::size_t size);

}  // namespace fool

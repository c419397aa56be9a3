// libFuzzer target: the custom-archive reader must never crash, hang or grow without bound,
// whatever the bytes and however they are cut into updates.
#include <dolibak/pgdump/archive.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    dolibak::pgdump::ReaderOptions o;
    o.max_entries = 100000;
    dolibak::pgdump::ArchiveReader reader(o);
    // The first byte chooses the update size, to exercise the push parser's resumption.
    const std::size_t step = size ? 1 + data[0] % 64 : 1;
    const auto* p = reinterpret_cast<const std::byte*>(data);
    for (std::size_t i = 0; i < size; i += step) {
        const std::size_t n = i + step <= size ? step : size - i;
        reader.update(dolibak::io::Bytes(p + i, n));
    }
    reader.finish();
    const auto r = reader.result();
    if (!r.ok() && r.offset > size) __builtin_trap();
    (void)dolibak::pgdump::listing(reader.summary());
    return 0;
}

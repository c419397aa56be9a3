#pragma once
// The store's backends (private).
#include <dolibak/store.hpp>

namespace dolibak::store {

/// Where a directory store keeps its temporary files (hidden from list()).
inline constexpr std::string_view reserved_dir = ".dolibak-tmp";

std::unique_ptr<Store> make_file_store(const std::filesystem::path& root, bool create);
std::unique_ptr<Store> make_s3_store(std::shared_ptr<s3::Client> client, std::string bucket,
                                     std::string prefix);

}  // namespace dolibak::store

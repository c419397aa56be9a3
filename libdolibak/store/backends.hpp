#pragma once
// The store's backends (private).
#include <dolibak/store/store.hpp>

namespace dolibak::store {

/// Where a directory store keeps its temporary files (hidden from list()).
inline constexpr std::string_view reserved_dir = ".dolibak-tmp";

/// Throws ConfigError for options that contradict each other (no_overwrite with if_match).
void check_put_options(const std::string& key, const PutOptions& options);

std::unique_ptr<Store> make_file_store(const std::filesystem::path& root, bool create);
std::unique_ptr<Store> make_s3_store(std::shared_ptr<s3::Client> client, std::string bucket,
                                     std::string prefix);

}  // namespace dolibak::store

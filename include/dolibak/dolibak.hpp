#pragma once
// Everything at once: the main public header of every layer, lowest first. Programs that use
// one layer include its headers instead (include/dolibak/<layer>/, docs/architecture.md).
// In layer order, not alphabetical:
// clang-format off
#include <dolibak/core/cancel.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/secret.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/core/version.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/process/process.hpp>
#include <dolibak/pg/connection.hpp>
#include <dolibak/s3/client.hpp>
#include <dolibak/store/store.hpp>
#include <dolibak/pgdump/archive.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/tarball/extractor.hpp>
#include <dolibak/tarball/lister.hpp>
#include <dolibak/tarball/writer.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/timezone.hpp>
#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/job/settings.hpp>
// clang-format on

// The documents half: tar writer, safe extractor, lister/verifier, exclude globs, and the
// documents fingerprint. Trees are built here; hostile archives are built with libarchive.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/process/process.hpp>
#include <dolibak/tarball/excludes.hpp>
#include <dolibak/tarball/extractor.hpp>
#include <dolibak/tarball/lister.hpp>
#include <dolibak/tarball/writer.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;

namespace {

void set_mtime(const fs::path& p, std::int64_t sec, long nsec) {
    const timespec t[2] = {{sec, nsec}, {sec, nsec}};
    REQUIRE(::utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

const std::string long_component(120, 'L');

// A small Dolibarr-like documents tree with the awkward cases.
void make_tree(const fs::path& root) {
    fs::create_directories(root);
    write_file(root / "install.lock", "locked\n");
    ::chmod((root / "install.lock").c_str(), 0444);
    write_file(root / "dolibarr.log", "log line\n");
    write_file(root / "dolibarr_install.log", "install log\n");
    fs::create_directories(root / "facture/FA2401-0001");
    write_file(root / "facture/FA2401-0001/FA2401-0001.pdf",
               "%PDF-1.4\n" + random_bytes(70000, 1) + "%%EOF\n");
    write_file(root / "facture/FA2401-0001/FA2401-0001.pdf_preview.png", random_bytes(3000, 2));
    fs::create_directories(root / "facture/(PROV12)");
    write_file(root / "facture/(PROV12)/(PROV12).pdf",
               "%PDF-1.4\n" + random_bytes(40000, 3) + "%%EOF\n");
    fs::create_directories(root / "facture/temp");
    write_file(root / "facture/temp/stats.png", random_bytes(500, 4));
    fs::create_directories(root / "propale/temp/cache");
    write_file(root / "propale/temp/cache/x.bin", "cache");
    fs::create_directories(root / "société/Dupont & fils (SARL)");
    write_file(root / "société/Dupont & fils (SARL)/scan été n°1.pdf", std::string(20000, 'A'));
    write_file(root / "société/weird\nname.txt", "newline in the name\n");
    fs::create_directories(root / "ecm/empty folder");
    fs::create_directories(root / "ecm" / long_component / long_component);
    write_file(root / "ecm" / long_component / long_component / (long_component + ".odt"),
               "long\n");
    fs::create_directories(root / "mycompany/logos/thumbs");
    write_file(root / "mycompany/logos/logo.png", random_bytes(5000, 5));
    write_file(root / "mycompany/logos/thumbs/logo_small.png", random_bytes(800, 6));
    fs::create_symlink("logo.png", root / "mycompany/logos/current.png");
    fs::create_directories(root / "doctemplates/invoices");
    write_file(root / "doctemplates/invoices/template.odt", "template");
    fs::create_hard_link(root / "doctemplates/invoices/template.odt",
                         root / "doctemplates/invoices/copy.odt");
    write_file(root / "admin/backup/run.sh", "#!/bin/sh\n");
    ::chmod((root / "admin/backup/run.sh").c_str(), 0750);
    ::chmod((root / "admin/backup").c_str(), 0750);
    write_file(root / "empty.txt", "");
    set_mtime(root / "facture/FA2401-0001/FA2401-0001.pdf", 1700000000, 123456789);
    set_mtime(root / "mycompany/logos/current.png", 1600000000, 5);
    // Directory times last: creating children moves them.
    for (const auto& d : {"ecm/empty folder", "facture/FA2401-0001", "admin/backup", "ecm"})
        set_mtime(root / d, 1650000000, 987654321);
}

struct Info {
    char type;
    unsigned mode;
    std::int64_t size;
    std::int64_t mtime_ns;
    std::string data;  // content digest or link target
    bool operator==(const Info&) const = default;
};

// Everything that must survive a round trip (the root itself excluded).
std::map<std::string, Info> snapshot(const fs::path& root, bool seconds_only = false) {
    std::map<std::string, Info> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const auto rel = fs::relative(it->path(), root).string();
        struct stat st {};
        REQUIRE(::lstat(it->path().c_str(), &st) == 0);
        Info i{};
        std::int64_t ns = seconds_only ? 0 : st.st_mtim.tv_nsec;
        i.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + ns;
        i.mode = st.st_mode & 07777;
        if (S_ISDIR(st.st_mode)) {
            i.type = 'd';
        } else if (S_ISLNK(st.st_mode)) {
            i.type = 'l';
            i.data = fs::read_symlink(it->path()).string();
            i.mode = 0;
        } else {
            i.type = 'f';
            i.size = st.st_size;
            i.data = io::sha256_file_hex(it->path());
        }
        out[rel] = i;
    }
    return out;
}

std::map<std::string, Info> without_excluded(std::map<std::string, Info> m) {
    const tarball::ExcludeMatcher ex(tarball::default_excludes());
    std::erase_if(m, [&](const auto& kv) {
        // Excluded directly or below an excluded directory.
        std::string p = kv.first;
        for (;;) {
            const bool is_dir = p != kv.first || kv.second.type == 'd';
            if (ex.excluded(p, is_dir)) return true;
            const auto slash = p.rfind('/');
            if (slash == std::string::npos) return false;
            p.resize(slash);
        }
    });
    return m;
}

void check_same(const std::map<std::string, Info>& a, const std::map<std::string, Info>& b) {
    for (const auto& [k, v] : a) {
        INFO("entry: ", k);
        auto it = b.find(k);
        REQUIRE(it != b.end());
        CHECK(v.type == it->second.type);
        CHECK(v.mode == it->second.mode);
        CHECK(v.size == it->second.size);
        CHECK(v.mtime_ns == it->second.mtime_ns);
        CHECK(v.data == it->second.data);
    }
    for (const auto& [k, v] : b) {
        INFO("extra entry: ", k);
        CHECK(a.count(k) == 1);
    }
}

std::string write_archive(const fs::path& root, tarball::WriteOptions options = {},
                          tarball::WriteSummary* summary = nullptr) {
    io::MemorySink sink;
    auto s = tarball::write_tar(root, sink, options);
    sink.finish();
    if (summary) *summary = std::move(s);
    return sink.data();
}

tarball::ExtractSummary extract(const std::string& data, const fs::path& target,
                                const tarball::ExtractOptions& options = {}) {
    io::MemorySource src(data);
    return tarball::extract_tar(src, target, options);
}

// Builds an archive entry by entry with libarchive (hostile cases included).
class ArchiveBuilder {
public:
    explicit ArchiveBuilder(int filter = ARCHIVE_FILTER_GZIP) : a_(archive_write_new()) {
        archive_write_set_format_pax(a_);
        if (filter == ARCHIVE_FILTER_GZIP) archive_write_add_filter_gzip(a_);
        if (filter == ARCHIVE_FILTER_ZSTD) archive_write_add_filter_zstd(a_);
        archive_write_open(a_, this, nullptr, &ArchiveBuilder::on_write, nullptr);
    }
    ~ArchiveBuilder() { archive_write_free(a_); }
    ArchiveBuilder& add(const std::string& name, mode_t type, const std::string& content = "",
                        const std::string& link = "", bool hard = false) {
        archive_entry* e = archive_entry_new();
        archive_entry_copy_pathname(e, name.c_str());
        archive_entry_set_mode(e, type | (type == AE_IFDIR ? 0755 : 0644));
        archive_entry_set_mtime(e, 1700000000, 0);
        archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
        if (!link.empty()) {
            if (hard)
                archive_entry_copy_hardlink(e, link.c_str());
            else
                archive_entry_copy_symlink(e, link.c_str());
        }
        if (type == AE_IFCHR) archive_entry_set_rdev(e, makedev(1, 3));
        REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
        if (!content.empty()) archive_write_data(a_, content.data(), content.size());
        archive_entry_free(e);
        return *this;
    }
    /// An entry with explicit permission bits.
    ArchiveBuilder& add_mode(const std::string& name, mode_t type, mode_t perm,
                             const std::string& content = "") {
        archive_entry* e = archive_entry_new();
        archive_entry_copy_pathname(e, name.c_str());
        archive_entry_set_mode(e, type | perm);
        archive_entry_set_mtime(e, 1700000000, 0);
        archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
        REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
        if (!content.empty()) archive_write_data(a_, content.data(), content.size());
        archive_entry_free(e);
        return *this;
    }
    /// A sparse file of `size` bytes whose only data is `head` at offset 0: a few bytes in the
    /// archive, `size` bytes (zeros after the head) once extracted.
    ArchiveBuilder& add_sparse(const std::string& name, std::int64_t size,
                               const std::string& head) {
        archive_entry* e = archive_entry_new();
        archive_entry_copy_pathname(e, name.c_str());
        archive_entry_set_mode(e, AE_IFREG | 0644);
        archive_entry_set_size(e, size);
        archive_entry_sparse_add_entry(e, 0, static_cast<la_int64_t>(head.size()));
        REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
        archive_write_data(a_, head.data(), head.size());
        archive_entry_free(e);
        return *this;
    }
    std::string finish() {
        archive_write_close(a_);
        return data_;
    }

private:
    static la_ssize_t on_write(archive*, void* self, const void* buf, size_t n) {
        static_cast<ArchiveBuilder*>(self)->data_.append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    }
    archive* a_;
    std::string data_;
};

process::RunResult run_tool(std::vector<std::string> argv, const fs::path& cwd = {}) {
    process::ProcessOptions o;
    o.argv = std::move(argv);
    o.working_dir = cwd;
    return run(o);
}

// GNU tar and bsdtar each extract `file` into `<work>/<tool>-<label>`, which must equal
// `expected`.
void check_extracted_by_tools(const fs::path& file, const std::map<std::string, Info>& expected,
                              const fs::path& work, const std::string& label) {
    for (const std::string tool : {"tar", "bsdtar"}) {
        INFO(tool, " ", label);
        const auto out = work / (tool + "-" + label);
        fs::create_directories(out);
        const auto r = run_tool({tool, "-xf", file.string(), "-C", out.string()});
        INFO(r.err);
        REQUIRE(r.status.success());
        check_same(expected, snapshot(out));
    }
}

}  // namespace

TEST_CASE("exclude globs behave like GNU tar's --exclude on Dolibarr's regenerated files") {
    const tarball::ExcludeMatcher ex(tarball::default_excludes());
    CHECK(ex.excluded("facture/temp/stats.png", false));
    CHECK(ex.excluded("facture/temp", true));
    CHECK(ex.excluded("temp", true));  // a temp folder at the root too
    CHECK(ex.excluded("fournisseur/facture/1/2/temp/massgen/x.pdf", false));
    CHECK(ex.excluded("facture/FA2401-0001/FA2401-0001.pdf_preview.png", false));
    CHECK(ex.excluded("facture/FA2401-0001/FA2401-0001.pdf_preview-2.png", false));
    CHECK(ex.excluded("dolibarr.log", false));
    CHECK(ex.excluded("dolibarr_install.log", false));
    CHECK_FALSE(ex.excluded("facture/FA2401-0001/FA2401-0001.pdf", false));
    CHECK_FALSE(ex.excluded("facture/temperature.pdf", false));
    CHECK_FALSE(ex.excluded("facture", true));
    CHECK_FALSE(ex.excluded("install.lock", false));
    const tarball::ExcludeMatcher custom({"*.bak", "admin/documents"});
    CHECK(custom.excluded("a/b/c.bak", false));
    CHECK(custom.excluded("admin/documents", true));
    CHECK_FALSE(custom.excluded("facture/temp/x", false));
    const tarball::ExcludeMatcher none({});
    CHECK_FALSE(none.excluded("facture/temp/x", false));
}

TEST_CASE("round trip: write then extract gives the same tree without the regenerated files") {
    for (auto compression :
         {tarball::Compression::gzip, tarball::Compression::zstd, tarball::Compression::none}) {
        INFO("compression: ", tarball::to_string(compression));
        TempDir tmp;
        make_tree(tmp / "documents");
        tarball::WriteOptions wo;
        wo.compression = compression;
        wo.threads = compression == tarball::Compression::zstd ? 2 : 0;
        tarball::WriteSummary ws;
        const auto data = write_archive(tmp / "documents", wo, &ws);
        CHECK(ws.warnings.empty());
        CHECK(ws.hardlinks == 1);
        CHECK(ws.symlinks == 1);
        CHECK(ws.archive_bytes == data.size());
        const auto x = extract(data, tmp / "restored");
        CHECK(x.files == ws.files);
        const auto expected = without_excluded(snapshot(tmp / "documents"));
        CHECK(expected.count("facture/temp") == 0);
        CHECK(expected.count("ecm/empty folder") == 1);
        const auto restored = snapshot(tmp / "restored");
        check_same(expected, restored);
        CHECK_FALSE(fs::exists(tmp / "restored/facture/temp"));
        CHECK_FALSE(fs::exists(tmp / "restored/dolibarr.log"));
        // The hard link came back as a hard link.
        struct stat a {
        }, b{};
        REQUIRE(::stat((tmp / "restored/doctemplates/invoices/copy.odt").c_str(), &a) == 0);
        REQUIRE(::stat((tmp / "restored/doctemplates/invoices/template.odt").c_str(), &b) == 0);
        CHECK(a.st_ino == b.st_ino);
        // Same fingerprint on both sides, content included.
        fingerprint::DocsOptions fo;
        fo.content = true;
        CHECK(fingerprint::docs_fingerprint(tmp / "documents", fo).sha256 ==
              fingerprint::docs_fingerprint(tmp / "restored", fo).sha256);
        // The lister sees the sorted entries.
        io::MemorySource src(data);
        std::vector<std::string> names;
        const auto ls =
            tarball::list_tar(src, [&](const tarball::Entry& e) { names.push_back(e.path); });
        CHECK(ls.entries == ws.entries);
        CHECK(ls.compression == tarball::to_string(compression));
        CHECK(ls.archive_bytes == data.size());
        CHECK(names.front() == "admin/");  // directories end in '/', as GNU tar writes them
        CHECK(std::find(names.begin(), names.end(), "société/weird\nname.txt") != names.end());
    }
}

TEST_CASE("reproducible mode: the same tree gives the same bytes; owners are fixed") {
    TempDir tmp;
    make_tree(tmp / "d");
    tarball::WriteOptions wo;
    wo.reproducible = true;
    const auto first = write_archive(tmp / "d", wo);
    CHECK(first[4] == 0);  // no time stamp in the gzip header
    ::sleep(1);
    CHECK(write_archive(tmp / "d", wo) == first);
    wo.compression = tarball::Compression::zstd;
    CHECK(write_archive(tmp / "d", wo) == write_archive(tmp / "d", wo));
    io::MemorySource src(first);
    tarball::list_tar(src, [](const tarball::Entry& e) {
        CHECK(e.uid == 0);
        CHECK(e.uname == "root");
    });
}

TEST_CASE("writer options: prefix, excludes, levels, bad settings") {
    TempDir tmp;
    make_tree(tmp / "d");
    tarball::WriteOptions wo;
    wo.prefix = "documents/";
    wo.excludes = {};
    const auto data = write_archive(tmp / "d", wo);
    io::MemorySource src(data);
    bool saw_temp = false;
    tarball::list_tar(src, [&](const tarball::Entry& e) {
        CHECK(e.path.rfind("documents/", 0) == 0);
        if (e.path == "documents/facture/temp/stats.png") saw_temp = true;
    });
    CHECK(saw_temp);
    // The old scripts' archive layout extracts with strip_components.
    tarball::ExtractOptions xo;
    xo.strip_components = 1;
    extract(data, tmp / "r", xo);
    CHECK(fs::exists(tmp / "r/facture/temp/stats.png"));

    wo = {};
    wo.level = 12;
    io::NullSink null;
    CHECK_THROWS_AS(tarball::write_tar(tmp / "d", null, wo), ConfigError);
    wo.compression = tarball::Compression::zstd;
    wo.level = 19;
    CHECK_NOTHROW(tarball::write_tar(tmp / "d", null, wo));
    CHECK_THROWS_AS(tarball::parse_compression("bzip2"), ConfigError);
    CHECK(tarball::parse_compression("zst") == tarball::Compression::zstd);
    CHECK_THROWS_AS(tarball::write_tar(tmp / "missing", null, {}), IoError);
}

// Runs `body` as the unprivileged user nobody (65534) in a forked child when this process is
// root (root reads every file, whatever its mode), else here. Returns body's result.
static int as_unprivileged(const std::function<int()>& body) {
    if (::geteuid() != 0) return body();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int rc = 90;
        if (::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
            ::setresuid(65534, 65534, 65534) == 0) {
            try {
                rc = body();
            } catch (...) {
                rc = 91;
            }
        }
        ::_exit(rc);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_CASE("an unreadable file is an error naming it, or a warning when skipped") {
    TempDir tmp;
    make_tree(tmp / "d");
    write_file(tmp / "d/facture/secret.pdf", "x");
    // The tree is readable by others (as a documents volume is to a backup user), but for
    // secret.pdf; the results folder is writable by them.
    ::chmod(tmp.path().c_str(), 0755);
    for (const auto& e : fs::recursive_directory_iterator(tmp / "d")) {
        if (e.is_symlink()) continue;
        const auto others = e.is_directory() ? fs::perms::others_read | fs::perms::others_exec
                                             : fs::perms::others_read;
        fs::permissions(e.path(), others, fs::perm_options::add);
    }
    ::chmod((tmp / "d/facture/secret.pdf").c_str(), 0);
    fs::create_directories(tmp / "out");
    ::chmod((tmp / "out").c_str(), 0777);
    const int rc = as_unprivileged([&] {
        io::NullSink null;
        try {
            tarball::write_tar(tmp / "d", null, {});
            return 1;  // no error
        } catch (const IoError& e) {
            write_file(tmp / "out/error.txt", e.what());
        }
        tarball::WriteOptions wo;
        wo.skip_unreadable = true;
        tarball::WriteSummary s;
        const auto data = write_archive(tmp / "d", wo, &s);
        std::string warnings;
        for (const auto& w : s.warnings) warnings += w.path + "\n";
        write_file(tmp / "out/warnings.txt", warnings);
        write_file(tmp / "out/archive.tar.gz", data);
        return 0;
    });
    REQUIRE(rc == 0);
    CHECK(test::read_file(tmp / "out/error.txt").find("facture/secret.pdf") != std::string::npos);
    CHECK(test::read_file(tmp / "out/warnings.txt") == "facture/secret.pdf\n");
    // Every other file was read (files of another owner: O_NOATIME falls back) and archived.
    const std::string archived = test::read_file(tmp / "out/archive.tar.gz");
    io::MemorySource src(archived);
    const auto listed = tarball::list_tar(src);
    CHECK(listed.files > 5);
    if (::geteuid() == 0) {  // root reads secret.pdf too: one file more, nothing else
        const std::string everything = write_archive(tmp / "d");
        io::MemorySource all(everything);
        CHECK(tarball::list_tar(all).files == listed.files + 1);
    }
}

// A sink that changes the tree when the archive reaches given sizes.
class MutatingSink final : public io::Sink {
public:
    explicit MutatingSink(std::vector<std::pair<std::size_t, std::function<void()>>> steps)
        : steps_(std::move(steps)) {}
    void write(io::Bytes d) override {
        data.append(io::as_chars(d));
        for (auto& [at, f] : steps_)
            if (f && data.size() >= at) std::exchange(f, nullptr)();
    }
    void finish() override {}
    void abort() noexcept override {}
    std::string data;

private:
    std::vector<std::pair<std::size_t, std::function<void()>>> steps_;
};

// A sink that counts its writes and throws on the n-th one (0: never).
class CountingSink final : public io::Sink {
public:
    explicit CountingSink(int fail_at) : fail_at_(fail_at) {}
    void write(io::Bytes) override {
        if (++writes == fail_at_) throw IoError("cannot write", "counting-sink", ENOSPC);
    }
    void finish() override {}
    void abort() noexcept override {}
    int writes = 0;

private:
    int fail_at_;
};

TEST_CASE("a sink that fails on the archive's last write fails the writer") {
    // The last write is the flush of the writer's own buffer when libarchive closes its
    // output, whose return value libarchive ignores: small trees reach the sink only there.
    TempDir tmp;
    write_file(tmp / "small/a.txt", "small");
    write_file(tmp / "large/b.bin", random_bytes(1500000, 9));
    for (const std::string tree : {"small", "large"}) {
        for (const auto c :
             {tarball::Compression::none, tarball::Compression::gzip, tarball::Compression::zstd}) {
            CAPTURE(tree);
            CAPTURE(tarball::file_extension(c));
            tarball::WriteOptions wo;
            wo.compression = c;
            CountingSink ok(0);
            tarball::write_tar(tmp / tree, ok, wo);
            REQUIRE(ok.writes >= 1);
            CountingSink failing(ok.writes);
            CHECK_THROWS_AS(tarball::write_tar(tmp / tree, failing, wo), IoError);
            CHECK(failing.writes == ok.writes);
        }
    }
}

TEST_CASE("files that shrink, grow or vanish during the walk give warnings and a valid archive") {
    TempDir tmp;
    fs::create_directories(tmp / "d");
    // Output reaches the sink in 256 KiB writes: each change happens while a file is read.
    write_file(tmp / "d/a_shrinks", random_bytes(1000000, 7));
    write_file(tmp / "d/b_grows", random_bytes(1000000, 8));
    write_file(tmp / "d/c_vanishes", "bye");
    write_file(tmp / "d/d_stays", "stays");
    MutatingSink sink({{1, [&] { ::truncate((tmp / "d/a_shrinks").c_str(), 10); }},
                       {1300000, [&] {
                            std::ofstream(tmp / "d/b_grows", std::ios::app)
                                << std::string(5000, 'G');
                            fs::remove(tmp / "d/c_vanishes");
                        }}});
    tarball::WriteOptions wo;
    wo.compression = tarball::Compression::none;
    std::vector<std::string> seen;
    wo.on_warning = [&](const tarball::Warning& w) { seen.push_back(w.path + ": " + w.message); };
    const auto s = tarball::write_tar(tmp / "d", sink, wo);
    sink.finish();
    REQUIRE(s.warnings.size() == 3);
    CHECK(seen.size() == 3);
    CHECK(s.warnings[0].path == "a_shrinks");
    CHECK(s.warnings[0].message.find("shrank") != std::string::npos);
    CHECK(s.warnings[1].path == "b_grows");
    CHECK(s.warnings[1].message.find("grew") != std::string::npos);
    CHECK(s.warnings[2].path == "c_vanishes");
    // Valid for us and for GNU tar, with the sizes of the headers.
    io::MemorySource src(sink.data);
    std::map<std::string, std::uint64_t> sizes;
    tarball::list_tar(src, [&](const tarball::Entry& e) { sizes[e.path] = e.size; });
    CHECK(sizes["a_shrinks"] == 1000000);
    CHECK(sizes["b_grows"] == 1000000);
    CHECK(sizes.count("c_vanishes") == 0);
    CHECK(sizes["d_stays"] == 5);
    write_file(tmp / "out.tar", sink.data);
    fs::create_directories(tmp / "x");
    CHECK(run_tool({"tar", "-xf", (tmp / "out.tar").string(), "-C", (tmp / "x").string()})
              .status.success());
    CHECK(dolibak::test::read_file(tmp / "x/d_stays") == "stays");
}

TEST_CASE("interop: GNU tar and bsdtar extract what we write; we extract what they write") {
    TempDir tmp;
    make_tree(tmp / "documents");
    const auto expected = without_excluded(snapshot(tmp / "documents"));
    for (auto compression : {tarball::Compression::gzip, tarball::Compression::zstd}) {
        tarball::WriteOptions wo;
        wo.compression = compression;
        const auto data = write_archive(tmp / "documents", wo);
        const auto file = tmp / ("ours" + tarball::file_extension(compression));
        write_file(file, data);
        check_extracted_by_tools(file, expected, tmp.path(), tarball::to_string(compression));
        for (const std::string tool : {"tar", "bsdtar"}) {
            INFO(tool, " ", tarball::to_string(compression));
            const auto listed = run_tool({tool, "-tf", file.string()});
            REQUIRE(listed.status.success());
            CHECK(listed.out.find("facture/(PROV12)/(PROV12).pdf\n") != std::string::npos);
            CHECK(listed.out.find("ecm/" + long_component + "/" + long_component + "/" +
                                  long_component + ".odt") != std::string::npos);
            // The same entries as our own lister, name for name (each tool escapes the one
            // name holding a newline its own way: it is compared by extraction above).
            std::set<std::string> theirs, ours;
            auto norm = [](std::string n) {
                if (n.starts_with("./")) n.erase(0, 2);
                while (!n.empty() && n.back() == '/') n.pop_back();
                return n;
            };
            std::istringstream lines(listed.out);
            for (std::string line; std::getline(lines, line);)
                if (line.find("weird") == std::string::npos) theirs.insert(norm(line));
            io::MemorySource src(data);
            tarball::list_tar(src, [&](const tarball::Entry& e) {
                if (e.path.find("weird") == std::string::npos) ours.insert(norm(e.path));
            });
            theirs.erase("");
            ours.erase("");
            CHECK(theirs == ours);
        }
    }
    // The original scripts' way: names start with "documents/", temp excluded by GNU tar.
    const auto gnu =
        run_tool({"tar", "-czf", (tmp / "gnu.tar.gz").string(), "--exclude=*/temp/*",
                  "--exclude=*.pdf_preview*.png", "--exclude=dolibarr*.log", "documents"},
                 tmp.path());
    REQUIRE(gnu.status.success());
    io::FileSource gsrc(tmp / "gnu.tar.gz");
    tarball::ExtractOptions xo;
    xo.strip_components = 1;
    tarball::extract_tar(gsrc, tmp / "from-gnu", xo);
    auto from_gnu = snapshot(tmp / "from-gnu", true);
    // GNU tar keeps the (now empty) temp folders; times are whole seconds in its format.
    std::erase_if(from_gnu, [](const auto& kv) { return kv.first.ends_with("/temp"); });
    check_same(without_excluded(snapshot(tmp / "documents", true)), from_gnu);

    for (const std::string flag : {"--zstd", "-z"}) {
        INFO("bsdtar ", flag);
        const auto name = tmp / ("bsd" + flag + ".tar");
        const auto bsd = run_tool(
            {"bsdtar", flag, "-cf", name.string(), "-C", (tmp / "documents").string(), "."});
        REQUIRE(bsd.status.success());
        io::FileSource bsrc(name);
        tarball::extract_tar(bsrc, tmp / ("from-bsd" + flag));
        check_same(snapshot(tmp / "documents", true), snapshot(tmp / ("from-bsd" + flag), true));
    }
}

TEST_CASE("names that are not UTF-8 (Latin-1 bytes) round-trip, and GNU tar and bsdtar agree") {
    TempDir tmp;
    const std::string latin1_file =
        "caf\xe9 n\xb0"
        "1.pdf";  // "café n°1.pdf" in ISO-8859-1
    const std::string latin1_dir = "soci\xe9t\xe9";
    const auto root = tmp / "documents";
    write_file(root / latin1_dir / latin1_file, "%PDF-1.4 latin-1 name\n%%EOF\n");
    write_file(root / "plain.pdf", "%PDF-1.4\n%%EOF\n");
    const auto expected = snapshot(root);
    REQUIRE(expected.count(latin1_dir + "/" + latin1_file) == 1);
    const fingerprint::DocsOptions fo;
    const auto before = fingerprint::docs_fingerprint(root, fo);
    for (auto compression : {tarball::Compression::gzip, tarball::Compression::zstd}) {
        INFO(tarball::to_string(compression));
        tarball::WriteOptions wo;
        wo.compression = compression;
        const auto data = write_archive(root, wo);
        const auto target = tmp / ("ours-" + tarball::to_string(compression));
        extract(data, target);
        check_same(expected, snapshot(target));
        const auto file = tmp / ("x" + tarball::file_extension(compression));
        write_file(file, data);
        check_extracted_by_tools(file, expected, tmp.path(), tarball::to_string(compression));
    }
    // The fingerprint of the bytes, stable, and the same for the extracted copy.
    CHECK(fingerprint::docs_fingerprint(root, fo).sha256 == before.sha256);
    CHECK(fingerprint::docs_fingerprint(tmp / "ours-gzip", fo).sha256 == before.sha256);
}

TEST_CASE("hostile archives are refused, nothing is written outside, the old tree is intact") {
    TempDir tmp;
    fs::create_directories(tmp / "target/old");
    write_file(tmp / "target/old/keep.pdf", "old document");
    fs::create_directories(tmp / "outside");
    const auto before = snapshot(tmp / "target");

    struct Case {
        const char* name;
        std::string archive;
        const char* message;
    };
    std::vector<Case> cases;
    cases.push_back({"path traversal",
                     ArchiveBuilder()
                         .add("ok.txt", AE_IFREG, "fine")
                         .add("a/../../outside/evil.txt", AE_IFREG, "evil")
                         .finish(),
                     "'..'"});
    cases.push_back(
        {"absolute path",
         ArchiveBuilder().add((tmp / "outside/abs.txt").string(), AE_IFREG, "evil").finish(),
         "absolute"});
    cases.push_back(
        {"symlink to outside",
         ArchiveBuilder().add("link", AE_IFLNK, "", (tmp / "outside").string()).finish(),
         "absolute path"});
    cases.push_back(
        {"relative symlink escaping",
         ArchiveBuilder().add("d", AE_IFDIR).add("d/link", AE_IFLNK, "", "../../outside").finish(),
         "outside the target"});
    cases.push_back({"symlink then file through it",
                     ArchiveBuilder()
                         .add("sub", AE_IFDIR)
                         .add("here", AE_IFLNK, "", "sub")
                         .add("here/evil.txt", AE_IFREG, "evil")
                         .finish(),
                     "nothing is written through it"});
    cases.push_back({"hard link to outside",
                     ArchiveBuilder().add("hl", AE_IFREG, "", "../outside/victim", true).finish(),
                     "'..'"});
    cases.push_back({"hard link to an absolute path",
                     ArchiveBuilder().add("hl", AE_IFREG, "", "/etc/passwd", true).finish(),
                     "absolute"});
    cases.push_back({"hard link to a name not extracted",
                     ArchiveBuilder().add("hl", AE_IFREG, "", "old/keep.pdf", true).finish(),
                     "not a file extracted before it"});
    // A file, then a symlink replacing it (allowed: it stays inside), then a hard link to the
    // name: linkat would copy the symlink to the root, where "../../outside" escapes.
    cases.push_back({"hard link to a file replaced by a symlink",
                     ArchiveBuilder()
                         .add("a", AE_IFDIR)
                         .add("a/b", AE_IFDIR)
                         .add("a/b/f", AE_IFREG, "first")
                         .add("a/b/f", AE_IFLNK, "", "../../outside")
                         .add("l", AE_IFREG, "", "a/b/f", true)
                         .finish(),
                     "not a file extracted before it"});
    cases.push_back(
        {"device node", ArchiveBuilder().add("null", AE_IFCHR).finish(), "device node"});
    cases.push_back({"FIFO", ArchiveBuilder().add("fifo", AE_IFIFO).finish(), "FIFO"});
    cases.push_back({"10,000-byte name",
                     ArchiveBuilder().add(std::string(10000, 'n'), AE_IFREG, "x").finish(),
                     "longer than 4096"});
    cases.push_back({"long component",
                     ArchiveBuilder().add("a/" + std::string(300, 'c'), AE_IFREG, "x").finish(),
                     "longer than 255"});
    {
        const auto full = ArchiveBuilder().add("a.pdf", AE_IFREG, random_bytes(300000, 9)).finish();
        cases.push_back({"truncated gzip", full.substr(0, full.size() / 2), "truncated"});
        const auto zfull = ArchiveBuilder(ARCHIVE_FILTER_ZSTD)
                               .add("a.pdf", AE_IFREG, random_bytes(300000, 9))
                               .finish();
        cases.push_back({"truncated zstd", zfull.substr(0, zfull.size() / 2), "runcated"});
    }
    cases.push_back({"not an archive", std::string(5000, 'x'), "Unrecognized"});

    for (const auto& c : cases) {
        INFO("case: ", c.name);
        for (bool in_place : {false, true}) {
            if (in_place && std::string(c.name).starts_with("truncated")) continue;
            INFO("in place: ", in_place);
            tarball::ExtractOptions xo;
            xo.in_place = in_place;
            const fs::path target = in_place ? tmp / "scratch" : tmp / "target";
            try {
                extract(c.archive, target, xo);
                FAIL("accepted");
            } catch (const FormatError& e) {
                INFO(e.what());
                CHECK(std::string(e.what()).find(c.message) != std::string::npos);
            }
            CHECK(fs::is_empty(tmp / "outside"));
            if (in_place) tarball::remove_tree(target);
        }
        check_same(before, snapshot(tmp / "target"));
        // No staging directory left behind.
        for (const auto& e : fs::directory_iterator(tmp.path()))
            CHECK(e.path().filename().string().find("dolibak-staging") == std::string::npos);
    }
}

TEST_CASE("a good archive replaces the old tree; subtree extracts only one folder") {
    TempDir tmp;
    make_tree(tmp / "documents");
    fs::create_directories(tmp / "target/old");
    write_file(tmp / "target/old/gone.pdf", "old");
    ::chmod((tmp / "target/old").c_str(), 0555);  // the old tree is removed even when read-only
    const auto data = write_archive(tmp / "documents");
    const auto s = extract(data, tmp / "target");
    CHECK(s.files > 5);
    CHECK_FALSE(fs::exists(tmp / "target/old"));
    CHECK(fs::exists(tmp / "target/install.lock"));
    CHECK((fs::status(tmp / "target/install.lock").permissions() & fs::perms::owner_write) ==
          fs::perms::none);

    tarball::ExtractOptions xo;
    xo.subtree = "mycompany/";
    const auto sub = extract(data, tmp / "sandbox/mycompany", xo);
    CHECK(sub.skipped > 0);
    CHECK(fs::exists(tmp / "sandbox/mycompany/logos/logo.png"));
    CHECK(fs::is_symlink(tmp / "sandbox/mycompany/logos/current.png"));
    CHECK_FALSE(fs::exists(tmp / "sandbox/mycompany/facture"));
    CHECK_FALSE(fs::exists(tmp / "sandbox/mycompany/mycompany"));
}

TEST_CASE("the verifier reads to the end and reports the first defect with its offset") {
    TempDir tmp;
    make_tree(tmp / "d");
    const auto data = write_archive(tmp / "d");
    {
        io::MemorySource src(data);
        const auto s = tarball::list_tar(src);
        CHECK(s.files > 5);
        CHECK(s.format.find("pax") != std::string::npos);
    }
    std::string corrupt = data;
    corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x55);
    io::MemorySource src(corrupt);
    try {
        tarball::list_tar(src);
        FAIL("corruption not found");
    } catch (const FormatError& e) {
        REQUIRE(e.offset().has_value());
        CHECK(*e.offset() > 0);
        CHECK(*e.offset() <= corrupt.size());
    }
    io::MemorySource cut(std::string_view(data).substr(0, data.size() - 30));
    CHECK_THROWS_AS(tarball::list_tar(cut), FormatError);
}

TEST_CASE("the reader checks the end: gzip trailer, nothing after the stream or the end marker") {
    TempDir tmp;
    make_tree(tmp / "d");
    fs::create_directories(tmp / "target");
    write_file(tmp / "target/old.pdf", "old");
    auto refused = [&](const std::string& data, const std::string& message) {
        {
            io::MemorySource src(data);
            try {
                tarball::list_tar(src);
                FAIL("the lister accepted it");
            } catch (const FormatError& e) {
                INFO(e.what());
                CHECK(std::string(e.what()).find(message) != std::string::npos);
                CHECK(e.offset().has_value());
            }
        }
        // The extractor reads to the end before it swaps the new tree in.
        CHECK_THROWS_AS(extract(data, tmp / "target"), FormatError);
        CHECK(test::read_file(tmp / "target/old.pdf") == "old");
    };
    auto accepted = [&](const std::string& data) {
        io::MemorySource src(data);
        CHECK(tarball::list_tar(src).files > 5);
    };

    tarball::WriteOptions gz;
    const auto gzip = write_archive(tmp / "d", gz);
    accepted(gzip);
    SUBCASE("gzip cut inside its 8-byte trailer") {
        for (std::size_t cut = 1; cut <= 8; ++cut) {
            INFO("cut: ", cut);
            refused(gzip.substr(0, gzip.size() - cut), "truncated gzip");
        }
    }
    SUBCASE("gzip CRC-32 flipped") {
        std::string bad = gzip;
        bad[bad.size() - 6] = static_cast<char>(bad[bad.size() - 6] ^ 0x01);
        refused(bad, "corrupt gzip data");
    }
    SUBCASE("garbage after the gzip stream") {
        refused(gzip + "trailing", "garbage after the end of the gzip stream");
    }
    SUBCASE("zero padding after the gzip stream is accepted") {
        accepted(gzip + std::string(512, '\0'));
    }

    tarball::WriteOptions zo;
    zo.compression = tarball::Compression::zstd;
    const auto zst = write_archive(tmp / "d", zo);
    accepted(zst);
    SUBCASE("garbage after the zstd stream") {
        refused(zst + "trailing", "zstd");
    }
    SUBCASE("zstd cut") {
        refused(zst.substr(0, zst.size() - 3), "truncated zstd");
    }

    tarball::WriteOptions none;
    none.compression = tarball::Compression::none;
    const auto tar = write_archive(tmp / "d", none);
    accepted(tar);
    SUBCASE("more zero blocks after the end marker are accepted") {
        accepted(tar + std::string(20480, '\0'));
    }
    SUBCASE("data after the end marker, in the last record or beyond") {
        std::string in_padding = tar;
        in_padding[in_padding.size() - 1] = 'x';  // inside the record's zero padding
        refused(in_padding, "data after the end of the tar archive");
        refused(tar + std::string(3 << 20, '\0') + "x", "data after the end of the tar archive");
    }
}

TEST_CASE("the documents fingerprint follows documents, not regenerated files") {
    TempDir tmp;
    make_tree(tmp / "d");
    const fs::path d = tmp / "d";
    auto fp = [&] { return fingerprint::docs_fingerprint(d).sha256; };
    const auto base = fp();
    CHECK(base.size() == 64);
    CHECK(fp() == base);

    // Regenerated files: no change.
    write_file(d / "facture/temp/new-stats.png", "png");
    write_file(d / "facture/temp/stats.png", "changed");
    fs::create_directories(d / "newmodule/temp");
    write_file(d / "newmodule/temp/cache", "x");
    fs::remove_all(d / "newmodule");
    write_file(d / "facture/(PROV12)/(PROV12).pdf_preview.png", "preview");
    write_file(d / "dolibarr.log", "log line\nanother line\n");
    CHECK(fp() == base);

    // Documents: change.
    write_file(d / "facture/new.pdf", "%PDF");
    const auto added = fp();
    CHECK(added != base);
    fs::remove(d / "facture/new.pdf");
    CHECK(fp() == base);
    set_mtime(d / "facture/FA2401-0001/FA2401-0001.pdf", 1700000000, 123456790);
    CHECK(fp() != base);
    set_mtime(d / "facture/FA2401-0001/FA2401-0001.pdf", 1700000000, 123456789);
    CHECK(fp() == base);
    {
        // Same size, same mtime, different bytes: only the content mode sees it.
        fingerprint::DocsOptions co;
        co.content = true;
        const auto content_before = fingerprint::docs_fingerprint(d, co).sha256;
        std::string s = dolibak::test::read_file(d / "empty.txt");
        struct stat st {};
        ::stat((d / "install.lock").c_str(), &st);
        ::chmod((d / "install.lock").c_str(), 0644);
        write_file(d / "install.lock", "LOCKED\n");
        ::chmod((d / "install.lock").c_str(), 0444);
        set_mtime(d / "install.lock", st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        CHECK(fp() == base);
        CHECK(fingerprint::docs_fingerprint(d, co).sha256 != content_before);
    }
    write_file(d / "empty.txt", "now with content");
    CHECK(fp() != base);
    fs::remove(d / "empty.txt");
    const auto removed = fp();
    CHECK(removed != base);
    CHECK(removed != added);
    ::chmod((d / "admin/backup/run.sh").c_str(), 0700);
    CHECK(fp() != removed);
    const auto f = fingerprint::docs_fingerprint(d);
    CHECK(f.files > 5);
    CHECK(f.symlinks == 1);
}

TEST_CASE("round trip of a generated Dolibarr documents tree (tools/dolibarr_gen.py)") {
    TempDir tmp;
    const auto gen =
        run_tool({"python3", (dolibak::test::source_dir() / "tools/dolibarr_gen.py").string(),
                  "docs", "--out", (tmp / "documents").string(), "--scale", "40", "--seed", "5"});
    INFO(gen.err);
    REQUIRE(gen.status.success());
    tarball::WriteOptions wo;
    wo.compression = tarball::Compression::zstd;
    tarball::WriteSummary ws;
    const auto data = write_archive(tmp / "documents", wo, &ws);
    CHECK(ws.warnings.empty());
    CHECK(ws.excluded > 0);
    extract(data, tmp / "restored");
    const auto expected = without_excluded(snapshot(tmp / "documents"));
    check_same(expected, snapshot(tmp / "restored"));
    for (const auto& [path, info] : snapshot(tmp / "restored")) {
        INFO(path);
        CHECK(path.find("/temp/") == std::string::npos);
        CHECK_FALSE(path.ends_with("/temp"));
        CHECK(path.find("pdf_preview") == std::string::npos);
    }
    CHECK(fingerprint::docs_fingerprint(tmp / "documents").sha256 ==
          fingerprint::docs_fingerprint(tmp / "restored").sha256);
}

TEST_CASE("world-writable and sticky modes are normalised with a warning, the root's too") {
    TempDir tmp;
    fs::create_directories(tmp / "target");
    ::chmod((tmp / "target").c_str(), 0750);
    const auto data = ArchiveBuilder()
                          .add_mode("./", AE_IFDIR, 0777)
                          .add_mode("shared", AE_IFDIR, 01777)
                          .add_mode("shared/open.pdf", AE_IFREG, 0666, "pdf")
                          .add_mode("facture", AE_IFDIR, 0750)
                          .add_mode("facture/F1.pdf", AE_IFREG, 0640, "f1")
                          .finish();
    std::vector<std::string> warnings;
    tarball::ExtractOptions o;
    o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    io::MemorySource src(data);
    const auto sum = tarball::extract_tar(src, tmp / "target", o);
    auto perm = [](const fs::path& p) {
        struct stat st {};
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        return st.st_mode & 07777;
    };
    CHECK(perm(tmp / "target") == 0775);  // not 0777: the target root is not opened to all
    CHECK(perm(tmp / "target/shared") == 0775);
    CHECK(perm(tmp / "target/shared/open.pdf") == 0664);
    CHECK(perm(tmp / "target/facture") == 0750);  // untouched
    CHECK(perm(tmp / "target/facture/F1.pdf") == 0640);
    CHECK(sum.modes_normalised == 3);
    REQUIRE(warnings.size() == 3);
    CHECK(warnings[0].find("normalised") != std::string::npos);
}

TEST_CASE("extraction stops once it writes more than the recorded content size") {
    TempDir tmp;
    fs::create_directories(tmp / "target");
    write_file(tmp / "target/keep.pdf", "old");
    // A few hundred bytes that claim 64 MiB of zeros.
    const auto data = ArchiveBuilder().add_sparse("big.bin", std::int64_t{64} << 20, "x").finish();
    CHECK(data.size() <= 10240);
    tarball::ExtractOptions o;
    o.max_content_bytes = 1 << 20;
    io::MemorySource src(data);
    try {
        tarball::extract_tar(src, tmp / "target", o);
        FAIL("expected FormatError");
    } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find("more than the 1048576 content bytes") !=
              std::string::npos);
    }
    CHECK(test::read_file(tmp / "target/keep.pdf") == "old");
    CHECK(!fs::exists(tmp / "target/big.bin"));
}

TEST_CASE("leftovers of a killed extraction are removed or completed by the next one") {
    TempDir tmp;
    const auto archive = ArchiveBuilder().add("new.pdf", AE_IFREG, "new").finish();
    // Killed while extracting beside the target: a staging tree.
    write_file(tmp / "docs/old.pdf", "old");
    write_file(tmp / ".docs.dolibak-staging-AbC123/half.pdf", "half");
    std::vector<std::string> warnings;
    tarball::ExtractOptions o;
    o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    {
        io::MemorySource src(archive);
        tarball::extract_tar(src, tmp / "docs", o);
    }
    CHECK(!fs::exists(tmp / ".docs.dolibak-staging-AbC123"));
    CHECK(test::read_file(tmp / "docs/new.pdf") == "new");
    CHECK(!warnings.empty());

    // Killed between the two renames of the fallback: the target is missing, the old tree
    // beside it is put back (then replaced as asked).
    fs::rename(tmp / "docs", tmp / ".docs.dolibak-old-XyZ789");
    {
        const auto other = ArchiveBuilder().add("other.pdf", AE_IFREG, "o").finish();
        io::MemorySource src(other);
        tarball::extract_tar(src, tmp / "docs", o);
    }
    CHECK(!fs::exists(tmp / ".docs.dolibak-old-XyZ789"));
    CHECK(fs::exists(tmp / "docs/other.pdf"));

    // Killed inside a mount point while swapping: the journal is rolled forward. The state:
    // old entries half moved out (phase 1), the complete new tree in the staging directory.
    const auto t = tmp / "mnt";
    write_file(t / "a_old.pdf", "old a");
    write_file(t / ".dolibak-old-Q1w2e3/b_old.pdf", "old b");
    write_file(t / ".dolibak-staging-R4t5y6/c_new.pdf", "new c");
    write_file(t / ".dolibak-staging-R4t5y6/sub/d_new.pdf", "new d");
    write_file(t / ".dolibak-restore-journal",
               "dolibak restore journal 1\n.dolibak-staging-R4t5y6\n.dolibak-old-Q1w2e3\n1\n");
    // An empty archive, in place: only the recovery runs.
    {
        const auto empty = ArchiveBuilder().finish();
        io::MemorySource src(empty);
        tarball::ExtractOptions in_place = o;
        in_place.in_place = true;
        tarball::extract_tar(src, t, in_place);
    }
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(t))
        names.insert(fs::relative(e.path(), t).string());
    CHECK(names == std::set<std::string>{"c_new.pdf", "sub", "sub/d_new.pdf"});
}

// docs_mode auto (docs/packs.md, "Choosing the mode"): the choice itself, then the real
// documents driver over a memory store: a new store gets packs, a store of archives keeps its
// archives, a store that switched keeps its switch, and an encrypting configuration without
// an identity starts a new store in tar archives.
#include "job/docs_mode.hpp"
#include "support/real_docs_env.hpp"
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/io/age.hpp>

#include <doctest/doctest.h>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::read_file;
using dolibak::test::RealDocsEnv;
using dolibak::test::TempDir;
using dolibak::test::write_file;
using job::DocsMode;
using Kind = catalog::ObjectKind;
namespace fs = std::filesystem;

namespace {

std::vector<store::ObjectInfo> listing(const std::vector<std::string>& keys) {
    std::vector<store::ObjectInfo> out;
    for (const auto& k : keys) {
        store::ObjectInfo o;
        o.key = k;
        out.push_back(o);
    }
    return out;
}

struct Site {
    TempDir dir;
    fs::path root = dir / "documents";
    store::MemoryStore mem{"docs-mode"};
    sim::ManualClock clock{sim::at(2026, 3, 1)};
    io::AgeKeyPair key = io::age_generate_key();
    std::vector<std::string> messages;
    int day = 0;

    Site() {
        fs::create_directories(root / "facture/FA2603-0001");
        write_file(root / "install.lock", "");
        write_file(root / "facture/FA2603-0001/FA2603-0001.pdf", random_bytes(30'000, 1));
    }
    job::Config config(DocsMode mode) {
        job::Config c;
        c.store_url = "mem://docs-mode";
        job::DocumentsSettings d;
        d.root = root;
        d.mode = mode;
        c.docs = d;
        c.on_event = [this](const job::Event& e) { messages.push_back(e.message); };
        return c;
    }
    /// A new invoice, then a backup a day later; the documents half's new key.
    std::string backup(const job::Config& c) {
        ++day;
        write_file(root / ("facture/FA2603-0001/day" + std::to_string(day) + ".pdf"),
                   random_bytes(10'000, 100 + day));
        clock.set(sim::at(2026, 3, 1 + day));
        RealDocsEnv env(mem, clock, c);
        job::Job job(c, env);
        const auto r = job.backup({});
        REQUIRE(r.ok());
        for (const auto& h : r.halves)
            if (h.half == "docs") {
                REQUIRE(h.outcome == job::HalfReport::Outcome::uploaded);
                return h.key;
            }
        FAIL("no documents half");
        return {};
    }
    bool said(const std::string& part) const {
        for (const auto& m : messages)
            if (m.find(part) != std::string::npos) return true;
        return false;
    }
};

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

TEST_CASE("docs_mode: configured modes are taken as they are; auto follows the store") {
    using job::detail::choose_docs_mode;
    for (bool encrypting : {false, true})
        for (bool identity : {false, true})
            for (std::optional<Kind> newest :
                 {std::optional<Kind>{}, std::optional<Kind>{Kind::docs_index},
                  std::optional<Kind>{Kind::docs_tar_gz}}) {
                CAPTURE(encrypting);
                CAPTURE(identity);
                CHECK(!choose_docs_mode(DocsMode::tar, newest, encrypting, identity).packs);
                CHECK(choose_docs_mode(DocsMode::packs, newest, encrypting, identity).packs);
                CHECK(choose_docs_mode(DocsMode::tar, newest, encrypting, identity).reason.empty());
                CHECK(
                    choose_docs_mode(DocsMode::packs, newest, encrypting, identity).reason.empty());
            }
    // A new store: packs, unless the runs are encrypted and no identity could read them back.
    CHECK(choose_docs_mode(DocsMode::automatic, std::nullopt, false, false).packs);
    CHECK(choose_docs_mode(DocsMode::automatic, std::nullopt, true, true).packs);
    const auto no_identity = choose_docs_mode(DocsMode::automatic, std::nullopt, true, false);
    CHECK(!no_identity.packs);
    CHECK(no_identity.reason.find("age_identity_file") != std::string::npos);
    // A store with runs keeps their kind, encrypted or not, identity or not (an encrypted
    // store in packs without the identity is refused later, by the identity check).
    for (bool encrypting : {false, true})
        for (bool identity : {false, true}) {
            CHECK(choose_docs_mode(DocsMode::automatic, Kind::docs_index, encrypting, identity)
                      .packs);
            CHECK(!choose_docs_mode(DocsMode::automatic, Kind::docs_tar_zst, encrypting, identity)
                       .packs);
            CHECK(!choose_docs_mode(DocsMode::automatic, Kind::docs_tar_gz, encrypting, identity)
                       .packs);
            // Following the store is not worth a line in every run's log.
            CHECK(choose_docs_mode(DocsMode::automatic, Kind::docs_index, encrypting, identity)
                      .reason.empty());
        }
}

TEST_CASE("docs_mode auto: the newest documents object decides, whatever else is listed") {
    using job::detail::newest_documents_kind;
    CHECK(!newest_documents_kind({}));
    CHECK(!newest_documents_kind(listing({"docs/notes.txt", "docs/latest.tar.gz"})));
    CHECK(newest_documents_kind(
              listing({"docs/20250101T020000Z.tar.gz", "docs/20260301T020000Z.index.zst.age",
                       "docs/20990101T020000Z-backup.txt"})) == Kind::docs_index);
    // Listed out of order (a store need not sort): the newest time stamp wins.
    CHECK(newest_documents_kind(
              listing({"docs/20260302T020000Z.tar.zst.age", "docs/20260301T020000Z.index.zst"})) ==
          Kind::docs_tar_zst);
}

TEST_CASE("docs_mode auto: a new store in packs, a store of archives kept, a switch kept") {
    SUBCASE("a new store") {
        Site site;
        const auto first = site.backup(site.config(DocsMode::automatic));
        CHECK(ends_with(first, ".index.zst"));
        CHECK(site.said("docs_mode auto: a new store, so the documents go in packs"));
        site.messages.clear();
        CHECK(ends_with(site.backup(site.config(DocsMode::automatic)), ".index.zst"));
        CHECK(!site.said("docs_mode auto"));  // said once, for the store's first run
        // The runs restore (the latest, through the default mode's Job).
        auto c = site.config(DocsMode::automatic);
        RealDocsEnv env(site.mem, site.clock, c);
        job::Job job(c, env);
        CHECK(job.verify().ok());
        job::RestoreDocsOptions o;
        o.target = site.dir / "out";
        job.restore_docs(o);
        CHECK(read_file(site.dir / "out/facture/FA2603-0001/day2.pdf") ==
              read_file(site.root / "facture/FA2603-0001/day2.pdf"));
    }
    SUBCASE("archives stay archives until packs are asked for; then the store stays in packs") {
        Site site;
        CHECK(ends_with(site.backup(site.config(DocsMode::tar)), ".tar.zst"));
        CHECK(ends_with(site.backup(site.config(DocsMode::automatic)), ".tar.zst"));
        CHECK(!site.said("a new store"));
        CHECK(ends_with(site.backup(site.config(DocsMode::packs)), ".index.zst"));
        CHECK(ends_with(site.backup(site.config(DocsMode::automatic)), ".index.zst"));
        CHECK(ends_with(site.backup(site.config(DocsMode::tar)), ".tar.zst"));
        CHECK(ends_with(site.backup(site.config(DocsMode::automatic)), ".tar.zst"));
        auto c = site.config(DocsMode::automatic);
        RealDocsEnv env(site.mem, site.clock, c);
        job::Job job(c, env);
        const auto runs = job.list().runs;
        REQUIRE(runs.size() == 6);
        for (const auto& run : runs) {
            const auto verified = job.verify(format_timestamp(run.time));
            CHECK(verified.ok());
            CHECK(verified.objects.size() == 1);
        }
    }
}

TEST_CASE("check: a store that cannot be listed is taken as a new store by docs_mode auto") {
    Site site;
    store::FaultStore faulty{site.mem};
    faulty.hook(
        store::FaultStore::Op::list, 1, [] { throw Error("the store cannot be listed"); }, true);
    auto c = site.config(DocsMode::automatic);
    c.encryption.recipients = {site.key.recipient};
    auto item = [&](const job::CheckReport& r) {
        for (const auto& i : r.items)
            if (i.name == "encryption") return i;
        FAIL("no encryption item");
        return job::CheckItem{};
    };
    {
        // No identity: a new store's runs would be tar archives, which need none.
        RealDocsEnv env(faulty, site.clock, c);
        const auto it = item(job::Job(c, env).check());
        CHECK(it.ok);
        CHECK(it.detail.find("no identity") != std::string::npos);
    }
    {
        // An identity for none of the recipients: a new store's runs would be packs, which
        // the next run could not read.
        c.encryption.identities = {io::age_generate_key().identity};
        RealDocsEnv env(faulty, site.clock, c);
        const auto it = item(job::Job(c, env).check());
        CHECK_FALSE(it.ok);
        CHECK(it.detail.find("age_identity_file") != std::string::npos);
    }
}

TEST_CASE("docs_mode auto with age_recipients: tar archives without an identity, else packs") {
    SUBCASE("no identity: a new store starts in archives, and says why") {
        Site site;
        auto c = site.config(DocsMode::automatic);
        c.encryption.recipients = {site.key.recipient};
        CHECK(ends_with(site.backup(c), ".tar.zst.age"));
        CHECK(site.said("no age_identity_file is given"));
        CHECK(site.mem.list("packs/").empty());
        // Given the identity later, the store keeps its archives.
        c.encryption.identities = {site.key.identity};
        CHECK(ends_with(site.backup(c), ".tar.zst.age"));
    }
    SUBCASE("with the identity: packs; a packs store whose identity went is refused") {
        Site site;
        auto c = site.config(DocsMode::automatic);
        c.encryption.recipients = {site.key.recipient};
        c.encryption.identities = {site.key.identity};
        CHECK(ends_with(site.backup(c), ".index.zst.age"));
        CHECK(!site.mem.list("packs/").empty());
        c.encryption.identities.clear();
        const auto before = site.mem.list("").size();
        site.clock.set(sim::at(2026, 4, 1));
        RealDocsEnv env(site.mem, site.clock, c);
        job::Job job(c, env);
        CHECK_THROWS_WITH_AS(job.backup({}), doctest::Contains("age_identity_file"), ConfigError);
        CHECK(site.mem.list("").size() == before);  // refused before the lock
    }
}
